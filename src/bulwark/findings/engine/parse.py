"""parse(): a scanner file, detected or named, as a stream of findings and services.

Pure module (no Django import).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from . import burp, csvmap, nessus, nmap, nuclei, openvas, sarif, zap
from .detect import TOOLS, detect
from .model import ParsedFinding, ParsedService, ParseError
from .streams import Readable, looks_binary, looks_xml, read_head, xml_root


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
    if tool == "nuclei" and not head.strip():
        return iter(())  # nuclei writes an empty file when nothing matched
    if head.strip() and looks_binary(head):
        raise ParseError("The file is binary, not a scanner report (XML, JSON, JSONL or CSV).")
    root = ""
    if looks_xml(head):
        root = xml_root(head)  # refuses entity declarations and external DTDs
        if not root:
            raise ParseError(
                "The file starts like XML but has no root element in its first 64 KiB."
            )
    name = tool or detect(head, filename)
    if name not in TOOLS:
        raise ParseError(f"Unknown tool {name!r}; known: {', '.join(TOOLS)}.")
    if name != "csv" and mapping:
        raise ParseError("A column mapping is only for CSV files.")
    if tool:
        detected = _detect_quietly(head, filename)
        if detected and detected != name:
            raise ParseError(
                f"This is not {_LABEL[name]} file: it looks like {_LABEL[detected]} file."
            )
    if name in _XML_ROOTS and head.strip():
        if not root and name != "zap":  # ZAP also writes JSON
            raise ParseError(f"This is not {_LABEL[name]} file: it is not XML.")
        if root and root not in _XML_ROOTS[name]:
            raise ParseError(f"This is not {_LABEL[name]} file: the root element is <{root}>.")
    if name == "csv":
        return csvmap.parse(replay, mapping)
    return _PARSERS[name](replay)


_XML_ROOTS = {
    "nessus": ("NessusClientData_v2",),
    "openvas": ("report", "get_reports_response"),
    "zap": ("OWASPZAPReport",),
    "burp": ("issues",),
    "nmap": ("nmaprun",),
}
_LABEL = {
    "nessus": "a Nessus v2",
    "openvas": "an OpenVAS/Greenbone",
    "zap": "an OWASP ZAP",
    "nuclei": "a Nuclei",
    "burp": "a Burp",
    "sarif": "a SARIF",
    "nmap": "an Nmap",
    "csv": "a CSV",
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
    "openvas": openvas.parse,
    "zap": zap.parse,
    "nuclei": nuclei.parse,
    "burp": burp.parse,
    "nmap": nmap.parse,
}
