"""Generic CSV and JSON with a saved column mapping.

A mapping is data: {"columns": {IntelMQ field: column or JSON key (dotted for nested)},
"constants": {IntelMQ field: value}, "delimiter": ","}. Columns it does not name are kept
under `extra.`.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from bulwark.exchange.engine.formats.base import (
    Context,
    Item,
    Readable,
    ReportError,
    _Prefixed,
    clip,
    csv_rows,
    lines,
    read_document,
    text_stream,
)


def _mapping(ctx: Context) -> tuple[dict[str, str], dict[str, Any]]:
    mapping = ctx.options.get("mapping")
    if not isinstance(mapping, Mapping) or not isinstance(mapping.get("columns"), Mapping):
        raise ReportError(
            "Generic CSV and JSON need a saved column mapping (--mapping NAME) that says "
            "which column holds which field."
        )
    return dict(mapping["columns"]), dict(mapping.get("constants") or {})


def parse_csv(stream: Readable, ctx: Context) -> Iterator[Item]:
    columns, constants = _mapping(ctx)
    delimiter = str((ctx.options.get("mapping") or {}).get("delimiter") or ",")
    rows = csv_rows(stream, delimiter=delimiter[:1])
    header: list[str] | None = None
    for number, row, raw, error in rows:
        if error:
            yield Item(number, raw, error=error)
            continue
        assert row is not None
        header = [c.strip() for c in row]
        break
    if header is None:
        raise ReportError("The CSV file is empty (no header line).")
    missing = sorted(c for c in columns.values() if c not in header)
    if missing:
        raise ReportError(f"The mapping names columns the header lacks: {', '.join(missing)}.")
    index = {c: i for i, c in enumerate(header)}
    pairs = [(field, index[column]) for field, column in columns.items()]
    mapped_cols = set(columns.values())
    extras = [(f"extra.{c.lower()}", i) for c, i in index.items() if c not in mapped_cols and c]
    feed = ctx.feed or "csv"
    for number, row, raw, error in rows:
        if error:
            yield Item(number, raw, error=error)
            continue
        assert row is not None
        if len(row) != len(header):
            yield Item(number, raw, error=f"{len(row)} columns, the header has {len(header)}")
            continue
        fields: dict[str, Any] = {**constants, "feed.name": feed}
        fields.update((f, row[i]) for f, i in pairs)
        fields.update((f, row[i]) for f, i in extras if row[i])
        yield Item(number, raw, fields)


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def parse_json(stream: Readable, ctx: Context) -> Iterator[Item]:
    columns, constants = _mapping(ctx)
    feed = ctx.feed or "json"

    def item(number: int, raw: str, record: Any) -> Item:
        if not isinstance(record, Mapping):
            return Item(number, raw, error="a record is not a JSON object")
        fields: dict[str, Any] = {**constants, "feed.name": feed}
        fields.update((f, _lookup(record, key)) for f, key in columns.items())
        return Item(number, raw, fields)

    source = text_stream(stream)
    head = source.read(64)
    if head.lstrip().startswith(b"["):
        data = read_document(source, "JSON document", head)
        try:
            records = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ReportError(f"The JSON document is not valid: {exc}.") from None
        for number, record in enumerate(records, 1):
            yield item(number, clip(orjson.dumps(record).decode()), record)
        return
    for number, text, error in lines(_Prefixed(head, source)):
        if error:
            yield Item(number, text, error=error)
            continue
        if not text.strip():
            continue
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield Item(number, clip(text), error=f"not JSON: {exc}")
            continue
        yield item(number, text, record)
