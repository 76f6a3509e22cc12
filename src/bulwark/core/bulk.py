"""Helpers for handling large documents in one go (bundles, MISP events, uploads): the
garbage collector paused while they are parsed and stored, and SQLite's checkpoint after
their commit moved to a background thread.

A large JSON document becomes hundreds of thousands of small containers that all stay
alive together. While they are made, CPython's cyclic garbage collector runs every few
hundred allocations and, as the heap grows, walks the whole heap again and again for
nothing: parsing a 46 MB STIX bundle took 0.7-1.1 s in a Django process with the collector
running and 0.14 s with it paused. Pausing it around such work is safe: nothing made
meanwhile is lost, and any reference cycles are collected once it runs again.

Both of these tune the whole process, every thread of it. They apply only in processes that
do bulk work (the CLI, the scheduler and stream workers, tests): a web worker's request
thread must not change how the worker's other request threads run, so importing the WSGI
module (`bulwark.wsgi`, which every web server here loads) turns them off for that process
(`serving_requests`). Parsing a large upload in a web request is then slower (see above),
which is why big intake is queued for workers.
"""

import gc
import logging
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connections

__all__ = [
    "checkpoint_later",
    "checkpointer",
    "collector_paused",
    "insert_rows",
    "loads",
    "quick_handoff",
    "serving_requests",
]

# Whether this process may tune itself process-wide (see the module's docstring).
_process_tuning = True


def serving_requests() -> None:
    """Mark this process as a web server: `collector_paused` and `quick_handoff` become
    no-ops in it."""
    global _process_tuning
    _process_tuning = False


def process_tuning() -> bool:
    return _process_tuning


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (if it runs) for the block; nestable. Does
    nothing in a web server process."""
    if not _process_tuning:
        yield
        return
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


QUICK_SWITCH_SECONDS = 0.0005
_handoff_lock = threading.Lock()
_handoff_users = 0
_handoff_saved = 0.0


@contextmanager
def quick_handoff() -> Iterator[None]:
    """A short interpreter switch interval (0.5 ms instead of 5 ms) for the block.

    When one thread parses and another waits for the database, the waiting thread gets
    the GIL back only when the parser is made to drop it: after each round trip it
    waited up to the switch interval with the answer in hand. The exchange pipeline made
    several round trips per batch and went from 32.9 k to 38.6 k events/s with the
    shorter interval. Counted, so that blocks overlapping in several threads restore the
    setting once, when the last one ends. Does nothing in a web server process."""
    global _handoff_users, _handoff_saved
    if not _process_tuning:
        yield
        return
    with _handoff_lock:
        if _handoff_users == 0:
            _handoff_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_handoff_saved, QUICK_SWITCH_SECONDS))
        _handoff_users += 1
    try:
        yield
    finally:
        with _handoff_lock:
            _handoff_users -= 1
            if _handoff_users == 0:
                sys.setswitchinterval(_handoff_saved)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """`orjson.loads` with the collector paused; raises orjson.JSONDecodeError."""
    with collector_paused():
        return orjson.loads(data)


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Many rows into one table in one go, without the ORM's work per object and field
    (which costs about 50 us a row): COPY on PostgreSQL (one round trip), one prepared
    statement stepped per row on SQLite. Values are in the database's form already
    (datetimes through `connection.ops.adapt_datetimefield_value`); defaults are not
    filled in. A violated constraint raises Django's IntegrityError, as a save would."""
    if not rows:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    names = ",".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            driver: Any = cursor.cursor
            with (
                connection.wrap_database_errors,
                driver.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({','.join(['%s'] * len(columns))})",  # noqa: S608
            rows,
        )


# --- SQLite: the checkpoint after a large commit, off the writer's path ------------------

logger = logging.getLogger(__name__)
WAL_AUTOCHECKPOINT = 1000  # SQLite's default, in pages


class _Checkpointer:
    """One daemon thread that runs `PRAGMA wal_checkpoint(PASSIVE)` on request, with its
    own connection. A passive checkpoint copies committed pages from the write-ahead log
    into the database without waiting for, or blocking, readers and writers; SQLite does
    the work with the GIL released, so it runs on another core than the request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wanted: set[str] = set()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def request(self, path: str) -> None:
        with self._lock:
            self._wanted.add(path)
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="bulwark-sqlite-checkpoint", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def wait(self, timeout: float = 30.0) -> bool:
        """Until every requested checkpoint has run (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                paths, self._wanted = self._wanted, set()
            for path in paths:
                try:
                    with closing(sqlite3.connect(path, timeout=20)) as db:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # the next commit's own checkpoint catches up
                    logger.warning("background checkpoint of %s failed", path, exc_info=True)
            with self._lock:
                if not self._wanted:
                    self._idle.set()


checkpointer = _Checkpointer()


@contextmanager
def checkpoint_later(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Around an outermost transaction that writes a lot to SQLite: its commit skips the
    automatic checkpoint (about 0.25 s after a 100 k-object store, on the writer's clock)
    and a background thread checkpoints instead. Elsewhere (PostgreSQL, or inside an
    enclosing transaction, whose own commit checkpoints as usual) it does nothing."""
    connection = connections[using]
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    # On the driver's connection: Django refuses queries in a broken transaction, and the
    # setting must be restored whatever happened inside.
    raw.execute("PRAGMA wal_autocheckpoint=0")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
        checkpointer.request(str(connection.settings_dict["NAME"]))
