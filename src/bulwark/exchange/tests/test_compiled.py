"""The exchange's hot path runs compiled (setup.py compiles these modules with Cython), and
never from a compiled copy older than its source."""

import importlib
from pathlib import Path

import pytest

HOT_PATH = [
    "bulwark.exchange.engine.event",
    "bulwark.exchange.engine.router",
    "bulwark.exchange.engine.pipeline",
    "bulwark.exchange.engine.rows",
    "bulwark.exchange.engine.formats.base",
    "bulwark.exchange.engine.formats.shadowserver",
]


@pytest.mark.parametrize("name", HOT_PATH)
def test_hot_path_module_is_compiled_from_its_current_source(name: str) -> None:
    module = importlib.import_module(name)
    compiled = Path(str(module.__file__))
    source = Path(__file__).resolve().parents[3] / (name.replace(".", "/") + ".py")
    assert compiled.suffix == ".so", f"{name} is not compiled: run `make install`"
    assert compiled.stat().st_mtime >= source.stat().st_mtime, (
        f"{compiled.name} is older than {source.name}: run `make install` to rebuild it"
    )
