"""IODEF v2 (RFC 7970) documents: one event per System (source or target) per Flow.

Parsed with defusedxml with DTDs, entities and external references refused, the same
rules as the incidents app's `parse_iodef` (which needs Django, so it is not imported).
"""

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from defusedxml import (  # type: ignore[import-untyped]
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
)
from defusedxml import ElementTree as SafeET

from bulwark.exchange.engine.event import TAXONOMY_OF_TYPE
from bulwark.exchange.engine.formats.base import (
    Context,
    Item,
    Readable,
    ReportError,
    clip,
    read_document,
)

NS = "urn:ietf:params:xml:ns:iodef-2.0"
V1_NS = "urn:ietf:params:xml:ns:iodef-1.0"
MAX_IODEF_BYTES = 20 << 20


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def looks_like(head: bytes) -> bool:
    return b"IODEF-Document" in head[:4000]


def parse_xml(data: bytes) -> ET.Element:
    try:
        root: ET.Element = SafeET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DTDForbidden:
        raise ReportError(
            "Refused: the document has a DTD (<!DOCTYPE>); DTDs carry entity-expansion and "
            "external-entity (XXE) attacks."
        ) from None
    except EntitiesForbidden:
        raise ReportError("Refused: the document declares XML entities.") from None
    except DefusedXmlException as exc:
        raise ReportError(f"Refused: unsafe XML construct ({type(exc).__name__}).") from None
    except ET.ParseError as exc:
        raise ReportError(f"The document is not well-formed XML: {exc}.") from None
    return root


def parse(stream: Readable, ctx: Context) -> Iterator[Item]:
    data = read_document(stream, "IODEF document")
    if len(data) > MAX_IODEF_BYTES:
        raise ReportError(f"The IODEF document is over the {MAX_IODEF_BYTES:,}-byte limit.")
    root = parse_xml(data)
    if root.tag == f"{{{V1_NS}}}IODEF-Document":
        raise ReportError("This is IODEF v1 (RFC 5070); only IODEF v2 (RFC 7970) is read.")
    if root.tag != _q("IODEF-Document"):
        raise ReportError(f"The root element is {root.tag[:120]!r}, not an IODEF v2 document.")
    number = 0
    for incident in root.findall(_q("Incident")):
        incident_id = incident.find(_q("IncidentID"))
        reference = ""
        number_text = (incident_id.text or "").strip() if incident_id is not None else ""
        if incident_id is not None and number_text:
            reference = f"{incident_id.get('name', '')}#{number_text}"[:100]
            ctx.foreign_ticket = ctx.foreign_ticket or reference
        common = _incident_fields(incident, ctx, reference)
        for event_data in incident.iter(_q("EventData")):
            for flow in event_data.findall(_q("Flow")):
                for system in flow.findall(_q("System")):
                    number += 1
                    raw = clip(ET.tostring(system, encoding="unicode"))
                    try:
                        fields = {**common, **_system_fields(system)}
                    except ValueError as exc:
                        yield Item(number, raw, error=str(exc))
                        continue
                    yield Item(number, raw, fields)
    if number == 0:
        raise ReportError("The IODEF document names no System (EventData/Flow/System).")


def _incident_fields(incident: ET.Element, ctx: Context, reference: str) -> dict[str, Any]:
    categories = [
        (c.text or "").strip().lower() for c in incident.iter(_q("IncidentCategory")) if c.text
    ]
    rsit = next((c for c in categories if c in TAXONOMY_OF_TYPE), "undetermined")
    detect = incident.findtext(_q("DetectTime")) or incident.findtext(_q("StartTime"))
    return {
        "classification.type": rsit,
        "classification.identifier": categories[0] if categories else rsit,
        "time.source": (detect or "").strip() or None,
        "feed.name": ctx.feed or "iodef",
        "feed.provider": ctx.provider or (reference.split("#")[0] if reference else ""),
        "event_description.text": (incident.findtext(_q("Description")) or "").strip()[:1000],
        "extra.foreign_ticket": reference,
    }


def _system_fields(system: ET.Element) -> dict[str, Any]:
    side = "destination" if system.get("category") == "target" else "source"
    node = system.find(_q("Node"))
    if node is None:
        raise ValueError("the System has no Node")
    fields: dict[str, Any] = {}
    for address in node.findall(_q("Address")):
        category = address.get("category", "ipv4-addr")
        value = (address.text or "").strip()
        if category in ("ipv4-addr", "ipv6-addr") and value:
            fields.setdefault(f"{side}.ip", value)
        elif category == "asn" and value:
            fields.setdefault(f"{side}.asn", value)
    name = node.findtext(f"{_q('DomainData')}/{_q('Name')}")
    if name:
        fields[f"{side}.fqdn"] = name.strip()
    service = system.find(_q("Service"))
    if service is not None:
        port = service.findtext(_q("Port"))
        if port:
            fields[f"{side}.port"] = port.strip()
        proto = {"6": "tcp", "17": "udp", "1": "icmp"}.get(service.get("ip-protocol", ""))
        if proto:
            fields["protocol.transport"] = proto
    if not fields:
        raise ValueError("the System's Node has no address or domain name")
    return fields
