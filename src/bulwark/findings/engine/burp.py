"""Burp Suite's XML issue export (<issues burpVersion=...>): one finding per <issue>.

Request and response are decoded when base64="true"; the evidence keeps the start of the
first request and of its response (at most EVIDENCE_LIMIT in all, decoded from a bounded
slice, so a multi-megabyte response costs nothing). Pure module (no Django import).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .model import (
    EVIDENCE_LIMIT,
    ParsedFinding,
    ParseError,
    Severity,
    asset_from_url,
    clean,
    cves_in,
    cwes_in,
    evidence,
    plain,
    references_in,
    severity_from_word,
    zone,
)
from .streams import Readable, iterparse, release, text_of

TOOL = "burp"
_PART = EVIDENCE_LIMIT // 2


def _decoded(element: Any) -> str:
    """The start (about 4 KiB) of a request or response, decoded from base64 if marked."""
    if element is None or not element.text:
        return ""
    text = str(element.text)
    if (element.get("base64") or "").lower() == "true":
        chunk = "".join(text[: (_PART * 4) // 3 + 8].split())
        chunk = chunk[: len(chunk) - len(chunk) % 4]
        try:
            raw = base64.b64decode(chunk, validate=False)
        except (binascii.Error, ValueError):
            return "(undecodable base64)"
        text = raw[:_PART].decode("utf-8", errors="replace")
    return text[:_PART]


def _observed(value: str) -> datetime | None:
    """Burp's exportTime, "Wed Jan 27 22:43:35 WIB 2021" (Java's Date.toString): the zone
    abbreviation by ZONES, UTC when unknown."""
    parts = value.split()
    if len(parts) == 6:
        try:
            when = datetime.strptime(" ".join(parts[:4] + parts[5:]), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            return None
        return when.replace(tzinfo=zone(parts[4]) or UTC)
    return None


def parse(stream: Readable) -> Iterator[ParsedFinding]:
    seen_root = False
    observed = None
    for event, element in iterparse(stream, ("issues", "issue"), ("start", "end")):
        if not seen_root:
            if element.tag != "issues":
                raise ParseError(f"Not a Burp XML export: the root element is <{element.tag}>.")
            observed = _observed(element.get("exportTime") or "")
            seen_root = True
            continue
        if event == "end" and element.tag == "issue":
            yield _finding(element, observed)
            release(element)
    if not seen_root:
        raise ParseError("Not a Burp XML export.")


def _finding(issue: Any, observed: datetime | None) -> ParsedFinding:
    title = clean(text_of(issue, "name"), 500)
    if not title:
        raise ParseError(f"A Burp issue on line {issue.sourceline} has no name.")
    host = issue.find("host")
    base = (host.text or "").strip() if host is not None else ""
    path = text_of(issue, "path").strip()
    url = base.rstrip("/") + (path if path.startswith("/") else f"/{path}" if path else "")
    asset = (
        asset_from_url(url)
        if base
        else asset_from_url(f"http://{host.get('ip')}/")
        if host is not None and host.get("ip")
        else None
    )
    if asset is None:
        raise ParseError(f"Burp issue {title!r} has no host.")
    severity: Severity = severity_from_word(text_of(issue, "severity")) or "info"
    classifications = text_of(issue, "vulnerabilityClassifications")
    background = plain(text_of(issue, "issueBackground"))
    detail = plain(text_of(issue, "issueDetail"))
    items = [plain(item.text) for item in issue.iterfind("issueDetailItems/issueDetailItem")]
    description = "\n\n".join(
        part for part in (detail, "\n".join(i for i in items if i), background) if part
    )
    solution = "\n\n".join(
        part
        for part in (
            plain(text_of(issue, "remediationDetail")),
            plain(text_of(issue, "remediationBackground")),
        )
        if part
    )
    exchange = issue.find("requestresponse")
    shown = ""
    if exchange is not None:
        request = _decoded(exchange.find("request"))
        response = _decoded(exchange.find("response"))
        shown = request + ("\n\n" + response if response else "")
    references = references_in(
        *(a for a in _hrefs(text_of(issue, "references"))), *(_hrefs(classifications))
    )
    location = text_of(issue, "location").strip()
    return ParsedFinding(
        tool=TOOL,
        rule_id=text_of(issue, "type").strip() or title,
        title=title,
        severity=severity,
        asset=asset,
        location=clean(location if location != path else "", 500),
        cves=cves_in(title, detail),
        cwes=cwes_in(classifications),
        description=description,
        solution=solution,
        references=references,
        evidence=evidence(shown),
        observed_at=observed,
    )


def _hrefs(html_text: str) -> list[str]:
    import re

    return re.findall(r'href="(https?://[^"]{1,2000})"', html_text)
