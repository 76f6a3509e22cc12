"""IntelMQ event JSON: one event per line (IntelMQ's file output), or a JSON list."""

from collections.abc import Iterator
from typing import Any

import orjson

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
    return start.startswith((b"{", b"[")) and (
        b'"classification.type"' in start or b'"source.ip"' in start or b'"feed.name"' in start
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


def _event_fields(record: dict[str, Any], ctx: Context) -> dict[str, Any]:
    fields = {k: v for k, v in record.items() if k not in ("raw", "__type")}
    if ctx.feed:
        fields["feed.name"] = ctx.feed
    fields.setdefault("feed.name", "intelmq")
    return fields
