"""The import contracts hold (docs/architecture.md, "Layers and import contracts").

`make lint` runs `lint-imports` too; here the suite fails on its own when an import breaks
a layer, reaches Django from a pure module or closes a cycle, whoever runs only pytest."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_apps_register_what_core_runs_for_them() -> None:
    """What core used to import from the apps, each app now registers (core/registry.py):
    every periodic task the scheduler enqueued before, the database figures of /metrics,
    both halves of the home page, and the rules installed by the constituency."""
    from bulwark.core import registry

    assert {task.module_path for task in registry.PERIODIC_TASKS} == {
        "bulwark.incidents.tasks.check_clocks",
        "bulwark.exchange.tasks.exchange_cycle",
        "bulwark.advisories.tasks.follow_up",
        "bulwark.analytics.tasks.send_summaries",
        "bulwark.analytics.tasks.refresh_snapshots",
        "bulwark.core.tasks.checkpoint_audit",
        "bulwark.core.tasks.send_notification_digests",
        "bulwark.constituency.tasks.purge_login_failures",
        "bulwark.monitoring.tasks.detect_behaviour",
        "bulwark.drills.tasks.send_due",
        "bulwark.training.tasks.close_expired_attempts",
        "bulwark.findings.tasks.check_deadlines",
    }
    assert {f.__module__ for f in registry.DATABASE_METRICS} == {
        "bulwark.exchange.metrics",
        "bulwark.monitoring.metrics",
        "bulwark.incidents.metrics",
    }
    assert {f.__module__ for f in registry.HOME_FIGURES} == {
        "bulwark.constituency.views",
        "bulwark.incidents.selectors",
        "bulwark.findings.selectors",
    }
    assert registry.AUDIT_READER.call.__module__ == "bulwark.constituency.access"
    assert registry.METRICS_TOKEN_REFUSAL.call.__module__.startswith("bulwark.constituency")


def test_a_registry_keeps_order_ignores_repeats_and_imports_paths_late() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from bulwark.core.registry import Hook, Registry

    found: Registry[object] = Registry("test")
    found.register("bulwark.core.fanging.read_defanged")
    found.register(len)
    found.register("bulwark.core.fanging.read_defanged")  # a ready() run twice
    from bulwark.core.fanging import read_defanged

    assert list(found) == [read_defanged, len]
    hook: Hook[object] = Hook("a test rule")
    with pytest.raises(ImproperlyConfigured, match="a test rule"):
        hook.call  # noqa: B018
    hook.install(len)
    assert hook.call is len
