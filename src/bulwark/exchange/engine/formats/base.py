"""What every parser yields, and the limits every parser keeps."""

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class Readable(Protocol):
    """A binary stream: a file, BytesIO, or one of the wrappers below."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


MAX_LINE_BYTES = 1 << 20  # one CSV line / JSON line; longer lines are quarantined
MAX_DOCUMENT_BYTES = 50 << 20  # one JSON / XML / e-mail document read whole
KEEP_RAW_CHARS = 64 << 10  # what a quarantine entry keeps of an oversized record


class ReportError(ValueError):
    """The whole report cannot be read (wrong format, not a document at all)."""


@dataclass(slots=True)
class Item:
    """One record of a report: its fields in IntelMQ names, or why it was refused."""

    number: int  # line number for line formats, record index (1-based) for documents
    raw: str
    fields: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class Context:
    """Facts about the report as a whole that a parser learns on the way."""

    file_name: str = ""
    feed: str = ""
    report_type: str = ""  # e.g. the Shadowserver report type
    provider: str = ""
    foreign_ticket: str = ""  # the sender's own ticket number, shown as cross-reference
    options: dict[str, Any] = field(default_factory=dict)


def clip(text: str) -> str:
    """At most KEEP_RAW_CHARS of a record for the quarantine, NUL shown as \\x00 (no
    database text column can hold NUL)."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if len(text) <= KEEP_RAW_CHARS:
        return text
    return text[:KEEP_RAW_CHARS] + f"\n[... {len(text) - KEEP_RAW_CHARS:,} more characters]"


def text_stream(stream: Readable) -> Readable:
    """The stream as UTF-8 bytes: a UTF-8 BOM is skipped, UTF-16 (with BOM) is recoded."""
    head = stream.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return _Prefixed(head[3:], stream)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        recoded: Readable = codecs.EncodedFile(_Prefixed(head, stream), "utf-8", "utf-16")  # type: ignore[arg-type]
        return recoded
    return _Prefixed(head, stream)


class _Prefixed:
    """A read stream with some bytes pushed back in front."""

    def __init__(self, prefix: bytes, stream: Readable) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if not self._prefix:
            return self._stream.read(size)
        if size < 0:
            data, self._prefix = self._prefix + self._stream.read(), b""
            return data
        data, self._prefix = self._prefix[:size], self._prefix[size:]
        if len(data) < size:
            data += self._stream.read(size - len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        if self._prefix:
            nl = self._prefix.find(b"\n")
            if nl >= 0 and (size < 0 or nl < size):
                line, self._prefix = self._prefix[: nl + 1], self._prefix[nl + 1 :]
                return line
            head, self._prefix = self._prefix, b""
            more = size - len(head) if size >= 0 else -1
            return head + (self._stream.readline(more) if more != 0 else b"")
        return self._stream.readline(size)


def lines(stream: Readable, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str, str]]:
    """(line number, text, "") per line, or (line number, raw text, reason) for a line that
    is too long (raw text clipped) or not UTF-8; reading carries on with the next line."""
    source = text_stream(stream)
    readline = source.readline
    direct = False
    number = 0
    while True:
        line = readline(limit + 1)
        if not line:
            return
        number += 1
        if not direct:  # once the pushed-back bytes are read, read the stream itself
            direct = True
            if isinstance(source, _Prefixed):
                if source._prefix:
                    direct = False
                else:
                    readline = source._stream.readline
        if len(line) > limit and not line.endswith(b"\n"):
            total = len(line)
            while True:  # skip the rest of the line, counting it, without holding it
                more = readline(1 << 20)
                total += len(more)
                if not more or more.endswith(b"\n"):
                    break
            head = line[:KEEP_RAW_CHARS].decode("utf-8", "backslashreplace")
            yield number, head, f"line is {total:,} bytes, over the {limit:,}-byte limit"
            continue
        try:
            yield number, line.decode("utf-8"), ""
        except UnicodeDecodeError as exc:
            text = line.decode("utf-8", "backslashreplace")
            yield (
                number,
                text,
                f"not UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})",
            )


def read_document(stream: Readable, what: str, prefix: bytes = b"") -> bytes:
    data = prefix + stream.read(MAX_DOCUMENT_BYTES + 1 - len(prefix))
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ReportError(f"The {what} is over the {MAX_DOCUMENT_BYTES:,}-byte limit.")
    if not data.strip():
        raise ReportError(f"The {what} is empty.")
    return data


def csv_rows(
    stream: Readable, *, delimiter: str = ",", strict: bool = True
) -> Iterator[tuple[int, list[str] | None, str, str]]:
    """(first line number, row, raw text, "") per CSV record, or (line, None, raw, reason).
    Quoted fields may span lines; a broken record does not stop the reader."""
    csv.field_size_limit(MAX_LINE_BYTES)
    buffer: list[str] = []
    pending: list[tuple[int, str, str]] = []

    def feed() -> Iterator[str]:
        for number, text, error in lines(stream):
            if error:
                pending.append((number, text, error))
                yield "\n"
            else:
                buffer.append(text)
                yield text

    reader = csv.reader(feed(), delimiter=delimiter, strict=strict)
    while True:
        start = reader.line_num + 1
        row: list[str] | None
        error = ""
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row, error = None, f"broken CSV: {exc}"
        if pending:
            for number, text, reason in pending:
                yield number, None, text, reason
            pending.clear()
        raw = "".join(buffer)
        buffer.clear()
        if error:
            yield start, None, clip(raw), error
        elif row:
            yield start, row, raw, ""
