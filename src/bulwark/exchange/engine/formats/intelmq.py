"""IntelMQ event JSON: one event per line (IntelMQ's file output), or a JSON list."""

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson

from bulwark.exchange.engine.fields import EVENT_FIELDS
from bulwark.exchange.engine.formats.base import (
    Context,
    Item,
    Readable,
    ReportError,
    _Prefixed,
    clip,
    lines,
    read_document,
    text_stream,
)


def looks_like(head: bytes) -> bool:
    start = head.lstrip()[:2000]
    compact = start.replace(b" ", b"")
    return start.startswith((b"{", b"[")) and (
        b'"classification.type"' in start
        or b'"source.ip"' in start
        or b'"feed.name"' in start
        or b'"classification":{"' in compact  # IntelMQ's hierarchical output
    )


def parse(stream: Readable, ctx: Context) -> Iterator[Item]:
    source = text_stream(stream)
    head = source.read(64)
    if head.lstrip().startswith(b"["):  # one JSON list: read whole, number the events
        data = read_document(source, "IntelMQ event list", head)
        try:
            records = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ReportError(f"The IntelMQ event list is not JSON: {exc}.") from None
        for number, record in enumerate(records, 1):
            raw = clip(orjson.dumps(record).decode())
            if not isinstance(record, dict):
                yield Item(number, raw, error="an IntelMQ event is a JSON object")
            else:
                yield Item(number, raw, _event_fields(record, ctx))
        return
    for number, text, error in lines(_Prefixed(head, source)):
        if error:
            yield Item(number, text, error=error)
            continue
        stripped = text.strip().rstrip(",")
        if not stripped or stripped in ("[", "]"):
            continue
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            yield Item(number, clip(text), error=f"not JSON: {exc}")
            continue
        if not isinstance(value, dict):
            yield Item(number, clip(text), error="an IntelMQ event is a JSON object")
            continue
        yield Item(number, text, _event_fields(value, ctx))


# What an event carries that is not an observation: the message type, and `raw` (the
# sender's own copy of its input, base64) which Bulwark keeps anyway as the report line.
_NOT_FIELDS = ("__type", "raw")


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    """IntelMQ writes events flat ("source.ip") or, with hierarchical output, nested
    ({"source": {"ip": ...}}); `extra` is a JSON object (or its text) either way. Nested
    objects are followed down to a harmonised field or to `extra`, whose members keep
    their JSON values (numbers stay numbers, lists stay lists)."""
    if prefix == "extra" and isinstance(value, str) and value.startswith("{"):
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(value)
    if isinstance(value, dict) and prefix not in EVENT_FIELDS:
        if prefix == "extra" or prefix.startswith("extra."):
            for key, inner in value.items():
                into[f"{prefix}.{key}"] = inner
            return
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
        return
    if prefix in EVENT_FIELDS or prefix.startswith("extra."):
        into[prefix] = value
    else:  # not harmonised: kept, under extra, by its own name
        into["extra." + prefix] = value


def _event_fields(record: dict[str, Any], ctx: Context) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in record.items():
        if key not in _NOT_FIELDS:
            _flatten(key, value, fields)
    if ctx.feed:
        fields["feed.name"] = ctx.feed
    fields.setdefault("feed.name", "intelmq")
    return fields
