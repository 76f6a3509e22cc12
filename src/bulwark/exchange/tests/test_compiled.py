"""The exchange's hot path runs compiled (setup.py compiles the modules it lists in
COMPILED_SOURCES with Cython), and never from a compiled copy older than its source."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]


def _compiled_sources() -> list[str]:
    """setup.py's COMPILED_SOURCES, read without running setup.py."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and getattr(node.targets[0], "id", "") == "COMPILED_SOURCES"
        ):
            names: list[str] = ast.literal_eval(node.value)
            return names
    raise AssertionError("setup.py has no COMPILED_SOURCES")


HOT_PATH = _compiled_sources()


def test_the_exchange_hot_path_is_in_the_list() -> None:
    assert {"bulwark.exchange.engine.event", "bulwark.exchange.engine.rows"} <= set(HOT_PATH)


@pytest.mark.parametrize("name", HOT_PATH)
def test_hot_path_module_is_compiled_from_its_current_source(name: str) -> None:
    module = importlib.import_module(name)
    compiled = Path(str(module.__file__))
    source = ROOT / "src" / (name.replace(".", "/") + ".py")
    assert compiled.suffix == ".so", f"{name} is not compiled: run `make install`"
    assert compiled.stat().st_mtime >= source.stat().st_mtime, (
        f"{compiled.name} is older than {source.name}: run `make install` to rebuild it"
    )
