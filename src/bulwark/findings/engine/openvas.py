"""OpenVAS / Greenbone (GVM) XML report: one finding per <result> of <results>; the
report's <ports> (each port a result was found on, per host) and <host> details (each host
scanned, with its best operating-system guess) as services: a host scanned and found clean
is still a scanned host.

Severity from the result's numeric <severity> (CVSS ranges; 0 = log = info), else its
<threat>. CVSS vector from the NVT's <severities> (GVM 21.04+) or its tags
(cvss_base_vector). Pure module (no Django import).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
    iso_time,
    prose,
    severity_from_score,
    severity_from_word,
    to_float,
)
from .streams import Readable, iterparse, release, text_of

TOOL = "openvas"
_PORT = re.compile(r"(?:(?P<name>[\w.-]+)\s*\()?(?P<port>\d+|general)/(?P<proto>tcp|udp|icmp|\w+)")


def parse(stream: Readable) -> Iterator[ParsedFinding | ParsedService]:
    seen_root = False
    for event, element in iterparse(
        stream,
        ("report", "get_reports_response", "result", "host", "ports"),
        events=("start", "end"),
    ):
        if not seen_root:
            if element.tag not in ("report", "get_reports_response"):
                raise ParseError(f"Not an OpenVAS report: the root element is <{element.tag}>.")
            seen_root = True
            continue
        if event != "end":
            continue
        parent = element.getparent()
        if element.tag == "result":
            if parent is not None and parent.tag == "results":
                yield _finding(element)
                release(element)
        elif element.tag == "host" and parent is not None and parent.tag == "report":
            yield from _host(element)
            release(element)  # host details after the results
        elif element.tag == "ports" and parent is not None and parent.tag == "report":
            yield from _ports(element)
            release(element)
    if not seen_root:
        raise ParseError("Not an OpenVAS report: no <report> root element.")


_OS_DETAILS = ("best_os_txt", "OS", "best_os_cpe")


def _host(host: Any) -> Iterator[ParsedService]:
    """A host the report covers (`<ip>`), its operating system from its details."""
    address = text_of(host, "ip").strip().lower()
    if not address:
        return
    details = {text_of(d, "name"): text_of(d, "value") for d in host.iterfind("detail")}
    system = next((details[k] for k in _OS_DETAILS if details.get(k)), "")
    yield ParsedService(asset=Asset(host=address), product=clean(system, 200))


def _ports(ports: Any) -> Iterator[ParsedService]:
    """The report's ports ("443/tcp" with its host): each an open port of that host."""
    seen: set[tuple[str, int, str]] = set()
    for port in ports.iterfind("port"):
        host = text_of(port, "host").strip().lower()
        match = _PORT.search((port.text or "").strip())
        if not host or not match or not match.group("port").isdigit():
            continue
        number = int(match.group("port"))
        protocol = match.group("proto") if match.group("proto") in ("tcp", "udp") else ""
        if not 0 < number < 65536 or (host, number, protocol) in seen:
            continue
        seen.add((host, number, protocol))
        service = (match.group("name") or "").lower()
        yield ParsedService(asset=Asset(host=host, port=number, protocol=protocol, service=service))


def _tags(nvt: Any) -> dict[str, str]:
    raw = text_of(nvt, "tags") if nvt is not None else ""
    tags: dict[str, str] = {}
    for part in raw.split("|"):
        key, _, value = part.partition("=")
        if key and value:
            tags[key.strip()] = value.strip()
    return tags


def _finding(result: Any) -> ParsedFinding:
    nvt = result.find("nvt")
    oid = (nvt.get("oid") if nvt is not None else "") or ""
    name = clean(text_of(result, "name") or (text_of(nvt, "name") if nvt is not None else ""), 500)
    if not name:
        raise ParseError(f"An OpenVAS result on line {result.sourceline} has no name.")
    tags = _tags(nvt)
    host_element = result.find("host")
    host = ""
    if host_element is not None:
        host = (host_element.text or "").strip().lower()
        if not host:
            host = text_of(host_element, "hostname").strip().lower()
    port_text = text_of(result, "port").strip()
    port = None
    protocol = ""
    service = ""
    match = _PORT.search(port_text)
    if match:
        if match.group("port").isdigit() and 0 < int(match.group("port")) < 65536:
            port = int(match.group("port"))
        protocol = match.group("proto") if match.group("proto") in ("tcp", "udp") else ""
        service = (match.group("name") or "").lower()
    score = to_float(text_of(result, "severity"))
    severity: Severity = (
        severity_from_score(score) or severity_from_word(text_of(result, "threat")) or "info"
    )
    vector = ""
    if nvt is not None:
        for candidate in nvt.iterfind("severities/severity"):
            value = text_of(candidate, "value").strip()
            if value:
                vector = value
                break
    vector = vector or tags.get("cvss_base_vector", "")
    if vector in ("", "AV:N/AC:L/Au:N/C:N/I:N/A:N") and not score:
        vector = ""
    cve_texts: list[str] = []
    references: list[str] = []
    cwe_texts: list[str] = []
    if nvt is not None:
        for ref in nvt.iterfind("refs/ref"):
            kind, ident = (ref.get("type") or "").lower(), ref.get("id") or ""
            if kind == "cve":
                cve_texts.append(ident)
            elif kind == "url" and ident.startswith(("http://", "https://")):
                references.append(ident)
            elif kind == "cwe":
                cwe_texts.append(ident)
        cve_texts.append(text_of(nvt, "cve"))
    summary = tags.get("summary", "")
    insight = tags.get("insight", "")
    impact = tags.get("impact", "")
    description = "\n\n".join(part for part in (summary, insight, impact) if part)
    solution = text_of(nvt, "solution") if nvt is not None else ""
    solution = solution or tags.get("solution", "")
    observed = iso_time(text_of(result, "modification_time")) or iso_time(
        text_of(result, "creation_time")
    )
    return ParsedFinding(
        tool=TOOL,
        rule_id=oid or name,
        title=name,
        severity=severity,
        asset=Asset(host=host, port=port, protocol=protocol, service=service),
        cves=cves_in(*cve_texts),
        cwes=cwes_in(*cwe_texts),
        cvss_vector=vector,
        cvss_score=score,
        description=prose(description),
        solution=prose(solution),
        references=tuple(dict.fromkeys(references)),
        evidence=evidence(text_of(result, "description")),
        observed_at=observed,
    )
