"""The findings import engine: scanner parsers, deduplication keys and severity data.

Pure package (no Django import; the `pure` contract in pyproject.toml). The findings app
stores what it yields (docs/findings.md). Interface fixed with the app:

- `detect(head, filename)` -> tool name; `parse(stream, tool=None, mapping=...)` ->
  iterator of `ParsedFinding` / `ParsedService`; `ParseError` says why a file is refused;
- `fingerprint(finding)` -> deduplication key;
- `cvss_score(vector)`, `read_epss(stream)`, `read_kev(stream)` -> `KevEntry`.
"""

from .dedupe import fingerprint
from .detect import TOOL_NAMES, TOOLS, detect
from .model import (
    EVIDENCE_LIMIT,
    SEVERITIES,
    Asset,
    ParsedFinding,
    ParsedService,
    ParseError,
    Severity,
)
from .parse import parse
from .scoring import KevEntry, cvss_score, read_epss, read_kev

__all__ = [
    "EVIDENCE_LIMIT",
    "SEVERITIES",
    "TOOLS",
    "TOOL_NAMES",
    "Asset",
    "KevEntry",
    "ParseError",
    "ParsedFinding",
    "ParsedService",
    "Severity",
    "cvss_score",
    "detect",
    "fingerprint",
    "parse",
    "read_epss",
    "read_kev",
]
