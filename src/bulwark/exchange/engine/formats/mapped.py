"""Generic CSV and JSON with a saved column mapping.

A mapping is data: {"columns": {IntelMQ field: column or JSON key (dotted for nested)},
"constants": {IntelMQ field: value}, "delimiter": ","} and, for CSV, optionally
"header": false (no header line: columns are named by their number, "1", "2", ...),
"comment": "#" (lines starting with it, after blanks, are skipped), "strip": false
(values keep surrounding blanks; by default they are stripped, as in "a | b" lists) and
"none": ["NA"] (values that mean "no value").
Columns it does not name are kept under `extra.`.
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


def _uncommented(stream: Readable, comment: str) -> Readable:
    """The stream with comment lines read as empty lines (line numbers still count them)."""
    marker = comment.encode()

    class Filtered:
        rest = b""  # what read() took of a line beyond what it was asked for

        def read(self, size: int = -1, /) -> bytes:
            data = self.readline()
            while size < 0 or len(data) < size:
                more = self.readline()
                if not more:
                    break
                data += more
            if size >= 0:
                data, self.rest = data[:size], data[size:]
            return data

        def readline(self, size: int = -1, /) -> bytes:
            if self.rest:
                line, self.rest = self.rest, b""
                return line
            line = stream.readline(size)
            if line and line.lstrip().startswith(marker):
                return b"\n" if line.endswith(b"\n") else b""
            return line

    return Filtered()


def parse_csv(stream: Readable, ctx: Context) -> Iterator[Item]:
    columns, constants = _mapping(ctx)
    options = ctx.options.get("mapping") or {}
    delimiter = str(options.get("delimiter") or ",")
    comment = str(options.get("comment") or "")
    strip = options.get("strip", True) is not False
    if comment:
        stream = _uncommented(text_stream(stream), comment)
    rows = csv_rows(stream, delimiter=delimiter[:1])
    header: list[str] | None = None
    if options.get("header", True) is False:
        width = max([int(c) for c in columns.values() if str(c).isdigit()] or [1])
        header = [str(i) for i in range(1, width + 1)]
        rows = _padded(rows, strip)
        yield from _csv_items(rows, header, columns, constants, ctx, fixed_width=False)
        return
    for number, row, raw, error in rows:
        if error:
            yield Item(number, raw, error=error)
            continue
        assert row is not None
        header = [c.strip() for c in row]
        break
    if header is None:
        raise ReportError("The CSV file is empty (no header line).")
    yield from _csv_items(_padded(rows, strip), header, columns, constants, ctx)


def _padded(
    rows: Iterator[tuple[int, list[str] | None, str, str]], strip: bool
) -> Iterator[tuple[int, list[str] | None, str, str]]:
    for number, row, raw, error in rows:
        if row is not None and not any(row):
            continue  # a blank (or comment) line
        if row is not None and strip:
            row = [c.strip() for c in row]
        yield number, row, raw, error


def _csv_items(
    rows: Iterator[tuple[int, list[str] | None, str, str]],
    header: list[str],
    columns: dict[str, str],
    constants: dict[str, Any],
    ctx: Context,
    fixed_width: bool = True,
) -> Iterator[Item]:
    missing = sorted(str(c) for c in columns.values() if str(c) not in header)
    if missing:
        raise ReportError(f"The mapping names columns the header lacks: {', '.join(missing)}.")
    index = {c: i for i, c in enumerate(header)}
    pairs = [(field, index[str(column)]) for field, column in columns.items()]
    mapped_cols = {str(c) for c in columns.values()}
    extras = [(f"extra.{c.lower()}", i) for c, i in index.items() if c not in mapped_cols and c]
    feed = ctx.feed or "csv"
    options = ctx.options.get("mapping") or {}
    nothing = frozenset(str(v) for v in options.get("none") or ())  # e.g. "NA": no value
    for number, row, raw, error in rows:
        if error:
            yield Item(number, raw, error=error)
            continue
        assert row is not None
        if fixed_width and len(row) != len(header):
            yield Item(number, raw, error=f"{len(row)} columns, the header has {len(header)}")
            continue
        if not fixed_width:  # no header: as many columns as the mapping names, at least
            if len(row) < len(header):
                yield Item(
                    number, raw, error=f"{len(row)} columns, the mapping needs {len(header)}"
                )
                continue
            extras = [(f"extra.column_{i + 1}", i) for i in range(len(header), len(row))]
            extras += [
                (f"extra.column_{i + 1}", i) for c, i in index.items() if c not in mapped_cols
            ]
        fields: dict[str, Any] = {**constants, "feed.name": feed}
        fields.update((f, row[i]) for f, i in pairs if row[i] not in nothing)
        fields.update((f, row[i]) for f, i in extras if row[i] and row[i] not in nothing)
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
