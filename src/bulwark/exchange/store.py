"""Storing a batch: one transaction; the dedupe key is a unique column.

PostgreSQL: look up which of the batch's keys are stored, then COPY the rest straight into
the event table. If another worker stored one of them in between, the unique index
refuses the COPY, the transaction rolls back and the batch is stored again through the
atomic claim: COPY into a temporary table, then `INSERT ... SELECT ... ON CONFLICT
(dedupe_key) DO NOTHING RETURNING dedupe_key`. SQLite (>= 3.35) takes the claim directly
(`INSERT ... VALUES ... ON CONFLICT`). Either way exactly one worker stores an event.
A conflict with a row of the *same report and record* is a replay after a crash (counted
as the event it was), with any other row a duplicate.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction

from bulwark.exchange.engine.formats.base import clip
from bulwark.exchange.engine.pipeline import Batch
from bulwark.exchange.engine.rows import COLUMNS, COPY_COLUMNS, Tally, encode, encoded
from bulwark.exchange.models import Event, Quarantined

__all__ = ["Counts", "encoded", "store_batch"]

ROWS_PER_STATEMENT = 500  # 22 columns x 500 rows stays under SQLite's 32766 parameters


@dataclass
class Counts:
    read: int = 0
    events: int = 0
    routed: int = 0
    unrouted: int = 0
    suppressed: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_lines: list[int] = field(default_factory=list)
    by_recipient: dict[int, int] = field(default_factory=dict)

    def add(self, other: "Counts") -> None:
        for name in ("read", "events", "routed", "unrouted", "suppressed", "duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected += other.rejected
        self.rejected_lines.extend(other.rejected_lines)
        for key, value in other.by_recipient.items():
            self.by_recipient[key] = self.by_recipient.get(key, 0) + value

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "events": self.events,
            "routed": self.routed,
            "unrouted": self.unrouted,
            "suppressed": self.suppressed,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejected_lines": self.rejected_lines[:1000],
        }


def _hex(key: Any) -> str:
    """Dedupe keys are UUID columns: uuid objects on PostgreSQL, hex text on SQLite."""
    return key.hex if isinstance(key, uuid.UUID) else str(key).replace("-", "")


def _insert(rows: list[tuple[Any, ...]]) -> set[str]:
    """Insert what is new; return the dedupe keys that were inserted."""
    table = Event._meta.db_table
    one = "(" + ",".join(["%s"] * len(COLUMNS)) + ")"
    inserted: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            sql = (
                f"INSERT INTO {table} ({','.join(COLUMNS)}) VALUES "  # noqa: S608
                f"{','.join([one] * len(chunk))} "
                "ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
            )
            cursor.execute(sql, [v for row in chunk for v in row])
            inserted.update(_hex(key) for (key,) in cursor.fetchall())
    return inserted


def _stored(keys: list[str]) -> dict[str, tuple[int, int]]:
    """The events already stored under these dedupe keys: key -> (report, record).

    On PostgreSQL the keys travel as one text parameter and are looked up one by one in
    the unique index: with `dedupe_key = ANY(<5,000 keys>)` (what `__in` becomes) the
    planner chose to scan the whole table (19 ms a batch at 95 k events, growing with the
    table; 7 ms this way, at any size)."""
    if not keys:
        return {}
    if connection.vendor != "postgresql":
        found: dict[str, tuple[int, int]] = {}
        for start in range(0, len(keys), ROWS_PER_STATEMENT):
            rows = Event.objects.filter(
                dedupe_key__in=keys[start : start + ROWS_PER_STATEMENT]
            ).values_list("dedupe_key", "report_id", "record_no")
            found.update((_hex(key), (report, record)) for key, report, record in rows)
        return found
    table = Event._meta.db_table
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute(
            f"SELECT dedupe_key, report_id, record_no FROM {table} "  # noqa: S608
            "WHERE dedupe_key IN (SELECT unnest(string_to_array(%s, ',')::uuid[]))",
            [",".join(keys)],
        )
        return {_hex(key): (report, record) for key, report, record in cursor.fetchall()}


def _copy_postgresql(data: bytes) -> None:
    """COPY straight into the event table. A row whose key another worker stored since
    `_stored` looked makes the whole COPY fail with an IntegrityError."""
    table = Event._meta.db_table
    statement = f"COPY {table} ({','.join(COPY_COLUMNS)}) FROM STDIN"
    with (
        connection.cursor() as wrapper,
        connection.wrap_database_errors,
        wrapper.cursor.copy(statement) as copy,
    ):
        copy.write(data)


def _insert_postgresql(data: bytes) -> set[str]:
    """COPY into a session temporary table, then one INSERT ... SELECT ... ON CONFLICT:
    the atomic claim on the unique key when workers race for the same events."""
    table = Event._meta.db_table
    columns = ",".join(COPY_COLUMNS)
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor, for COPY
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {table}_in AS "  # noqa: S608
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {table}_in ({columns}) FROM STDIN") as copy:
            copy.write(data)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_in "  # noqa: S608
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
        )
        inserted = {_hex(key) for (key,) in cursor.fetchall()}
        cursor.execute(f"TRUNCATE {table}_in")
    return inserted


def _quarantine(report_id: int, rejected: list[Any]) -> None:
    if rejected:
        Quarantined.objects.bulk_create(
            [
                Quarantined(
                    report_id=report_id,
                    record_no=item.number,
                    reason=clip(item.error or "")[:2000],
                    raw=clip(item.raw),
                )
                for item in rejected
            ],
            ignore_conflicts=True,
        )


def store_batch(report_id: int, batch: Batch) -> Counts:
    counts = Counts(read=len(batch), rejected=len(batch.rejected))
    counts.rejected_lines = [item.number for item in batch.rejected]
    ready = batch.encoded
    if ready is None or (ready.report_id, ready.vendor) != (report_id, connection.vendor):
        ready = encode(report_id, batch, connection.vendor)
    unique = ready.unique
    lost: dict[str, tuple[int, int]] = {}  # key -> (report, record) of the stored event
    try:
        with transaction.atomic():
            if unique and ready.vendor == "postgresql":
                # The common case, no race: look which events are stored, COPY the rest
                # straight into the table (a quarter cheaper than the claim below).
                lost = _stored(list(unique))
                new = [
                    line for key, line in zip(unique, ready.payload, strict=True) if key not in lost
                ]
                if new:
                    _copy_postgresql(b"".join(new))
            elif unique:
                inserted = _insert(ready.payload)
                lost = _stored([k for k in unique if k not in inserted])
            _quarantine(report_id, batch.rejected)
    except IntegrityError:
        if ready.vendor != "postgresql":
            raise
        # Another worker stored some of these events between the look and the COPY: claim
        # each key atomically instead.
        with transaction.atomic():
            inserted = _insert_postgresql(b"".join(ready.payload))
            lost = _stored([k for k in unique if k not in inserted])
            _quarantine(report_id, batch.rejected)
    replayed = {
        key for key, (report, record) in lost.items()
        if report == report_id and record == unique[key].number
    }  # fmt: skip
    counts.duplicates = ready.in_batch_duplicates + len(lost) - len(replayed)
    counts.events = len(unique) - len(lost) + len(replayed)
    tally = ready.tally
    if len(lost) > len(replayed):  # the batch's tally, less the events it did not store
        tally = Tally(tally.routed, tally.unrouted, tally.suppressed, dict(tally.by_recipient))
        tally.add((unique[k].route for k in lost if k not in replayed), sign=-1)
    counts.routed, counts.unrouted = tally.routed, tally.unrouted
    counts.suppressed = tally.suppressed
    counts.by_recipient = {k: v for k, v in tally.by_recipient.items() if v}
    return counts
