"""ProjectDiscovery Nuclei results: JSON lines (`-jsonl`, one result a line) or one JSON
array (`-json-export`). One finding per result: the template on the matched target
(URL, or host:port for network templates); the matcher name, when the template has
several, is the location. Pure module (no Django import).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .model import (
    Asset,
    ParsedFinding,
    ParseError,
    Severity,
    asset_from_url,
    clean,
    cves_in,
    cwes_in,
    evidence,
    iso_time,
    prose,
    references_in,
    severity_from_word,
    to_float,
    to_port,
)
from .streams import Readable, json_items, lines, read_head

TOOL = "nuclei"


def parse(stream: Readable) -> Iterator[ParsedFinding]:
    head, replay = read_head(stream)
    if head.lstrip().startswith(b"["):
        for number, item in enumerate(json_items(replay, "item"), start=1):
            yield _finding(item, f"item {number}")
        return
    for number, line in lines(replay):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise ParseError(
                f"Line {number} is not JSON: Nuclei JSONL has one result a line."
            ) from None
        yield _finding(item, f"line {number}")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int))]
    return []


def _asset(item: dict[str, Any]) -> Asset:
    matched = str(item.get("matched-at") or item.get("matched") or item.get("host") or "")
    if "://" in matched:
        return asset_from_url(matched)
    host, _, port = matched.rpartition(":")
    if not host or not port.isdigit():
        host, port = matched, str(item.get("port") or "")
    host = host.strip("[]").lower()
    if not host:
        host = str(item.get("ip") or "").lower()
    kind = str(item.get("type") or "").lower()
    return Asset(
        host=host,
        port=to_port(port),
        protocol="udp" if kind == "dns" and to_port(port) else ("tcp" if to_port(port) else ""),
        service=kind if kind in ("dns", "ssl", "network", "tcp") else "",
    )


def _finding(item: Any, where: str) -> ParsedFinding:
    if not isinstance(item, dict):
        raise ParseError(f"Nuclei {where} is not a JSON object.")
    template = str(item.get("template-id") or item.get("templateID") or "").strip()
    if not template:
        raise ParseError(f"Nuclei {where} has no template-id: not a Nuclei result.")
    info = item.get("info") or {}
    if not isinstance(info, dict):
        info = {}
    classification = info.get("classification") or {}
    if not isinstance(classification, dict):
        classification = {}
    severity: Severity = severity_from_word(str(info.get("severity") or "")) or "info"
    references = references_in(*_strings(info.get("reference")))
    extracted = "\n".join(_strings(item.get("extracted-results")))
    request = str(item.get("curl-command") or item.get("request") or "")
    observed = iso_time(str(item.get("timestamp") or ""))
    matcher = str(item.get("matcher-name") or item.get("extractor-name") or "")
    return ParsedFinding(
        tool=TOOL,
        rule_id=template,
        title=clean(str(info.get("name") or template), 500),
        severity=severity,
        asset=_asset(item),
        location=clean(matcher, 500),
        cves=cves_in(template, *_strings(classification.get("cve-id"))),
        cwes=cwes_in(*_strings(classification.get("cwe-id"))),
        cvss_vector=clean(str(classification.get("cvss-metrics") or ""), 200),
        cvss_score=to_float(classification.get("cvss-score")),
        description=prose(str(info.get("description") or "")),
        solution=prose(str(info.get("remediation") or "")),
        references=references,
        evidence=evidence("\n".join(part for part in (extracted, request) if part)),
        observed_at=observed,
    )
