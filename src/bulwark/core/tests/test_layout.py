"""Every app has the same file set (src/bulwark/layout.toml, CONTRIBUTING.md): a required
module that is missing, or a module that is neither standard nor declared with its reason,
fails here, so the layout cannot drift silently again (issue 21)."""

import tomllib
from pathlib import Path
from typing import Any

import pytest

PACKAGE = Path(__file__).resolve().parents[2]
LAYOUT = PACKAGE / "layout.toml"


def entries(folder: Path, *, suffixes: tuple[str, ...] = (".py",)) -> set[str]:
    """The modules and directories in `folder` and in its api/: `x.py`, `dir/`, `api/x.py`.
    Build output (compiled extensions, caches) is not part of the layout, and neither is a
    directory that holds nothing but caches (left over after a rename)."""
    found = set()
    api = folder / "api"
    for path in [*folder.iterdir(), *(api.iterdir() if api.is_dir() else [])]:
        name = path.relative_to(folder).as_posix()
        if path.is_dir():
            if path.name != "__pycache__" and any(p.name != "__pycache__" for p in path.iterdir()):
                found.add(name + "/")
        elif path.suffix in suffixes:
            found.add(name)
    return found


def problems(root: Path, layout: dict[str, Any]) -> list[str]:
    """What in `root` (a package like src/bulwark) breaks `layout`, one line each."""
    required = set(layout["files"]["required"])
    standard = set(layout["files"]["standard"])
    apps_spec = layout.get("apps", {})
    project = layout.get("project", {})
    found: list[str] = []
    apps = sorted(p for p in root.iterdir() if (p / "apps.py").is_file())
    for name in sorted(set(apps_spec) - {app.name for app in apps}):
        found.append(f"layout.toml declares an app {name!r} that does not exist")
    for app in apps:
        spec = apps_spec.get(app.name, {})
        domain, exempt = spec.get("domain", {}), spec.get("exempt", {})
        present = entries(app)
        # A required or standard module may grow into a package of the same name
        # (advisories/services/, analytics/demo/).
        grown = {m for m in present if m.endswith("/") and m[:-1] + ".py" in required | standard}
        present = (present - grown) | {m[:-1] + ".py" for m in grown}
        for module in sorted(required - present - set(exempt)):
            found.append(f"{app.name}/{module} is missing (required by layout.toml)")
        for module in sorted(set(exempt) & present):
            found.append(
                f"{app.name}/{module} exists: remove it from [apps.{app.name}.exempt]"
                " in layout.toml"
            )
        for module in sorted(set(exempt) - required):
            found.append(f"[apps.{app.name}.exempt] names {module}, which is not required")
        for module in sorted(present - required - standard - set(domain)):
            found.append(
                f"{app.name}/{module} is not a standard module: give it a standard name or"
                f" declare it, with why it exists, under [apps.{app.name}.domain] in layout.toml"
            )
        for module in sorted(set(domain) - present):
            found.append(f"[apps.{app.name}.domain] declares {module}, which does not exist")
        for module in sorted(set(domain) & (required | standard)):
            found.append(f"[apps.{app.name}.domain] declares {module}, a standard name")
    top = {n for n in entries(root, suffixes=(".py", ".toml")) if not n.startswith("api/")}
    for name in sorted(top - set(project) - {app.name + "/" for app in apps}):
        found.append(f"{name} in {root.name}/ is neither an app nor declared under [project]")
    return found


@pytest.fixture(scope="module")
def layout() -> dict[str, Any]:
    return tomllib.loads(LAYOUT.read_text())


def test_every_app_follows_the_layout(layout: dict[str, Any]) -> None:
    assert problems(PACKAGE, layout) == []


def test_every_declared_module_says_why(layout: dict[str, Any]) -> None:
    reasons = [*layout["project"].values()]
    for spec in layout["apps"].values():
        reasons += [*spec.get("domain", {}).values(), *spec.get("exempt", {}).values()]
    assert all(isinstance(r, str) and len(r.split()) >= 2 for r in reasons)


def test_model_names_are_unique_across_apps() -> None:
    """`Category` in two apps made every import site alias it; the last two clashes
    (`Notification`, `Sighting`) were renamed in session 29, keeping their former audit
    labels (core.models.audit_labels)."""
    from django.apps import apps

    by_name: dict[str, list[str]] = {}
    for model in apps.get_models():
        if model.__module__.startswith("bulwark."):
            by_name.setdefault(model.__name__, []).append(model._meta.label)
    clashes = {name for name, labels in by_name.items() if len(labels) > 1}
    assert not clashes, {name: by_name[name] for name in clashes}


# The checker itself, on a tiny package.

SMALL = {
    "files": {
        "required": ["apps.py", "models.py", "services.py", "api/", "api/routes.py"],
        "standard": ["tasks.py"],
    },
    "apps": {"shop": {"domain": {"pricing.py": "prices with taxes"}}},
    "project": {"settings.py": "settings"},
}


def make_app(root: Path, *modules: str) -> Path:
    app = root / "shop"
    (app / "api").mkdir(parents=True)
    for module in ("apps.py", *modules):
        (app / module).write_text("")
    (root / "settings.py").write_text("")
    return app


def test_a_complete_app_passes(tmp_path: Path) -> None:
    make_app(tmp_path, "models.py", "services.py", "api/routes.py", "tasks.py", "pricing.py")
    (tmp_path / "shop" / "__pycache__").mkdir()
    (tmp_path / "shop" / "models.cpython-311-x86_64-linux-gnu.so").write_text("")
    assert problems(tmp_path, SMALL) == []


def test_a_missing_required_module_fails(tmp_path: Path) -> None:
    make_app(tmp_path, "models.py", "api/routes.py", "pricing.py")
    assert problems(tmp_path, SMALL) == ["shop/services.py is missing (required by layout.toml)"]


def test_an_api_module_instead_of_a_package_fails(tmp_path: Path) -> None:
    app = make_app(tmp_path, "models.py", "services.py", "pricing.py", "api.py")
    (app / "api").rmdir()
    assert problems(tmp_path, SMALL) == [
        "shop/api/ is missing (required by layout.toml)",
        "shop/api/routes.py is missing (required by layout.toml)",
        "shop/api.py is not a standard module: give it a standard name or declare it,"
        " with why it exists, under [apps.shop.domain] in layout.toml",
    ]


def test_a_stray_module_fails(tmp_path: Path) -> None:
    make_app(tmp_path, "models.py", "services.py", "api/routes.py", "pricing.py", "helpers.py")
    (tmp_path / "shop" / "api" / "misc.py").write_text("")
    assert problems(tmp_path, SMALL) == [
        "shop/api/misc.py is not a standard module: give it a standard name or declare it,"
        " with why it exists, under [apps.shop.domain] in layout.toml",
        "shop/helpers.py is not a standard module: give it a standard name or declare it,"
        " with why it exists, under [apps.shop.domain] in layout.toml",
    ]


def test_a_declared_module_that_is_gone_fails(tmp_path: Path) -> None:
    make_app(tmp_path, "models.py", "services.py", "api/routes.py")
    assert problems(tmp_path, SMALL) == [
        "[apps.shop.domain] declares pricing.py, which does not exist"
    ]


def test_an_exemption_ends_when_the_module_arrives(tmp_path: Path) -> None:
    make_app(tmp_path, "models.py", "services.py", "api/routes.py", "pricing.py")
    layout = {
        **SMALL,
        "apps": {"shop": {**SMALL["apps"]["shop"], "exempt": {"services.py": "later"}}},
    }
    assert problems(tmp_path, layout) == [
        "shop/services.py exists: remove it from [apps.shop.exempt] in layout.toml"
    ]


def test_a_stray_project_module_fails(tmp_path: Path) -> None:
    make_app(tmp_path, "models.py", "services.py", "api/routes.py", "pricing.py")
    (tmp_path / "helpers.py").write_text("")
    (tmp_path / "shop_old" / "__pycache__").mkdir(parents=True)  # left over: not counted
    (tmp_path / "shop_old" / "__pycache__" / "models.cpython-311.pyc").write_text("")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "run.py").write_text("")
    assert problems(tmp_path, SMALL) == [
        "helpers.py in " + tmp_path.name + "/ is neither an app nor declared under [project]",
        "scripts/ in " + tmp_path.name + "/ is neither an app nor declared under [project]",
    ]
