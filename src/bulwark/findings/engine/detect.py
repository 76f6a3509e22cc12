"""Which tool wrote a file, from its first bytes (and, for CSV only, its name).

Pure module (no Django import).
"""

from __future__ import annotations

import json
import re

from bulwark.core.safexml import head_text

from .model import ParseError
from .streams import looks_binary, xml_root

TOOLS = ("nessus", "openvas", "zap", "nuclei", "burp", "sarif", "nmap", "csv")
#: What each tool's files are, for people (English; the app translates its own labels).
TOOL_NAMES = {
    "nessus": "Tenable Nessus (.nessus v2)",
    "openvas": "OpenVAS / Greenbone (XML report)",
    "zap": "OWASP ZAP (XML or JSON report)",
    "nuclei": "Nuclei (JSONL or JSON export)",
    "burp": "Burp Suite (XML issue export)",
    "sarif": "SARIF 2.1.0 (static analysis)",
    "nmap": "Nmap (XML, open services)",
    "csv": "CSV (mapped columns)",
}

_XML_ROOTS = {
    "NessusClientData_v2": "nessus",
    "OWASPZAPReport": "zap",
    "issues": "burp",
    "nmaprun": "nmap",
}


def detect(head: bytes, filename: str = "") -> str:
    """The tool ("nessus", "openvas", "zap", "nuclei", "burp", "sarif", "nmap", "csv")
    that wrote the file beginning with `head` (up to 64 KiB; gzip already undone).
    ParseError says why a file is not recognised."""
    if not head.strip():
        raise ParseError("The file is empty.")
    if looks_binary(head):
        raise ParseError("The file is binary, not a scanner report (XML, JSON, JSONL or CSV).")
    text = head_text(head).lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        root = xml_root(head)
        if root in _XML_ROOTS:
            return _XML_ROOTS[root]
        if root == "NessusClientData":
            raise ParseError("Nessus v1 files are not supported: export the scan as .nessus (v2).")
        if root in ("report", "get_reports_response") and re.search(
            r"<(results|result|nvt|omp|gvm|scan_run_status)\b", text
        ):
            return "openvas"
        if not root:
            raise ParseError(
                "The file starts like XML but has no root element in its first 64 KiB."
            )
        raise ParseError(
            f"Unknown XML report: the root element is <{root}> (Nessus, OpenVAS, ZAP, Burp "
            "and Nmap XML are supported)."
        )
    if text.startswith(("{", "[")):
        return _detect_json(text)
    if filename.lower().endswith((".csv", ".csv.gz")) or _looks_csv(text):
        return "csv"
    raise ParseError(
        "Unknown file: not a supported scanner report (Nessus, OpenVAS, ZAP, Burp, Nmap XML; "
        "ZAP JSON, SARIF, Nuclei JSONL; CSV)."
    )


def _detect_json(text: str) -> str:
    window = text[:65536]
    if text.startswith("{"):
        first_line = text.split("\n", 1)[0]
        if _is_nuclei(first_line):
            return "nuclei"
        if '"runs"' in window and re.search(r'"version"\s*:\s*"2\.|sarif', window, re.I):
            return "sarif"
        if re.search(r'"\$schema"\s*:\s*"[^"]*sarif', window, re.I):
            return "sarif"  # "runs" after a long preamble
        if re.search(r'"site"\s*:', window) and re.search(
            r'"@version"|"@generated"|"alerts"', window
        ):
            return "zap"
        if '"runs"' in window:
            return "sarif"
    elif re.search(r'"template-id"|"templateID"', window):
        return "nuclei"  # nuclei -json-export: one JSON array
    elif text.rstrip() == "[]" or text.replace(" ", "").startswith("[]"):
        raise ParseError("The JSON file holds an empty list: nothing to import.")
    raise ParseError("Unknown JSON report (ZAP JSON, SARIF 2.1.0 and Nuclei JSONL are supported).")


def _is_nuclei(line: str) -> bool:
    try:
        value = json.loads(line)
    except ValueError:
        return bool(re.search(r'"template-id"|"templateID"', line))
    return isinstance(value, dict) and ("template-id" in value or "templateID" in value)


def _looks_csv(text: str) -> bool:
    first = text.split("\n", 1)[0]
    return first.count(",") >= 2 or first.count(";") >= 2 or first.count("\t") >= 2
