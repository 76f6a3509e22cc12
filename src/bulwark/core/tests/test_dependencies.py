"""Every third-party module that production code imports is a declared runtime dependency.

A production install (`pip install bulwark`, no extras) gets only `[project].dependencies`;
a module that only the dev extra brings in works in every test and breaks the first real
deployment (exchange/taxii_client.py imported taxii2-client, a dev dependency, so the URLs of a
production install could not load). The scan reads the source with `ast`, so imports
inside functions count too, and it needs no clean virtualenv: .ci/wheel_install.sh does
the real install.
"""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from django.conf import settings
from packaging.requirements import Requirement

PACKAGE = Path(__file__).resolve().parents[2]  # src/bulwark
PYPROJECT = PACKAGE.parents[1] / "pyproject.toml"
# Cython's compile-time modules (`cimport`), not Python imports.
CYTHON_ONLY = {"cython", "libc", "cpython", "libcpp", "posix"}
PYX_IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)(?!.*\bcimport\b)", re.M)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_dependencies() -> set[str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return {normalise(Requirement(spec).name) for spec in project["dependencies"]}


def is_production_source(path: Path) -> bool:
    parts = path.relative_to(PACKAGE).parts
    return "tests" not in parts and path.name != "conftest.py"


def imported_modules() -> dict[str, set[str]]:
    """Top-level module name -> the files (relative to the package) that import it."""
    found: dict[str, set[str]] = {}

    def note(module: str, path: Path) -> None:
        found.setdefault(module, set()).add(str(path.relative_to(PACKAGE)))

    for path in sorted(PACKAGE.rglob("*.py")):
        if not is_production_source(path):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    note(alias.name.split(".")[0], path)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                note(node.module.split(".")[0], path)
    for path in sorted(PACKAGE.rglob("*.pyx")):
        for module in PYX_IMPORT.findall(path.read_text()):
            if module not in CYTHON_ONLY:
                note(module, path)
    # Django imports these by name from the settings.
    named = [*settings.INSTALLED_APPS, *settings.MIDDLEWARE]
    named += [backend["BACKEND"] for backend in settings.TASKS.values()]
    for dotted in named:
        note(dotted.split(".")[0], PACKAGE / "settings.py")
    return found


def third_party(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        name: files
        for name, files in modules.items()
        if name not in sys.stdlib_module_names and name != "bulwark" and name != "__future__"
    }


def test_the_scan_sees_imports_inside_functions_and_settings() -> None:
    """The scan itself: a scan that found nothing would pass every check below."""
    modules = third_party(imported_modules())
    assert "exchange/taxii_client.py" in modules["taxii2client"]
    assert "exchange/notify.py" not in modules.get("taxii2client", set())
    assert "advisories/matching.py" in modules["packaging"]
    assert "settings.py" in modules["whitenoise"]  # named in MIDDLEWARE only
    assert "pytest" not in modules and "factory" not in modules  # tests are not scanned
    assert "numpy" in modules  # the .pyx module's runtime import


def test_every_third_party_import_is_a_declared_runtime_dependency() -> None:
    declared = runtime_dependencies()
    providers = importlib.metadata.packages_distributions()
    undeclared: list[str] = []
    for module, files in sorted(third_party(imported_modules()).items()):
        distributions = {normalise(d) for d in providers.get(module, [])}
        if not distributions:
            undeclared.append(f"{module} (not installed at all), imported by {sorted(files)}")
        elif not distributions & declared:
            undeclared.append(
                f"{module} (from {', '.join(sorted(distributions))}), imported by {sorted(files)}"
            )
    assert not undeclared, (
        "production code imports modules that are not in pyproject's [project].dependencies: "
        + "; ".join(undeclared)
    )
