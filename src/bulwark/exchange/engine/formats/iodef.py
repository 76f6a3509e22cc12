"""IODEF documents, version 2 (RFC 7970) and version 1 (RFC 5070).

Every document passes one XML guard first (`core.safexml.parse_xml`, defusedxml: DTDs,
entities and external references refused), the only XML guard in Bulwark (the incidents
app's IODEF importer uses it too). It is then validated against its version's XML schema (RFC 7970
section 8 / RFC 5070 section 8, vendored under `schemas/iodef/`); a document the schema
refuses is refused with the schema's own message (element, line and what it expected).

What a valid document carries becomes events:

- one event per `EventData/Flow/System` (source or target side, addresses, domain name,
  service port and protocol);
- one event per indicator value in `IndicatorData/Indicator/Observable` (RFC 7970):
  `Address`, `DomainData/Name`, `BulkObservable` lists (ipv4/ipv6/fqdn/url/...) and the
  `System`s of observables;
- a document with neither (RFC 7970's minimal example) is read with no event; its
  IncidentID is still kept as the sender's ticket.

The classification comes from `Assessment/IncidentCategory` (an RSIT type), else from
the RFC 5070 `Impact type` or the RFC 7970 `SystemImpact type` / `BusinessImpact type`;
the incident's restriction, purpose, status and indicator ids are kept under `extra.`.
"""

import functools
import ipaddress
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bulwark.core.safexml import RefusedXML, parse_xml
from bulwark.exchange.engine.event import TAXONOMY_OF_TYPE, TYPE_ALIASES
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
SCHEMAS = Path(__file__).resolve().parent / "schemas" / "iodef"
SCHEMA_FILES = {NS: "iodef-2.0.xsd", V1_NS: "iodef-1.0.xsd"}
VERSIONS = {NS: "2.00", V1_NS: "1.00"}

# Impact types (RFC 5070 Impact, RFC 7970 SystemImpact/BusinessImpact) -> RSIT type
IMPACT_TYPES = {
    "admin": "privileged-account-compromise",
    "user": "unprivileged-account-compromise",
    "takeover-account": "unprivileged-account-compromise",
    "takeover-service": "system-compromise",
    "takeover-system": "system-compromise",
    "dos": "dos",
    "file": "data-loss",
    "info-leak": "data-leak",
    "breach-privacy": "data-leak",
    "breach-proprietary": "data-leak",
    "misconfiguration": "misconfiguration",
    "policy": "undetermined",
    "social-engineering": "social-engineering",
    "recon": "scanner",
    "extortion": "other",
    "integrity-data": "unauthorised-information-modification",
    "integrity-configuration": "unauthorised-information-modification",
    "integrity-hardware": "sabotage",
    "integrity-software": "system-compromise",
    "availability-data": "data-loss",
    "availability-account": "dos",
    "availability-service": "dos",
    "availability-system": "dos",
    "damaged-system": "sabotage",
    "damaged-data": "data-loss",
    "breach-credential": "data-leak",
    "theft-financial": "other",
    "theft-service": "unauthorised-use-of-resources",
}
# BulkObservable type / Address category -> the event field of one value
_OBSERVABLE_FIELD = {
    "ipv4-addr": "ip",
    "ipv6-addr": "ip",
    "ipv4": "ip",
    "ipv6": "ip",
    "fqdn": "fqdn",
    "domain-name": "fqdn",
    "url": "url",
    "asn": "asn",
    "ipv4-net": "network",
    "ipv6-net": "network",
    "ipv4-net-mask": "network",
    "ipv6-net-mask": "network",
    "email": "email",
}


def looks_like(head: bytes) -> bool:
    return b"IODEF-Document" in head[:4000]


@functools.cache
def _schema(namespace: str) -> Any:
    # Lazy: lxml is imported only when an IODEF document is validated.
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    document = etree.parse(str(SCHEMAS / SCHEMA_FILES[namespace]), parser)
    return etree.XMLSchema(document)


def schema_errors(data: bytes, namespace: str = NS, limit: int = 3) -> list[str]:
    """What the IODEF XML schema of that version finds wrong with a document that passed
    `parse_xml` (so it has no DTD or entity), at most `limit` messages; [] if valid."""
    # Lazy: lxml is imported only when an IODEF document is validated.
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        document = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    schema = _schema(namespace)
    if schema.validate(document):
        return []
    if namespace == NS and _errata_6163(document) and schema.validate(document):
        return []
    messages = []
    for error in list(schema.error_log)[:limit]:
        message = error.message.replace("{" + namespace + "}", "")
        if len(message) > 400:
            message = message[:400] + "...}"
        messages.append(f"line {error.line}: {message}")
    return messages


def _errata_6163(document: Any) -> bool:
    """RFC 7970's own campaign example (section 7.2) writes `BulkObservable type="fqdn"`,
    which its schema does not list (RFC errata 6163: `domain-name` is meant). Senders copy
    the RFC's examples, so such a value is read as the erratum corrects it (the reader maps
    both to the same field); everything else about the document is still checked. True if
    the document had such a value (it is changed in place)."""
    changed = False
    for element in document.iter(f"{{{NS}}}BulkObservable"):
        if element.get("type") == "fqdn":
            element.set("type", "domain-name")
            changed = True
    return changed


def parse(stream: Readable, ctx: Context) -> Iterator[Item]:
    data = read_document(stream, "IODEF document")
    if len(data) > MAX_IODEF_BYTES:
        raise ReportError(f"The IODEF document is over the {MAX_IODEF_BYTES:,}-byte limit.")
    try:
        root = parse_xml(data)
    except RefusedXML as exc:
        raise ReportError(str(exc)) from None
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    local = root.tag.rpartition("}")[2]
    if local != "IODEF-Document":
        raise ReportError(f"The root element is <{local[:80]}>, not an IODEF-Document.")
    if namespace not in SCHEMA_FILES:
        raise ReportError(
            f"The IODEF-Document is in namespace {namespace[:120]!r}; read are {NS!r} "
            f"(IODEF v2, RFC 7970) and {V1_NS!r} (IODEF v1, RFC 5070)."
        )
    errors = schema_errors(data, namespace)
    if errors:
        rfc = "RFC 7970" if namespace == NS else "RFC 5070"
        raise ReportError(
            f"The document is not valid IODEF {VERSIONS[namespace]} ({rfc} schema): "
            + "; ".join(errors)
        )
    reader = _Reader(namespace, ctx)
    yield from reader.items(root)


class _Reader:
    def __init__(self, namespace: str, ctx: Context) -> None:
        self.ns = namespace
        self.ctx = ctx
        self.number = 0

    def q(self, tag: str) -> str:
        return f"{{{self.ns}}}{tag}"

    def path(self, *tags: str) -> str:
        return "/".join(self.q(t) for t in tags)

    def items(self, root: ET.Element) -> Iterator[Item]:
        for incident in root.findall(self.q("Incident")):
            common = self._incident_fields(incident)
            for event_data in incident.iter(self.q("EventData")):
                for flow in event_data.findall(self.q("Flow")):
                    for system in flow.findall(self.q("System")):
                        yield self._item(system, common, lambda s=system: self._system(s))
            indicators = incident.find(self.q("IndicatorData"))
            if indicators is not None:
                for indicator in indicators.iter(self.q("Indicator")):
                    yield from self._indicator(indicator, common)

    def _item(self, element: ET.Element, common: dict[str, Any], read: Any) -> Item:
        self.number += 1
        raw = clip(ET.tostring(element, encoding="unicode"))
        try:
            return Item(self.number, raw, {**common, **read()})
        except ValueError as exc:
            return Item(self.number, raw, error=str(exc))

    def _incident_fields(self, incident: ET.Element) -> dict[str, Any]:
        ctx = self.ctx
        incident_id = incident.find(self.q("IncidentID"))
        reference = ""
        number_text = (incident_id.text or "").strip() if incident_id is not None else ""
        if incident_id is not None and number_text:
            reference = f"{incident_id.get('name', '')}#{number_text}"[:100]
            ctx.foreign_ticket = ctx.foreign_ticket or reference
        categories = [
            (c.text or "").strip().lower()
            for c in incident.iter(self.q("IncidentCategory"))
            if c.text
        ]
        impacts = [
            i.get("type", "")
            for tag in ("Impact", "SystemImpact", "BusinessImpact")
            for i in incident.iter(self.q(tag))
        ]
        rsit = next(
            (
                TYPE_ALIASES.get(c, c)
                for c in categories
                if TYPE_ALIASES.get(c, c) in TAXONOMY_OF_TYPE
            ),
            None,
        ) or next((IMPACT_TYPES[i] for i in impacts if i in IMPACT_TYPES), "undetermined")
        detect = (
            incident.findtext(self.q("DetectTime"))
            or incident.findtext(self.q("StartTime"))
            or incident.findtext(self.q("ReportTime"))
            or incident.findtext(self.q("GenerationTime"))
        )
        creator = incident.find(self.q("Contact"))
        provider = ctx.provider or (reference.split("#")[0] if reference else "")
        if not ctx.provider and creator is not None:
            provider = (creator.findtext(self.q("ContactName")) or "").strip() or provider
        descriptions = [
            " ".join((d.text or "").split()) for d in incident.findall(self.q("Description"))
        ]
        return {
            "classification.type": rsit,
            "classification.identifier": categories[0] if categories else rsit,
            "time.source": (detect or "").strip() or None,
            "feed.name": ctx.feed or "iodef",
            "feed.provider": provider[:200],
            "event_description.text": " / ".join(d for d in descriptions if d)[:1000],
            "extra.foreign_ticket": reference,
            "extra.iodef_version": VERSIONS[self.ns],
            "extra.purpose": incident.get("purpose"),
            "extra.restriction": incident.get("restriction"),
            "extra.incident_status": incident.get("status"),
            "extra.impact": ",".join(i for i in impacts if i) or None,
        }

    def _system(self, system: ET.Element) -> dict[str, Any]:
        side = "destination" if system.get("category") == "target" else "source"
        fields: dict[str, Any] = {}
        category = system.get("category")
        if category and category not in ("source", "target"):
            fields["extra.system_category"] = category
        for node in system.findall(self.q("Node")):
            self._node(node, side, fields)
        service = system.find(self.q("Service"))
        if service is not None:
            port = service.findtext(self.q("Port"))
            if port:
                fields[f"{side}.port"] = port.strip()
            number = service.get("ip-protocol") or service.get("ip_protocol") or ""  # v2 / v1
            proto = {"6": "tcp", "17": "udp", "1": "icmp"}.get(number)
            if proto:
                fields["protocol.transport"] = proto
            application = service.findtext(self.q("ServiceName")) or service.findtext(
                self.path("Application", "Description")
            )
            if application:
                fields["protocol.application"] = application.strip()
        description = system.findtext(self.q("Description"))
        if description:
            fields["extra.system_description"] = " ".join(description.split())
        if not any(k.startswith(side + ".") and not k.endswith(".port") for k in fields):
            raise ValueError("the System's Node has no address or domain name")
        return fields

    def _node(self, node: ET.Element, side: str, fields: dict[str, Any]) -> None:
        for address in node.findall(self.q("Address")):
            self._value(fields, side, address.get("category", "ipv4-addr"), address.text)
        for name in (
            node.findtext(self.path("DomainData", "Name")),
            node.findtext(self.q("NodeName")),  # RFC 5070
        ):
            if name and name.strip():
                fields.setdefault(f"{side}.fqdn", name.strip())

    def _value(self, fields: dict[str, Any], side: str, kind: str, text: str | None) -> None:
        value = (text or "").strip()
        field = _OBSERVABLE_FIELD.get(kind)
        if not value or field is None:
            if value:
                fields.setdefault(f"extra.{kind.replace('-', '_')}", value)
            return
        if field == "email":
            fields.setdefault("extra.email", value)
            fields.setdefault(f"{side}.fqdn", value.rpartition("@")[2])
            return
        if field == "network":
            # kept whole; routed by its first address (an event needs an address)
            fields.setdefault(
                "source.network" if side == "source" else "extra.destination_network", value
            )
            try:
                network = ipaddress.ip_network(value.split()[0], strict=False)
            except ValueError:
                return
            fields.setdefault(f"{side}.ip", str(network.network_address))
            return
        fields.setdefault(f"{side}.{field}", value)

    def _indicator(self, indicator: ET.Element, common: dict[str, Any]) -> Iterator[Item]:
        indicator_id = indicator.find(self.q("IndicatorID"))
        base = dict(common)
        identifier = (indicator_id.text or "").strip() if indicator_id is not None else ""
        if indicator_id is not None and identifier:
            base["extra.indicator_id"] = f"{indicator_id.get('name', '')}#{identifier}"
        description = indicator.findtext(self.q("Description"))
        if description:
            base["extra.indicator_description"] = " ".join(description.split())
        start = indicator.findtext(self.q("StartTime"))
        if start and start.strip():
            base["time.source"] = start.strip()
        for observable in indicator.iter(self.q("Observable")):
            for child in observable:
                tag = child.tag.rpartition("}")[2]
                if tag == "BulkObservable":
                    kind = child.get("type", "")
                    listing = child.findtext(self.q("BulkObservableList")) or ""
                    for value in listing.split():
                        yield self._item(child, base, lambda k=kind, v=value: self._observed(k, v))
                elif tag == "Address":
                    kind = child.get("category", "ipv4-addr")
                    yield self._item(child, base, lambda k=kind, v=child.text: self._observed(k, v))
                elif tag == "DomainData":
                    name = child.findtext(self.q("Name"))
                    yield self._item(child, base, lambda v=name: self._observed("fqdn", v))
                elif tag == "System":
                    yield self._item(child, base, lambda s=child: self._system(s))

    def _observed(self, kind: str, value: str | None) -> dict[str, Any]:
        fields: dict[str, Any] = {"extra.observable_type": kind}
        self._value(fields, "source", kind, value)
        if not any(k.startswith("source.") for k in fields):
            raise ValueError(f"the observable ({kind or 'no type'}) is not an address")
        return fields
