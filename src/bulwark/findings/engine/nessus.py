"""Tenable Nessus `.nessus` (NessusClientData_v2): one finding per ReportItem, and the
hosts and ports the scan covered as services.

Streaming: lxml iterparse over ReportHost/HostProperties/ReportItem only, each item
released once read, the Policy block dropped unread. Severity is the item's 0-4
`severity` attribute (0 = informational), CVSS the v4, else v3, vector and score as given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .model import (
    Asset,
    ParsedFinding,
    ParsedService,
    ParseError,
    Severity,
    clean,
    cves_in,
    cwes_in,
    evidence,
    prose,
    to_float,
    to_port,
)
from .streams import Readable, iterparse, release

TOOL = "nessus"
_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}\Z")
_SEVERITY: dict[str, Severity] = {
    "0": "info",
    "1": "low",
    "2": "medium",
    "3": "high",
    "4": "critical",
}


def parse(stream: Readable) -> Iterator[ParsedFinding | ParsedService]:
    """Each ReportItem as a finding; each host the file covers as a ParsedService without
    a port (its operating system as the product), yielded also when the host had nothing
    to report (a clean host: its old findings can be marked mitigated by a full re-scan);
    each port a check ran on as a ParsedService with that port, once per host."""
    host = ""
    system = ""
    observed: datetime | None = None
    ports: set[tuple[int, str]] = set()
    checked = False
    tags = ("Policy", "HostProperties", "ReportItem", "ReportHost")
    for _, element in iterparse(stream, tags):
        if not checked:
            root = element.getroottree().getroot().tag
            if root != "NessusClientData_v2":
                raise ParseError(f"Not a Nessus v2 file: the root element is <{root}>.")
            checked = True
        tag = element.tag
        if tag == "ReportItem":
            parent = element.getparent()
            if parent is not None and parent.tag == "ReportHost" and not host:
                host = (parent.get("name") or "").strip().lower()
            finding = _finding(element, host, observed)
            yield finding
            asset = finding.asset
            if asset.port and (asset.port, asset.protocol) not in ports and host:
                ports.add((asset.port, asset.protocol))
                yield ParsedService(asset=asset)
            release(element)
        elif tag == "HostProperties":
            # HostProperties opens each ReportHost: the host's name and end time
            parent = element.getparent()
            host = (parent.get("name") or "").strip().lower() if parent is not None else ""
            if not host:
                host = _property(element, "host-ip") or _property(element, "host-fqdn")
            system = _property(element, "operating-system", lower=False).split("\n")[0]
            observed = _host_end(element)
            release(element)
        elif tag == "ReportHost":
            host = host or (element.get("name") or "").strip().lower()
            if host:
                yield ParsedService(asset=Asset(host=host), product=clean(system, 200))
            host, system, observed = "", "", None
            ports = set()
            release(element)
        else:
            release(element)


def _property(properties: Any, name: str, *, lower: bool = True) -> str:
    for tag in properties.iterchildren("tag"):
        if tag.get("name") == name:
            text = str(tag.text or "").strip()
            return text.lower() if lower else text
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


_SIMPLE = frozenset(
    (
        "cvss4_vector",
        "cvss4_base_score",
        "cvss3_vector",
        "cvss3_base_score",
        "cvss_vector",
        "cvss_base_score",
        "synopsis",
        "description",
        "solution",
        "plugin_output",
        "plugin_name",
    )
)


def _cves(texts: list[str]) -> tuple[str, ...]:
    """<cve> elements hold one id each: checked and upper-cased without a text search."""
    if not texts:
        return ()
    ids = [text.strip().upper() for text in texts]
    if all(_CVE_ID.match(i) for i in ids):
        return tuple(dict.fromkeys(ids))
    return cves_in(*texts)


def _urls(texts: list[str]) -> tuple[str, ...]:
    """<see_also> holds URLs one per line."""
    if not texts:
        return ()
    urls = [t for text in texts for t in text.split() if t.startswith(("http://", "https://"))]
    return tuple(dict.fromkeys(u for u in urls if len(u) < 2048))


def _finding(item: Any, host: str, observed: datetime | None) -> ParsedFinding:
    plugin_id = (item.get("pluginID") or "").strip()
    if not plugin_id:
        raise ParseError(f"A Nessus ReportItem on line {item.sourceline} has no pluginID.")
    fields: dict[str, str] = {}
    cve_texts: list[str] = []
    cwe_texts: list[str] = []
    see_also: list[str] = []
    for child in item:  # one pass over the item's children
        tag = child.tag
        if tag in _SIMPLE:
            fields[tag] = child.text or ""
        elif tag == "cve":
            cve_texts.append(child.text or "")
        elif tag == "cwe":
            cwe_texts.append(child.text or "")
        elif tag == "see_also":
            see_also.append(child.text or "")
    vector = ""
    score = None
    for version in ("cvss4", "cvss3", "cvss"):
        vector = fields.get(f"{version}_vector", "").strip()
        if vector:
            score = to_float(fields.get(f"{version}_base_score"))
            break
    if vector.startswith("CVSS2#"):
        vector = vector[len("CVSS2#") :]
    synopsis = prose(fields.get("synopsis"), xml=True)
    description = prose(fields.get("description"), xml=True)
    if synopsis and synopsis not in description:
        description = f"{synopsis}\n\n{description}" if description else synopsis
    solution = prose(fields.get("solution"), xml=True)
    if solution.lower() == "n/a":
        solution = ""
    protocol = (item.get("protocol") or "").strip().lower()
    service = (item.get("svc_name") or "").strip().lower()
    title = item.get("pluginName") or fields.get("plugin_name")
    return ParsedFinding(
        tool=TOOL,
        rule_id=plugin_id,
        title=clean(title, 500, xml=True) or plugin_id,
        severity=_SEVERITY.get((item.get("severity") or "").strip(), "info"),
        asset=Asset(
            host=host,
            port=to_port(item.get("port")),
            protocol=protocol if protocol in ("tcp", "udp") else "",
            service="" if service == "general" else service,
        ),
        cves=_cves(cve_texts),
        cwes=cwes_in(*cwe_texts),
        cvss_vector=vector,
        cvss_score=score,
        description=description,
        solution=solution,
        references=_urls(see_also),
        evidence=evidence(fields.get("plugin_output"), xml=True),
        observed_at=observed,
    )
