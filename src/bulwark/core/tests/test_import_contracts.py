"""The import contracts hold (docs/architecture.md, "Layers and import contracts").

`make lint` runs `lint-imports` too; here the suite fails on its own when an import breaks
a layer, reaches Django from a pure module or closes a cycle, whoever runs only pytest."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent


def test_every_import_contract_is_kept() -> None:
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_exchange_engine_runs_without_django() -> None:
    """The engine says it is pure Python; it imported Django through the incidents'
    taxonomy labels (`gettext_lazy`) until the RSIT codes moved to incidents/rsit.py."""
    code = (
        "import sys\n"
        "import bulwark.exchange.engine.event, bulwark.exchange.engine.formats.iodef\n"
        "import bulwark.monitoring.engine, bulwark.core.stixpattern\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
