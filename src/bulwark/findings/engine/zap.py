"""OWASP ZAP reports, XML (OWASPZAPReport, also "XML plus") and JSON (the traditional JSON
report): one finding per alert instance (one problem on one URL and parameter), or per
alert when an old report lists no instances; each site the report covers (host, port,
http or https) a service, also a site without any alert.

Severity from riskcode (0 info, 1 low, 2 medium, 3 high). Pure module (no Django import).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from .model import (
    Asset,
    ParsedFinding,
    ParsedService,
    ParseError,
    Severity,
    asset_from_url,
    clean,
    cwes_in,
    evidence,
    plain,
    references_in,
    to_port,
)
from .streams import Readable, iterparse, json_events, release, text_of

TOOL = "zap"
_SITE_KEYS = frozenset({"site.item.@name", "site.item.@host", "site.item.@port", "site.item.@ssl"})
_RISK: dict[str, Severity] = {"0": "info", "1": "low", "2": "medium", "3": "high", "4": "critical"}


def _generated(value: str) -> datetime | None:
    """ZAP's "generated" stamp, e.g. "Tue, 12 May 2020 20:57:30" (English locale only)."""
    for pattern in ("%a, %d %b %Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _site(name: str, host: str, port: str, ssl: str) -> Iterator[ParsedService]:
    """A site the report covers, from its attributes (or its URL when they are absent)."""
    asset = asset_from_url(name) if name else Asset("")
    host = (host or asset.host).strip().lower()
    if not host:
        return
    number = to_port(port) or asset.port
    secure = ssl.strip().lower() == "true" if ssl else asset.service == "https"
    yield ParsedService(
        asset=Asset(host=host, port=number, protocol="tcp" if number else "",
                    service="https" if secure else "http")
    )  # fmt: skip


def _alert_findings(
    alert: dict[str, Any], site: str, observed: datetime | None
) -> Iterator[ParsedFinding]:
    plugin = str(alert.get("pluginid") or alert.get("alertRef") or "").strip()
    title = clean(str(alert.get("alert") or alert.get("name") or ""), 500)
    if not title:
        raise ParseError("A ZAP alert has no name.")
    risk = str(alert.get("riskcode") or "").strip()
    if risk not in _RISK:
        raise ParseError(f"ZAP alert {title!r}: riskcode {risk[:10]!r} is not 0-3.")
    reference = str(alert.get("reference") or "")
    other = plain(str(alert.get("otherinfo") or ""))
    common = ParsedFinding(
        tool=TOOL,
        rule_id=plugin or title,
        title=title,
        severity=_RISK[risk],
        asset=asset_from_url(site),
        cwes=cwes_in(str(alert.get("cweid") or "")),
        description=plain(str(alert.get("desc") or "")),
        solution=plain(str(alert.get("solution") or "")),
        references=references_in(plain(reference)),
        evidence=evidence(other),
        observed_at=observed,
    )
    instances = alert.get("instances") or []
    if not instances:
        yield common
        return
    for instance in instances:
        uri = str(instance.get("uri") or site)
        method = str(instance.get("method") or "")
        attack = str(instance.get("attack") or "")
        found = str(instance.get("evidence") or "")
        lines = [
            f"{method} {uri}".strip(),
            f"Attack: {attack}" if attack else "",
            f"Evidence: {found}" if found else "",
            plain(str(instance.get("otherinfo") or "")) or other,
        ]
        yield replace(
            common,
            asset=asset_from_url(uri),
            location=clean(str(instance.get("param") or ""), 500),
            evidence=evidence("\n".join(line for line in lines if line)),
        )


def parse_xml(stream: Readable) -> Iterator[ParsedFinding | ParsedService]:
    seen_root = False
    site = ""
    observed = None
    for event, element in iterparse(
        stream, ("OWASPZAPReport", "site", "alertitem"), ("start", "end")
    ):
        if not seen_root:
            if element.tag != "OWASPZAPReport":
                raise ParseError(f"Not a ZAP XML report: the root element is <{element.tag}>.")
            observed = _generated(element.get("generated") or "")
            seen_root = True
            continue
        if element.tag == "site":
            if event == "start":
                site = element.get("name") or ""
                yield from _site(
                    site, element.get("host") or "", element.get("port") or "",
                    element.get("ssl") or "",
                )  # fmt: skip
            else:
                release(element)
            continue
        if event != "end" or element.tag != "alertitem":
            continue
        alert: dict[str, Any] = {
            child.tag: child.text or ""
            for child in element
            if child.tag not in ("instances",) and isinstance(child.tag, str)
        }
        alert["instances"] = [
            {child.tag: child.text or "" for child in instance if isinstance(child.tag, str)}
            for instance in element.iterfind("instances/instance")
        ]
        if not alert["instances"] and text_of(element, "uri"):
            alert["instances"] = [
                {"uri": text_of(element, "uri"), "param": text_of(element, "param")}
            ]
        yield from _alert_findings(alert, site, observed)
        release(element)
    if not seen_root:
        raise ParseError("Not a ZAP XML report.")


def parse_json(stream: Readable) -> Iterator[ParsedFinding | ParsedService]:
    import ijson  # type: ignore[import-untyped]

    events = json_events(stream)
    observed = None
    saw_site = False
    site = ""
    for prefix, event, value in events:
        if prefix == "@generated" and event == "string":
            observed = _generated(value)
        elif prefix == "site" and event == "start_array":
            saw_site = True
        elif prefix == "site.item" and event == "start_map":
            attributes: dict[str, str] = {}
        elif prefix in _SITE_KEYS and event in ("string", "number"):
            attributes[prefix[11:]] = str(value)
            if prefix == "site.item.@name":
                site = str(value)
        elif prefix == "site.item" and event == "end_map":
            yield from _site(
                attributes.get("name", ""), attributes.get("host", ""),
                attributes.get("port", ""), attributes.get("ssl", ""),
            )  # fmt: skip
        elif prefix == "site.item.alerts.item" and event == "start_map":
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            depth = 1
            for _, inner_event, inner_value in events:
                builder.event(inner_event, inner_value)
                if inner_event in ("start_map", "start_array"):
                    depth += 1
                elif inner_event in ("end_map", "end_array"):
                    depth -= 1
                    if depth == 0:
                        break
            alert = builder.value
            if not isinstance(alert, dict):
                raise ParseError("A ZAP alert is not a JSON object.")
            yield from _alert_findings(alert, site, observed)
    if not saw_site:
        raise ParseError('Not a ZAP JSON report: there is no "site" list.')


def parse(stream: Readable) -> Iterator[ParsedFinding | ParsedService]:
    from .streams import looks_xml, read_head

    head, replay = read_head(stream)
    return parse_xml(replay) if looks_xml(head) else parse_json(replay)
