"""Tenable Nessus `.nessus` (NessusClientData_v2): one finding per ReportItem.

Streaming: lxml iterparse over ReportHost/HostProperties/ReportItem only, each item
released once read, the Policy block dropped unread. Severity is the item's 0-4
`severity` attribute (0 = informational), CVSS the v4, else v3, vector and score as given.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .model import (
    Asset,
    ParsedFinding,
    ParseError,
    Severity,
    clean,
    cves_in,
    cwes_in,
    evidence,
    references_in,
    to_float,
    to_port,
)
from .streams import Readable, iterparse, release, text_of

TOOL = "nessus"
_SEVERITY: dict[str, Severity] = {
    "0": "info",
    "1": "low",
    "2": "medium",
    "3": "high",
    "4": "critical",
}


def parse(stream: Readable) -> Iterator[ParsedFinding]:
    host = ""
    observed: datetime | None = None
    seen_root = False
    tags = ("NessusClientData_v2", "Policy", "ReportHost", "HostProperties", "ReportItem")
    for event, element in iterparse(stream, tags, events=("start", "end")):
        tag = element.tag
        if not seen_root:
            if tag != "NessusClientData_v2":
                raise ParseError(f"Not a Nessus v2 file: the root element is <{tag}>.")
            seen_root = True
            continue
        if event == "start":
            if tag == "ReportHost":
                host = (element.get("name") or "").strip().lower()
                observed = None
            continue
        if tag == "ReportItem":
            yield _finding(element, host, observed)
            release(element)
        elif tag == "HostProperties":
            observed = _host_end(element)
            if not host:
                host = _property(element, "host-ip") or _property(element, "host-fqdn")
            release(element)
        elif tag in ("ReportHost", "Policy"):
            release(element)
    if not seen_root:
        raise ParseError("Not a Nessus v2 file: no <NessusClientData_v2> root element.")


def _property(properties: Any, name: str) -> str:
    for tag in properties.iterchildren("tag"):
        if tag.get("name") == name:
            return str(tag.text or "").strip().lower()
    return ""


def _host_end(properties: Any) -> datetime | None:
    for tag in properties.iterchildren("tag"):
        name = tag.get("name")
        if name in ("HOST_END_TIMESTAMP", "HOST_START_TIMESTAMP") and (tag.text or "").isdigit():
            return datetime.fromtimestamp(int(tag.text), tz=UTC)
    for tag in properties.iterchildren("tag"):
        if tag.get("name") == "HOST_END" and tag.text:
            try:
                return datetime.strptime(tag.text.strip(), "%a %b %d %H:%M:%S %Y").replace(
                    tzinfo=UTC
                )
            except ValueError:
                return None
    return None


def _finding(item: Any, host: str, observed: datetime | None) -> ParsedFinding:
    plugin_id = (item.get("pluginID") or "").strip()
    if not plugin_id:
        raise ParseError(f"A Nessus ReportItem on line {item.sourceline} has no pluginID.")
    cve_texts: list[str] = []
    cwe_texts: list[str] = []
    see_also: list[str] = []
    for child in item.iterchildren("cve", "cwe", "see_also"):
        text = str(child.text or "")
        if child.tag == "cve":
            cve_texts.append(text)
        elif child.tag == "cwe":
            cwe_texts.append(text)
        else:
            see_also.append(text)
    vector = ""
    score = None
    for vector_tag, score_tag in (
        ("cvss4_vector", "cvss4_base_score"),
        ("cvss3_vector", "cvss3_base_score"),
        ("cvss_vector", "cvss_base_score"),
    ):
        vector = text_of(item, vector_tag).strip()
        if vector:
            score = to_float(text_of(item, score_tag))
            break
    if vector.startswith("CVSS2#"):
        vector = vector[len("CVSS2#") :]
    synopsis = clean(text_of(item, "synopsis"))
    description = clean(text_of(item, "description"))
    if synopsis and synopsis not in description:
        description = f"{synopsis}\n\n{description}" if description else synopsis
    solution = clean(text_of(item, "solution"))
    if solution.lower() == "n/a":
        solution = ""
    protocol = (item.get("protocol") or "").strip().lower()
    service = (item.get("svc_name") or "").strip().lower()
    return ParsedFinding(
        tool=TOOL,
        rule_id=plugin_id,
        title=clean(item.get("pluginName") or text_of(item, "plugin_name"), 500) or plugin_id,
        severity=_SEVERITY.get((item.get("severity") or "").strip(), "info"),
        asset=Asset(
            host=host,
            port=to_port(item.get("port")),
            protocol=protocol if protocol in ("tcp", "udp") else "",
            service="" if service == "general" else service,
        ),
        cves=cves_in(*cve_texts),
        cwes=cwes_in(*cwe_texts),
        cvss_vector=vector,
        cvss_score=score,
        description=description,
        solution=solution,
        references=references_in(*see_also),
        evidence=evidence(text_of(item, "plugin_output")),
        observed_at=observed,
    )
