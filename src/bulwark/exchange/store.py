"""Storing a batch: one transaction, insert-on-conflict on the dedupe key.

`INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key` is atomic on both
SQLite (>= 3.35) and PostgreSQL: two workers storing the same event race on the unique
index and exactly one wins, the other learns it lost from the missing RETURNING row.
A lost race against a row of the *same report and record* is a replay after a crash
(counted as the event it was), against any other row a duplicate.
"""

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.db import connection, transaction

from bulwark.exchange.engine.formats.base import clip
from bulwark.exchange.engine.pipeline import Batch, Prepared
from bulwark.exchange.models import Event, Quarantined

COLUMNS = (
    "report_id", "record_no", "event_id", "dedupe_key", "taxonomy", "classification_type",
    "identifier", "source_ip", "source_port", "source_asn", "source_fqdn", "country",
    "destination_ip", "feed_name", "feed_provider", "time_source", "time_observation",
    "recipient_id", "route_via", "route_match", "suppressed_by_id", "data",
)  # fmt: skip
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


_DATETIMES: dict[str, datetime] = {}


def _dt(text: str | None) -> datetime | None:
    if not text:
        return None
    found = _DATETIMES.get(text)
    if found is None:
        if len(_DATETIMES) >= 65536:
            _DATETIMES.clear()
        found = _DATETIMES[text] = datetime.fromisoformat(text)
    return found


def _row(report_id: int, p: Prepared) -> tuple[Any, ...]:
    e = p.event
    r = p.route
    return (
        report_id, p.number, p.event_id, p.dedupe_key, e["classification.taxonomy"],
        e["classification.type"], str(e.get("classification.identifier", ""))[:100],
        e.get("source.ip"), e.get("source.port"), e.get("source.asn"),
        str(e.get("source.fqdn", ""))[:253], r.country or str(e.get("source.geolocation.cc", "")),
        e.get("destination.ip"), str(e.get("feed.name", ""))[:100],
        str(e.get("feed.provider", ""))[:200], _dt(e.get("time.source")),
        _dt(e["time.observation"]), r.recipient, r.via, r.matched[:120], r.suppressed_by,
        orjson.dumps(e).decode(),
    )  # fmt: skip


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


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> str:
    """A text value in COPY's text format."""
    if value is None:
        return "\\N"
    text = value if type(value) is str else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _plain(value: Any) -> str:
    """A value that cannot hold a special character (numbers, canonical addresses and
    times, RSIT names, hex keys)."""
    return "\\N" if value is None else str(value)


def _copy_line(report_id: int, p: Prepared) -> str:
    """The same columns as `_row`, as one line of COPY text (no per-value type dispatch:
    this runs once per stored event)."""
    e = p.event
    r = p.route
    get = e.get
    data = orjson.dumps(e).decode()
    if "\\" in data:  # orjson escapes control characters itself; only backslashes remain
        data = data.replace("\\", "\\\\")
    country = r.country or get("source.geolocation.cc") or ""
    return "\t".join(
        (
            str(report_id), str(p.number), p.event_id, p.dedupe_key,
            e["classification.taxonomy"], e["classification.type"],
            _text(str(get("classification.identifier", ""))[:100]),
            _plain(get("source.ip")), _plain(get("source.port")), _plain(get("source.asn")),
            _text(str(get("source.fqdn", ""))[:253]), _text(country),
            _plain(get("destination.ip")), _text(str(get("feed.name", ""))[:100]),
            _text(str(get("feed.provider", ""))[:200]), _plain(get("time.source")),
            e["time.observation"], _plain(r.recipient), r.via, _text(r.matched[:120]),
            _plain(r.suppressed_by), data,
        )
    ) + "\n"  # fmt: skip


def _insert_postgresql(data: bytes) -> set[str]:
    """COPY into a session temporary table, then one INSERT ... SELECT ... ON CONFLICT:
    the same atomic claim on the unique key, without binding 22 parameters per row."""
    table = Event._meta.db_table
    columns = ",".join(COLUMNS)
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


@dataclass
class Encoded:
    """A batch's events ready for the database: the first of several equal events (the
    rest are duplicates within the batch) and their rows in the vendor's form."""

    report_id: int
    vendor: str
    unique: dict[str, Prepared]
    in_batch_duplicates: int
    payload: Any  # COPY data (postgresql) or a list of row tuples


def encode(report_id: int, batch: Batch, vendor: str) -> Encoded:
    # Within one batch the first of several equal events wins, as it would across batches.
    unique: dict[str, Prepared] = {}
    for prepared in batch.events:
        unique.setdefault(prepared.dedupe_key, prepared)
    payload: Any
    if vendor == "postgresql":
        payload = "".join([_copy_line(report_id, p) for p in unique.values()]).encode()
    else:
        payload = [_row(report_id, p) for p in unique.values()]
    return Encoded(report_id, vendor, unique, len(batch.events) - len(unique), payload)


def encoded(report_id: int, batches: Iterable[Batch], vendor: str) -> Iterator[Batch]:
    """The batches with their rows encoded: run it in the parser's thread (`bounded`) so the
    storing thread only waits for the database."""
    for batch in batches:
        batch.encoded = encode(report_id, batch, vendor)
        yield batch


def store_batch(report_id: int, batch: Batch) -> Counts:
    counts = Counts(read=len(batch), rejected=len(batch.rejected))
    counts.rejected_lines = [item.number for item in batch.rejected]
    ready = batch.encoded
    if ready is None or (ready.report_id, ready.vendor) != (report_id, connection.vendor):
        ready = encode(report_id, batch, connection.vendor)
    unique = ready.unique
    with transaction.atomic():
        if not unique:
            inserted: set[str] = set()
        elif ready.vendor == "postgresql":
            inserted = _insert_postgresql(ready.payload)
        else:
            inserted = _insert(ready.payload)
        lost = [k for k in unique if k not in inserted]
        replayed: set[str] = set()
        if lost:
            for stored, report, record in Event.objects.filter(dedupe_key__in=lost).values_list(
                "dedupe_key", "report_id", "record_no"
            ):
                hex_key = _hex(stored)
                if report == report_id and record == unique[hex_key].number:
                    replayed.add(hex_key)
        if batch.rejected:
            Quarantined.objects.bulk_create(
                [
                    Quarantined(
                        report_id=report_id,
                        record_no=item.number,
                        reason=clip(item.error or "")[:2000],
                        raw=clip(item.raw),
                    )
                    for item in batch.rejected
                ],
                ignore_conflicts=True,
            )
    counts.duplicates = ready.in_batch_duplicates + len(lost) - len(replayed)
    for key, prepared in unique.items():
        if key in inserted or key in replayed:
            counts.events += 1
            route = prepared.route
            if route.recipient is None:
                counts.unrouted += 1
            else:
                counts.routed += 1
                counts.by_recipient[route.recipient] = (
                    counts.by_recipient.get(route.recipient, 0) + 1
                )
                if route.suppressed_by is not None:
                    counts.suppressed += 1
    return counts
