"""The bulk helpers: the cyclic collector paused only for its block, SQLite's checkpoint
after a large commit run in the background; nothing is lost either way."""

import gc
import os
import sqlite3
import subprocess
import sys
import threading
import weakref
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from django.db import connection, transaction

from bulwark.core import bulk
from bulwark.intel.models import Value


def test_loads_parses_and_restores_the_collector() -> None:
    assert gc.isenabled()
    assert bulk.loads(b'{"objects": [{"id": 1}, {"id": 2}]}') == {"objects": [{"id": 1}, {"id": 2}]}
    assert gc.isenabled()


def test_broken_json_raises_and_restores_the_collector() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        bulk.loads(b'{"objects": [')
    assert gc.isenabled()


def test_pause_nests_and_keeps_a_disabled_collector_disabled() -> None:
    with bulk.collector_paused():
        assert not gc.isenabled()
        with bulk.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block does not restart it early
    assert gc.isenabled()
    gc.disable()
    try:
        with bulk.collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had paused it keeps it paused
    finally:
        gc.enable()


def test_cycles_made_while_paused_are_collected_afterwards() -> None:
    class Node:
        other: "Node"

    with bulk.collector_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # a cycle: only the collector frees it
    gc.collect()
    assert gone() is None


def _autocheckpoint() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return int(cursor.fetchone()[0])


def _values(n: int, start: int = 0) -> list[Value]:
    return [Value(kind="domain", value=f"host{i}.example.org") for i in range(start, start + n)]


@pytest.mark.django_db(transaction=True)
def test_a_large_commit_is_kept_and_checkpointed_in_the_background() -> None:
    with bulk.checkpoint_later(), transaction.atomic():
        if connection.vendor == "sqlite":
            assert _autocheckpoint() == 0  # this commit leaves the checkpoint to the thread
        Value.objects.bulk_create(_values(20_000))
    assert Value.objects.count() == 20_000
    if connection.vendor != "sqlite":
        return  # PostgreSQL checkpoints on its own; nothing to move
    assert _autocheckpoint() == bulk.WAL_AUTOCHECKPOINT
    assert bulk.checkpointer.wait()
    # The database file alone (immutable: SQLite reads no write-ahead log) holds the rows:
    # the background thread copied them there.
    path = str(connection.settings_dict["NAME"])
    with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as file_only:
        assert file_only.execute("SELECT count(*) FROM intel_value").fetchone() == (20_000,)


@pytest.mark.django_db(transaction=True)
def test_a_failed_transaction_loses_nothing_else_and_restores_the_setting() -> None:
    Value.objects.bulk_create(_values(10))
    with pytest.raises(RuntimeError), bulk.checkpoint_later(), transaction.atomic():
        Value.objects.bulk_create(_values(1000, start=10))
        raise RuntimeError("the store failed half-way")
    assert Value.objects.count() == 10
    if connection.vendor == "sqlite":
        assert _autocheckpoint() == bulk.WAL_AUTOCHECKPOINT
    with bulk.checkpoint_later(), transaction.atomic():
        Value.objects.bulk_create(_values(5, start=10))
    assert Value.objects.count() == 15


@pytest.mark.django_db
def test_inside_an_enclosing_transaction_the_commit_checkpoints_as_usual() -> None:
    with bulk.checkpoint_later():
        if connection.vendor == "sqlite":
            assert _autocheckpoint() == bulk.WAL_AUTOCHECKPOINT
        Value.objects.bulk_create(_values(3))
    assert Value.objects.count() == 3


def test_quick_handoff_restores_the_switch_interval_when_the_last_block_ends() -> None:
    before = sys.getswitchinterval()
    entered, release = threading.Event(), threading.Event()

    def other_thread() -> None:
        with bulk.quick_handoff():
            entered.set()
            release.wait(5)

    worker = threading.Thread(target=other_thread)
    with bulk.quick_handoff():
        assert sys.getswitchinterval() == pytest.approx(bulk.QUICK_SWITCH_SECONDS)
        worker.start()
        assert entered.wait(5)
    # This block ended first: the other thread's block still runs with the short interval.
    assert sys.getswitchinterval() == pytest.approx(bulk.QUICK_SWITCH_SECONDS)
    release.set()
    worker.join(5)
    assert sys.getswitchinterval() == pytest.approx(before)
    with pytest.raises(RuntimeError), bulk.quick_handoff():
        raise RuntimeError("the store failed")
    assert sys.getswitchinterval() == pytest.approx(before)


WEB_PROCESS = """
import gc, sys
import bulwark.wsgi  # what gunicorn, waitress (demo) and runserver load
from bulwark.core import bulk
with bulk.collector_paused():
    collecting = gc.isenabled()
with bulk.quick_handoff():
    interval = sys.getswitchinterval()
print(collecting, interval)
"""


def test_a_web_server_process_never_tunes_itself_process_wide() -> None:
    """Issue 21: a request thread pausing the collector or shortening the switch interval
    changed how every other request thread of the worker ran."""
    src = str(Path(bulk.__file__).resolve().parents[2])  # the code under test
    env = {**os.environ, "PYTHONPATH": src, "DJANGO_SETTINGS_MODULE": "bulwark.settings"}
    out = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    assert out == ["True", str(sys.getswitchinterval())]
    # ... where a worker or CLI process (this one) still does
    with bulk.collector_paused():
        assert not gc.isenabled()
    with bulk.quick_handoff():
        assert sys.getswitchinterval() == bulk.QUICK_SWITCH_SECONDS
