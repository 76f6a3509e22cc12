"""A batch's events as database rows, ahead of time (in the parser's thread): a COPY text
line for PostgreSQL, a tuple for SQLite. Pure: no Django; compiled with Cython like the
rest of the hot path (setup.py)."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from bulwark.exchange.engine.pipeline import Batch, Prepared
from bulwark.exchange.engine.router import Route

COLUMNS = (
    "report_id", "record_no", "event_id", "dedupe_key", "taxonomy", "classification_type",
    "identifier", "source_ip", "source_port", "source_asn", "source_fqdn", "country",
    "destination_ip", "feed_name", "feed_provider", "time_source", "time_observation",
    "recipient_id", "route_via", "route_match", "suppressed_by_id", "data",
)  # fmt: skip

_DATETIMES: dict[str, datetime] = {}


# Fields whose column holds the value exactly are left out of the `data` column and put
# back by `restore` (Event.fields): the rows are a third smaller, which PostgreSQL writes
# a seventh faster. Addresses stay in `data` (the database may spell an IPv6 address
# differently), so does the country (its column is the route's country).
IN_COLUMNS = (
    "classification.taxonomy", "classification.type", "source.port", "source.asn",
    "source.fqdn", "time.source", "time.observation",
)  # fmt: skip
IN_COLUMNS_IF_FITS = (
    ("classification.identifier", 100), ("feed.name", 100), ("feed.provider", 200),
)  # fmt: skip


def slim(event: dict[str, Any]) -> dict[str, Any]:
    """The event without what its columns hold (canonical values: `normalise`)."""
    rest = dict(event)
    for key in IN_COLUMNS:
        rest.pop(key, None)
    for key, limit in IN_COLUMNS_IF_FITS:
        value = rest.get(key)
        if type(value) is str and len(value) <= limit:
            del rest[key]
    return rest


def restore(
    data: dict[str, Any],
    *,
    taxonomy: str,
    classification_type: str,
    identifier: str,
    source_port: int | None,
    source_asn: int | None,
    source_fqdn: str,
    feed_name: str,
    feed_provider: str,
    time_source: datetime | None,
    time_observation: datetime,
) -> dict[str, Any]:
    """The whole event from `slim`'s part and the columns. A row stored whole (by
    Bulwark before December 2026, or by the demo) has time.observation in it and is
    returned as it is."""
    if "time.observation" in data:
        return data
    event = dict(data)
    event["classification.taxonomy"] = taxonomy
    event["classification.type"] = classification_type
    for key, value in (
        ("classification.identifier", identifier), ("feed.name", feed_name),
        ("feed.provider", feed_provider), ("source.fqdn", source_fqdn),
    ):  # fmt: skip
        if value and key not in event:
            event[key] = value
    if source_port is not None:
        event["source.port"] = source_port
    if source_asn is not None:
        event["source.asn"] = source_asn
    if time_source is not None:
        event["time.source"] = time_source.astimezone(UTC).isoformat()
    event["time.observation"] = time_observation.astimezone(UTC).isoformat()
    return event


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
        orjson.dumps(slim(e)).decode(),
    )  # fmt: skip


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


NULL = "\\N"


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


# The COPY path's column order: what varies per event first, then what events of a report
# share (written once per distinct value and reused), then the route, then the event.
COPY_COLUMNS = (
    "report_id", "record_no", "event_id", "dedupe_key", "source_ip", "source_port",
    "source_asn", "source_fqdn", "country", "destination_ip", "time_source",
    "taxonomy", "classification_type", "identifier", "feed_name", "feed_provider",
    "time_observation", "recipient_id", "route_via", "route_match", "suppressed_by_id", "data",
)  # fmt: skip
_SHARED: dict[tuple[Any, ...], str] = {}
_ROUTES: dict[Route, str] = {}


def _shared_part(key: tuple[Any, ...]) -> str:
    taxonomy, ctype, identifier, feed, provider, observed = key
    part = "\t".join(
        (
            _text(taxonomy), _text(ctype), _text(str(identifier)[:100]),
            _text(str(feed)[:100]), _text(str(provider)[:200]), _plain(observed),
        )
    )  # fmt: skip
    if len(_SHARED) >= 4096:
        _SHARED.clear()
    _SHARED[key] = part
    return part


def _route_part(r: Route) -> str:
    part = "\t".join((_plain(r.recipient), r.via, _text(r.matched[:120]), _plain(r.suppressed_by)))
    if len(_ROUTES) >= 65536:
        _ROUTES.clear()
    _ROUTES[r] = part
    return part


def _copy_line(prefix: str, p: Prepared) -> str:
    """One line of COPY text in COPY_COLUMNS order; `prefix` is the report id and a tab.
    Addresses, numbers, domain names and times are canonical after `normalise` (no tab,
    newline or backslash in them); the texts a feed chooses are escaped once per distinct
    value in the shared part. This runs once per stored event."""
    e = p.event
    get = e.get
    key = (
        e["classification.taxonomy"], e["classification.type"],
        get("classification.identifier", ""), get("feed.name", ""), get("feed.provider", ""),
        e["time.observation"],
    )  # fmt: skip
    shared = _SHARED.get(key) or _shared_part(key)
    r = p.route
    routed = _ROUTES.get(r) or _route_part(r)
    data = orjson.dumps(slim(e)).decode()
    if "\\" in data:  # orjson escapes control characters itself; only backslashes remain
        data = data.replace("\\", "\\\\")
    country = r.country or get("source.geolocation.cc", "")
    return (
        f"{prefix}{p.number}\t{p.event_id}\t{p.dedupe_key}\t{get('source.ip', NULL)}\t"
        f"{get('source.port', NULL)}\t{get('source.asn', NULL)}\t{get('source.fqdn', '')}\t"
        f"{country}\t{get('destination.ip', NULL)}\t{get('time.source', NULL)}\t{shared}\t"
        f"{routed}\t{data}\n"
    )


@dataclass
class Encoded:
    """A batch's events ready for the database: the first of several equal events (the
    rest are duplicates within the batch) and their rows in the vendor's form."""

    report_id: int
    vendor: str
    unique: dict[str, Prepared]
    in_batch_duplicates: int
    payload: list[Any]  # per unique event: a COPY line (postgresql) or a row tuple
    tally: "Tally"  # of all unique events; the store takes away those it did not store


@dataclass
class Tally:
    routed: int = 0
    unrouted: int = 0
    suppressed: int = 0
    by_recipient: dict[int, int] = field(default_factory=dict)

    def add(self, routes: Iterable[Route], sign: int = 1) -> "Tally":
        by_recipient = self.by_recipient
        for route in routes:
            recipient = route.recipient
            if recipient is None:
                self.unrouted += sign
            else:
                self.routed += sign
                by_recipient[recipient] = by_recipient.get(recipient, 0) + sign
                if route.suppressed_by is not None:
                    self.suppressed += sign
        return self


def encode(report_id: int, batch: Batch, vendor: str) -> Encoded:
    # Within one batch the first of several equal events wins, as it would across batches.
    unique: dict[str, Prepared] = {}
    for prepared in batch.events:
        unique.setdefault(prepared.dedupe_key, prepared)
    payload: Any
    if vendor == "postgresql":
        prefix = f"{report_id}\t"
        payload = [_copy_line(prefix, p).encode() for p in unique.values()]
    else:
        payload = [_row(report_id, p) for p in unique.values()]
    tally = Tally().add(p.route for p in unique.values())
    return Encoded(report_id, vendor, unique, len(batch.events) - len(unique), payload, tally)


def encoded(report_id: int, batches: Iterable[Batch], vendor: str) -> Iterator[Batch]:
    """The batches with their rows encoded: run it in the parser's thread (`bounded`) so the
    storing thread only waits for the database."""
    for batch in batches:
        batch.encoded = encode(report_id, batch, vendor)
        yield batch
