"""What every scanner parser yields: findings and services, and the one error it raises.

Pure module (no Django import). The dataclasses are the contract with the findings app
(docs/findings.md, "Import"): a parser turns a tool's file into `ParsedFinding` and
`ParsedService` values; the app deduplicates them with `fingerprint()` and stores them.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")

#: The most a finding keeps of a tool's output (plugin output, request/response...).
EVIDENCE_LIMIT = 8 * 1024
#: The most a finding keeps of a description or a solution.
TEXT_LIMIT = 64 * 1024


class ParseError(ValueError):
    """The file cannot be imported; str(e) is the reason, written for the user who
    uploaded it ("not a Nessus v2 file: root is <foo>", "XML entity declarations are
    refused")."""


@dataclass(frozen=True, slots=True)
class Asset:
    """Where a problem is: a host (IP or name, lower-case, "" if none), optionally a port
    and protocol, the service the tool named, and for web findings the URL without its
    query."""

    host: str
    port: int | None = None
    protocol: str = ""
    service: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class ParsedFinding:
    """One problem a tool reported on one asset."""

    tool: str
    rule_id: str
    title: str
    severity: Severity
    asset: Asset
    location: str = ""
    cves: tuple[str, ...] = ()
    cwes: tuple[int, ...] = ()
    cvss_vector: str = ""
    cvss_score: float | None = None
    description: str = ""
    solution: str = ""
    references: tuple[str, ...] = ()
    evidence: str = ""
    observed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ParsedService:
    """An open service a tool saw (Nmap): not a finding, an inventory fact."""

    asset: Asset
    product: str = ""
    version: str = ""


# --- helpers shared by the parsers -------------------------------------------------

_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_CWE = re.compile(r"CWE[-_ :]?(\d{1,5})", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def cves_in(*texts: str | None) -> tuple[str, ...]:
    """The CVE ids in the texts, upper-case, each once, in order of appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        if text:
            for match in _CVE.findall(text):
                seen.setdefault(match.upper(), None)
    return tuple(seen)


def cwes_in(*texts: str | int | None) -> tuple[int, ...]:
    """CWE numbers from "CWE-79", "cwe-079", "external/cwe/cwe-079" or a bare number."""
    seen: dict[int, None] = {}
    for text in texts:
        if text is None or text == "":
            continue
        if isinstance(text, int):
            if text > 0:
                seen.setdefault(text, None)
            continue
        stripped = text.strip()
        if stripped.isdigit():
            if int(stripped) > 0:
                seen.setdefault(int(stripped), None)
            continue
        for match in _CWE.findall(stripped):
            if int(match) > 0:
                seen.setdefault(int(match), None)
    return tuple(seen)


def severity_from_score(score: float | None) -> Severity | None:
    """CVSS qualitative rating of a 0-10 score (FIRST's table); None if no score."""
    if score is None:
        return None
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "info"


_SEVERITY_WORDS: dict[str, Severity] = {
    "critical": "critical",
    "crit": "critical",
    "urgent": "critical",
    "very high": "critical",
    "high": "high",
    "important": "high",
    "error": "high",
    "medium": "medium",
    "moderate": "medium",
    "warning": "medium",
    "low": "low",
    "minor": "low",
    "note": "low",
    "info": "info",
    "information": "info",
    "informational": "info",
    "none": "info",
    "log": "info",
    "debug": "info",
    "unknown": "info",
}


def severity_from_word(word: str | None) -> Severity | None:
    """A tool's severity word ("High", "Informational", "moderate") as ours; None if unknown."""
    if not word:
        return None
    return _SEVERITY_WORDS.get(word.strip().lower())


def to_float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if 0.0 <= number <= 10.0 else None


def to_port(value: object) -> int | None:
    try:
        port = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def clean(text: str | None, limit: int = TEXT_LIMIT, *, xml: bool = False) -> str:
    """Text without control characters and outer blank space, cut at `limit` characters.
    `xml=True`: the text comes from an XML parser, which already refused every control
    character but tab and line breaks (XML 1.0), so the scan for them is skipped."""
    if not text:
        return ""
    text = text.strip() if xml else _CONTROL.sub("", text).strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def evidence(text: str | None, *, xml: bool = False) -> str:
    """The tool's output for a finding, at most EVIDENCE_LIMIT bytes of UTF-8."""
    text = clean(text, EVIDENCE_LIMIT, xml=xml)
    if len(text) <= EVIDENCE_LIMIT // 4:  # at most 4 bytes a character
        return text
    data = text.encode("utf-8")
    if len(data) <= EVIDENCE_LIMIT:
        return text
    return data[: EVIDENCE_LIMIT - 3].decode("utf-8", errors="ignore") + "…"


def url_without_query(url: str) -> str:
    """scheme://host[:port]/path, host lower-case, no query, fragment or credentials."""
    url = url.strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0][:2048]
    if not parts.scheme or not host:
        return url.split("?", 1)[0].split("#", 1)[0][:2048]
    scheme = parts.scheme.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port is None or port == default else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))[:2048]


def asset_from_url(url: str, service: str = "") -> Asset:
    """The asset of a web finding: host and port from the URL (default port by scheme)."""
    clean_url = url_without_query(url)
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        host, port = "", None
    return Asset(
        host=host,
        port=port,
        protocol="tcp" if port else "",
        service=service or (urlsplit(url).scheme.lower() if host else ""),
        url=clean_url,
    )


_URL_SPLIT = re.compile(r"[\s<>\"']+")
_URL_BREAKS = re.compile(r"[<>\"']")


def references_in(*texts: str | None) -> tuple[str, ...]:
    """http(s) URLs in free text (one per line or separated by blanks), each once."""
    seen: dict[str, None] = {}
    for text in texts:
        if not text:
            continue
        tokens = _URL_SPLIT.split(text) if _URL_BREAKS.search(text) else text.split()
        for token in tokens:
            token = token.strip().rstrip(".,;")
            if token.endswith(")") and token.count("(") < token.count(")"):
                token = token[:-1]
            if token.startswith(("http://", "https://")) and len(token) < 2048:
                seen.setdefault(token, None)
    return tuple(seen)


_TAG = re.compile(r"<[^>]{0,2000}>")
_BLOCK = re.compile(r"</?(p|br|li|ul|ol|div|h\d|tr|pre)\b[^>]{0,2000}>", re.IGNORECASE)


def plain(html_text: str | None, limit: int = TEXT_LIMIT) -> str:
    """Plain text of a tool's HTML fragment (ZAP, Burp): block tags become line breaks,
    other tags go, entities are decoded."""
    if not html_text:
        return ""
    text = _BLOCK.sub("\n", html_text)
    text = html.unescape(_TAG.sub("", text))
    text = re.sub(r"[ \t]+\n", "\n", text)
    return prose(text, limit)


def prose(text: str | None, limit: int = TEXT_LIMIT, *, xml: bool = False) -> str:
    """Descriptive text with each line's outer blanks removed (reports are often
    pretty-printed) and runs of blank lines reduced to one."""
    if not text:
        return ""
    if "\n" not in text:
        return clean(text, limit, xml=xml)
    joined = "\n".join([line.strip() for line in text.splitlines()])
    if "\n\n\n" in joined:
        joined = _BLANK_RUNS.sub("\n\n", joined)
    return clean(joined, limit, xml=xml)


_BLANK_RUNS = re.compile(r"\n{3,}")


#: Zone abbreviations in tools' time stamps ("Jan 5, 2021 10:24:08 MST"), hours from UTC.
ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
    "MDT": -6, "PST": -8, "PDT": -7, "CET": 1, "CEST": 2, "JST": 9, "HKT": 8, "SGT": 8,
    "WIB": 7, "IST": 5.5, "AEST": 10, "AEDT": 11, "BST": 1,
}  # fmt: skip


def zone(name: str) -> timezone | None:
    """The fixed-offset zone of an abbreviation in ZONES, None if unknown."""
    hours = ZONES.get(name.strip().upper())
    return None if hours is None else timezone(timedelta(hours=hours))


def iso_time(value: str) -> datetime | None:
    """An ISO 8601 time stamp (a trailing "Z", up to nanoseconds), always time-zone aware
    (UTC when the stamp names no zone); None if unreadable."""
    value = value.strip()
    if not value:
        return None
    main, dot, rest = value.partition(".")
    if dot:
        digits = "".join(itertools.takewhile(str.isdigit, rest))
        value = f"{main}.{digits[:6]}{rest[len(digits) :]}" if digits else main + rest
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
