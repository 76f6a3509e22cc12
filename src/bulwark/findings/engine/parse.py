"""parse(): a scanner file, detected or named, as a stream of findings and services.

Pure module (no Django import).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from . import csvmap, nessus, sarif
from .detect import TOOLS, detect
from .model import ParsedFinding, ParsedService, ParseError
from .streams import Readable, read_head


def parse(
    stream: Readable,
    tool: str | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
    filename: str = "",
) -> Iterator[ParsedFinding | ParsedService]:
    """The findings (and, for Nmap, services) in a scanner file, one at a time with
    bounded memory. `tool=None` detects it from the content; gzip is undone. `mapping`
    (CSV only) maps our field names to the file's column names. Raises ParseError (at
    any point of the iteration: callers store nothing until it ends)."""
    head, replay = read_head(stream)
    name = tool or detect(head, filename)
    if name not in TOOLS:
        raise ParseError(f"Unknown tool {name!r}; known: {', '.join(TOOLS)}.")
    if name != "csv" and mapping:
        raise ParseError("A column mapping is only for CSV files.")
    if tool and name != "csv":
        detected = _detect_quietly(head, filename)
        if detected and detected != name:
            raise ParseError(
                f"This is not a {_LABEL[name]} file: it looks like {_LABEL[detected]}."
            )
    if name == "csv":
        return csvmap.parse(replay, mapping)
    return _PARSERS[name](replay)


_LABEL = {
    "nessus": "Nessus",
    "openvas": "OpenVAS/Greenbone",
    "zap": "OWASP ZAP",
    "nuclei": "Nuclei",
    "burp": "Burp",
    "sarif": "SARIF",
    "nmap": "Nmap",
    "csv": "CSV",
}


def _detect_quietly(head: bytes, filename: str) -> str:
    try:
        return detect(head, filename)
    except ParseError:
        return ""


Parser = Callable[[Readable], Iterator[ParsedFinding | ParsedService]]
_PARSERS: dict[str, Parser] = {
    "nessus": nessus.parse,
    "sarif": sarif.parse,
}
