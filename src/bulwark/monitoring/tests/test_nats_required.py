"""CI requires NATS as it requires the browser: a missing nats-server fails the stream
tests when BULWARK_REQUIRE_NATS=1 instead of skipping them, and only the tests that talk
to NATS depend on it."""

import inspect

import pytest

from bulwark import conftest
from bulwark.monitoring.tests import test_stream


def test_missing_nats_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "nats_running", lambda: False)
    monkeypatch.setenv("BULWARK_REQUIRE_NATS", "1")
    with pytest.raises(pytest.fail.Exception, match="BULWARK_REQUIRE_NATS=1"):
        conftest.require_nats()


def test_missing_nats_skips_when_not_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "nats_running", lambda: False)
    monkeypatch.delenv("BULWARK_REQUIRE_NATS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="nats-server is not running"):
        conftest.require_nats()


def test_running_nats_gives_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "nats_running", lambda: True)
    monkeypatch.setenv("BULWARK_REQUIRE_NATS", "1")
    assert conftest.require_nats() == "nats://127.0.0.1:4222"


def test_only_the_nats_tests_depend_on_nats() -> None:
    """The module used to carry a module-wide skipif, which also skipped the directory
    worker and the batching tests when no nats-server was running."""
    assert not getattr(test_stream, "pytestmark", None)
    needs = {
        name: bool({"platform", "nats_url"} & set(inspect.signature(fn).parameters))
        for name, fn in vars(test_stream).items()
        if name.startswith("test_")
    }
    assert needs == {
        "test_two_workers_one_killed_mid_batch_every_line_once": True,
        "test_indicator_update_reaches_running_worker": True,
        "test_directory_worker_archives_and_hunt_finds_old_contacts": False,
        "test_batches_fit_the_size_and_keep_every_line": False,
        "test_publish_default_batches_fit_the_server_limit": True,
    }
