"""Report formats: detection by file name and content, and one parser per format."""

from collections.abc import Callable, Iterator

from bulwark.exchange.engine.formats import intelmq, iodef, mapped, shadowserver, stix, xarf
from bulwark.exchange.engine.formats.base import Context, Item, Readable, ReportError

Parser = Callable[[Readable, Context], Iterator[Item]]

PARSERS: dict[str, Parser] = {
    "shadowserver": shadowserver.parse,
    "xarf": xarf.parse_xarf,
    "arf": xarf.parse_mail,
    "iodef": iodef.parse,
    "stix": stix.parse,
    "intelmq": intelmq.parse,
    "csv": mapped.parse_csv,
    "json": mapped.parse_json,
}
FORMATS = tuple(PARSERS)

__all__ = ["FORMATS", "PARSERS", "Context", "Item", "ReportError", "detect", "parse"]


def detect(file_name: str, head: bytes) -> str:
    """The format of a report from its name and first bytes, or ReportError."""
    name = file_name.lower()
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", "ignore").encode()
    head = head.removeprefix(b"\xef\xbb\xbf")
    if name.endswith((".eml", ".msg", ".mbox")) or xarf.looks_like_mail(head):
        return "arf"
    if name.endswith((".xml", ".iodef")) or iodef.looks_like(head):
        return "iodef"
    if stix.looks_like(head):
        return "stix"
    if xarf.looks_like_xarf(head):
        return "xarf"
    if intelmq.looks_like(head):
        return "intelmq"
    if name.endswith(".csv") and shadowserver.looks_like(file_name, head):
        return "shadowserver"
    if shadowserver.looks_like(file_name, head):
        return "shadowserver"
    raise ReportError(
        f"Cannot tell the format of {file_name or 'the report'}: choose its format, one of "
        f"{', '.join(FORMATS)}, and submit it again."
    )


def parse(fmt: str, stream: Readable, ctx: Context) -> Iterator[Item]:
    parser = PARSERS.get(fmt)
    if parser is None:
        raise ReportError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    return parser(stream, ctx)
