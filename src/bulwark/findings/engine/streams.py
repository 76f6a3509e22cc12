"""Reading outside files safely: the first bytes for detection, gzip, hardened streaming
XML (lxml iterparse: no DTD, no entities, no network, processed elements cleared), JSON
streamed with ijson, and lines of bounded length.

Pure module (no Django import).
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import ijson  # type: ignore[import-untyped]
from lxml import etree

from bulwark.core.safexml import STREAM_OPTIONS, RefusedXML, check_prolog, head_text

from .model import ParseError

HEAD_SIZE = 64 * 1024
#: A JSONL line (one Nuclei result) longer than this is refused.
MAX_LINE = 16 * 1024 * 1024


class Readable(Protocol):
    """What the parsers read: any binary stream (an open file, an upload, BytesIO)."""

    def read(self, size: int = -1, /) -> bytes: ...


class Replay:
    """A binary stream whose first bytes were already read (for detection): read() gives
    them again, then the rest of the underlying stream."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += self._rest.read(size - len(data))
            return data
        return self._rest.read(size)

    def readable(self) -> bool:
        return True


def read_head(stream: Readable) -> tuple[bytes, Readable]:
    """The first bytes (up to 64 KiB, decompressed when the file is gzip) and a stream
    that gives the whole (decompressed) file again."""
    head = _read_upto(stream, HEAD_SIZE)
    if head[:2] == b"\x1f\x8b":
        unzipped = gzip.GzipFile(fileobj=Replay(head, stream), mode="rb")  # type: ignore[call-overload]
        try:
            head = _read_upto(unzipped, HEAD_SIZE)
        except (OSError, EOFError, zlib.error) as exc:
            raise ParseError(f"The file looks gzip-compressed but cannot be read: {exc}.") from None
        return head, Replay(head, _GzipGuard(unzipped))
    return head, Replay(head, stream)


#: The most a gzip-compressed upload may hold once decompressed (a "zip bomb" is refused).
MAX_GUNZIPPED = 8 * 1024 * 1024 * 1024


class _GzipGuard:
    """Turns a broken gzip stream's errors into ParseError, and stops at MAX_GUNZIPPED."""

    def __init__(self, inner: Readable) -> None:
        self._inner = inner
        self._total = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._inner.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise ParseError(f"The gzip-compressed file is damaged or truncated: {exc}.") from None
        self._total += len(data)
        if self._total > MAX_GUNZIPPED:
            raise ParseError(
                f"The gzip-compressed file holds more than {_size(MAX_GUNZIPPED)} once "
                "decompressed: refused."
            )
        return data


def _read_upto(stream: Readable, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        if isinstance(chunk, str):
            raise ParseError("The file must be opened in binary mode.")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def looks_binary(head: bytes) -> bool:
    """NUL bytes or mostly non-text bytes in the first 64 KiB (UTF-16 BOM excepted)."""
    if not head or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    sample = head[:8192]
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
        return False
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # a character cut at the sample's end
            return False
    text = bytes(range(32, 127)) + b"\n\r\t\f\b"
    odd = sum(1 for byte in sample if byte not in text and byte < 128)
    return odd > len(sample) // 10


def xml_root(head: bytes) -> str:
    """The root element's name from the first bytes of an XML file ("" if none starts in
    them), through the platform's XML guard (`core.safexml.check_prolog`): entity
    declarations, parameter entities and external DTDs are refused (ParseError)."""
    try:
        return check_prolog(head)
    except RefusedXML as exc:
        raise ParseError(str(exc)) from None


def looks_xml(head: bytes) -> bool:
    return head_text(head).lstrip("\ufeff \t\r\n").startswith("<")


def iterparse(
    stream: Readable, tags: Iterable[str], events: tuple[str, ...] = ("end",)
) -> Iterator[tuple[str, Any]]:
    """lxml iterparse, hardened: no DTD loading, no entity resolution, no network, no huge
    text nodes; a syntax error becomes ParseError with the line. The caller clears what it
    processed (`release`)."""
    context = etree.iterparse(
        stream,
        events=events,
        tag=tuple(tags),
        remove_comments=True,
        remove_pis=True,
        **STREAM_OPTIONS,
    )
    try:
        yield from context
    except etree.XMLSyntaxError as exc:
        message = " ".join(str(exc.msg or exc).split())[:200]
        if "Document is empty" in message or "Start tag expected" in message:
            raise ParseError("The file is empty or not XML.") from None
        if "Premature end" in message or "EndTag" in message or "end of data" in message.lower():
            raise ParseError(f"The XML file is truncated or not well-formed: {message}.") from None
        if exc.lineno:
            message = f"{message} (line {exc.lineno})"
        if "Excessive depth" in message:
            raise ParseError(
                "The XML nests elements more than 256 levels deep: refused (no scanner "
                "report does; it is a resource-exhaustion pattern)."
            ) from None
        if "huge input" in message.lower() or "xmlSAX2Characters" in message:
            raise ParseError("The XML holds a text node larger than 10 MB: refused.") from None
        if "ntity" in message:
            raise ParseError(f"XML entities are refused: {message}.") from None
        raise ParseError(f"The file is not well-formed XML: {message}.") from None
    except ParseError:
        raise
    except (OSError, ValueError) as exc:
        raise ParseError(f"The XML file cannot be read: {exc}.") from None


def release(element: Any) -> None:
    """Free a processed element and the siblings parsed before it (bounded memory)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def text_of(element: Any, path: str) -> str:
    """The text of the first child at `path` ("" if absent)."""
    found = element.find(path)
    if found is None or found.text is None:
        return ""
    return str(found.text)


def json_events(stream: Readable) -> Iterator[tuple[str, str, Any]]:
    """ijson's (prefix, event, value) stream; malformed JSON becomes ParseError."""
    try:
        yield from ijson.parse(stream, use_float=True)
    except ijson.IncompleteJSONError as exc:
        message = " ".join(str(exc).split())
        if "premature" in message.lower() or "incomplete" in message.lower():
            raise ParseError(
                "The JSON file is truncated: it ends in the middle of a value."
            ) from None
        raise ParseError(f"The file is not valid JSON: {message[:200]}.") from None
    except ijson.JSONError as exc:
        raise ParseError(
            f"The file is not valid JSON: {' '.join(str(exc).split())[:200]}."
        ) from None
    except UnicodeDecodeError:
        raise ParseError("The JSON file is not valid UTF-8.") from None


def json_items(stream: Readable, prefix: str) -> Iterator[Any]:
    """The JSON values at `prefix` (ijson syntax, e.g. "site.item"), one at a time."""
    try:
        yield from ijson.items(stream, prefix, use_float=True)
    except ijson.IncompleteJSONError as exc:
        message = " ".join(str(exc).split())[:200]
        raise ParseError(f"The JSON file is truncated or malformed: {message}.") from None
    except ijson.JSONError as exc:
        raise ParseError(
            f"The file is not valid JSON: {' '.join(str(exc).split())[:200]}."
        ) from None
    except UnicodeDecodeError:
        raise ParseError("The JSON file is not valid UTF-8.") from None


def lines(stream: Readable, limit: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of a text file, refusing a line longer than `limit` bytes
    (default MAX_LINE) without ever holding much more than that."""
    limit = limit or MAX_LINE
    number = 0
    buffer = b""
    while True:
        chunk = stream.read(1024 * 1024)
        if not chunk:
            break
        buffer = buffer + chunk if buffer else chunk
        start = 0
        while True:
            cut = buffer.find(b"\n", start)
            if cut < 0:
                break
            number += 1
            if cut - start > limit:
                raise ParseError(f"Line {number} is longer than {_size(limit)}.")
            yield number, buffer[start:cut]
            start = cut + 1
        buffer = buffer[start:]
        if len(buffer) > limit:
            raise ParseError(f"Line {number + 1} is longer than {_size(limit)}.")
    if buffer:
        yield number + 1, buffer


def text_lines(stream: Readable, limit: int | None = None) -> Iterator[str]:
    """The lines of a UTF-8 text file (BOM dropped), each ending in "\\n", for csv.reader;
    undecodable bytes raise ParseError with the line."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for number, line in lines(stream, limit):
        try:
            yield decoder.decode(line + b"\n")
        except UnicodeDecodeError:
            raise ParseError(f"Line {number} is not UTF-8 text.") from None


def _size(limit: int) -> str:
    if limit >= 1024**3:
        return f"{limit // 1024**3} GiB"
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
