"""STIX 2.1 bundles: one event per observable address, domain or URL (cyber-observable
objects, and indicators whose pattern is a single equality on one of them), and one per
`observed-data` (its observables, its network-traffic's ports and protocols, Bulwark's
event extension for the classification, a sighting of a malware for malware.name): what
a CERT delivers over TAXII (exchange/taxii_client.py) reads back as the events it sent."""

import re
from collections.abc import Iterator
from typing import Any

import orjson

from bulwark.exchange.engine.formats.base import (
    Context,
    Item,
    Readable,
    ReportError,
    clip,
    read_document,
)

OBSERVABLES = {
    "ipv4-addr": "source.ip",
    "ipv6-addr": "source.ip",
    "domain-name": "source.fqdn",
    "url": "source.url",
}
_PATTERN = re.compile(
    r"^\[\s*(ipv4-addr|ipv6-addr|domain-name|url):value\s*=\s*'((?:[^'\\]|\\.)*)'\s*\]$"
)
# Bulwark's property extension for observed-data (defined in the bundles exchange/taxii_client.py
# sends): IntelMQ field -> property. The id is fixed forever.
EVENT_EXTENSION = "extension-definition--0f47ada7-9936-4034-8470-1efa88d15c00"
EVENT_PROPERTIES = {
    "classification.taxonomy": "classification_taxonomy",
    "classification.type": "classification_type",
    "classification.identifier": "classification_identifier",
    "feed.name": "feed_name",
    "feed.provider": "feed_provider",
    "feed.code": "feed_code",
    "source.asn": "source_asn",
    "source.geolocation.cc": "source_geolocation_cc",
    "source.reverse_dns": "source_reverse_dns",
    "event_description.text": "event_description_text",
}
TRANSPORTS = frozenset({"tcp", "udp", "icmp", "icmpv6", "sctp"})
INDICATOR_TYPES = {
    "malicious-activity": "undetermined",
    "compromised": "system-compromise",
    "attribution": "other",
    "anomalous-activity": "undetermined",
    "anonymization": "other",
    "benign": "other",
}


def looks_like(head: bytes) -> bool:
    start = head.lstrip()[:600]
    return start.startswith(b"{") and b'"bundle"' in start


def parse(stream: Readable, ctx: Context) -> Iterator[Item]:
    data = read_document(stream, "STIX bundle")
    try:
        bundle = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ReportError(f"The STIX bundle is not JSON: {exc}.") from None
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        raise ReportError('This is not a STIX 2.1 bundle (no "type": "bundle").')
    objects = bundle.get("objects")
    if not isinstance(objects, list):
        raise ReportError('The bundle has no "objects" list.')
    malware = {
        o.get("id"): o.get("name")
        for o in objects
        if isinstance(o, dict) and o.get("type") == "malware"
    }
    indicates: dict[str, str] = {}
    sighted: dict[str, str] = {}  # observed-data id -> malware name
    for o in objects:
        if (
            isinstance(o, dict)
            and o.get("relationship_type") == "indicates"
            and o.get("target_ref") in malware
        ):
            indicates[str(o.get("source_ref"))] = str(malware[o["target_ref"]])
        if (
            isinstance(o, dict)
            and o.get("type") == "sighting"
            and o.get("sighting_of_ref") in malware
        ):
            for ref in o.get("observed_data_refs") or []:
                sighted[str(ref)] = str(malware[o["sighting_of_ref"]])
    by_id = {o.get("id"): o for o in objects if isinstance(o, dict)}
    # Observables an observed-data names are part of its event, not events of their own.
    grouped = {
        str(ref)
        for o in objects
        if isinstance(o, dict) and o.get("type") == "observed-data"
        for ref in (o.get("object_refs") or [])
    }
    for number, obj in enumerate(objects, 1):
        if not isinstance(obj, dict):
            yield Item(number, clip(repr(obj)), error="a bundle object is not a JSON object")
            continue
        kind = obj.get("type")
        if kind == "observed-data":
            item = _observed(number, obj, by_id, sighted, ctx)
            if item is not None:
                yield item
            continue
        if (kind not in OBSERVABLES and kind != "indicator") or obj.get("id") in grouped:
            continue  # identities, malware, relationships, markings: context, not events
        raw = clip(orjson.dumps(obj).decode())
        fields: dict[str, Any] = {
            "feed.name": ctx.feed or "stix",
            "feed.provider": ctx.provider,
            "extra.stix_id": obj.get("id"),
        }
        if kind == "indicator":
            match = _PATTERN.match(str(obj.get("pattern", "")).strip())
            if not match:
                yield Item(number, raw, error="the indicator pattern is not one value equality")
                continue
            fields[OBSERVABLES[match.group(1)]] = match.group(2).replace("\\'", "'")
            types = obj.get("indicator_types") or []
            first = types[0] if types and isinstance(types, list) else ""
            fields["classification.type"] = INDICATOR_TYPES.get(str(first), "undetermined")
            fields["classification.identifier"] = str(obj.get("name") or first or "stix")[:100]
            fields["time.source"] = obj.get("valid_from") or obj.get("created")
            fields["malware.name"] = indicates.get(str(obj.get("id")))
        else:
            fields[OBSERVABLES[str(kind)]] = obj.get("value")
            fields["classification.type"] = "undetermined"
            fields["classification.identifier"] = "stix-observable"
        yield Item(number, raw, fields)


def _observed(
    number: int, obj: dict[str, Any], by_id: dict[Any, Any], sighted: dict[str, str], ctx: Context
) -> Item | None:
    """One event from an observed-data and the observables it names (STIX 2.1 s.4.14)."""
    raw = clip(orjson.dumps(obj).decode())
    refs = [by_id.get(ref) for ref in obj.get("object_refs") or []]
    found = [r for r in refs if isinstance(r, dict)]
    fields: dict[str, Any] = {
        "feed.name": ctx.feed or "stix",
        "feed.provider": ctx.provider,
        "extra.stix_id": obj.get("id"),
        "time.source": obj.get("first_observed"),
    }
    traffic = next((r for r in found if r.get("type") == "network-traffic"), None)
    addresses = {
        r.get("id"): r.get("value") for r in found if r.get("type") in ("ipv4-addr", "ipv6-addr")
    }
    if traffic is not None:
        if traffic.get("src_ref") in addresses:
            fields["source.ip"] = addresses[traffic["src_ref"]]
        if traffic.get("dst_ref") in addresses:
            fields["destination.ip"] = addresses[traffic["dst_ref"]]
        for key, name in (("src_port", "source.port"), ("dst_port", "destination.port")):
            if isinstance(traffic.get(key), int):
                fields[name] = traffic[key]
        protocols = [str(p).lower() for p in traffic.get("protocols") or [] if isinstance(p, str)]
        rest = [p for p in protocols if p not in ("ipv4", "ipv6")]
        if rest and rest[0] in TRANSPORTS:
            fields["protocol.transport"] = rest.pop(0)
        if rest:
            fields["protocol.application"] = rest[0]
    for r in found:
        kind = str(r.get("type"))
        if kind in ("domain-name", "url"):
            fields.setdefault(OBSERVABLES[kind], r.get("value"))
        elif kind in ("ipv4-addr", "ipv6-addr") and traffic is None:
            fields.setdefault("source.ip", r.get("value"))
    if not any(k in fields for k in ("source.ip", "source.fqdn", "source.url", "destination.ip")):
        return Item(number, raw, error="the observed-data names no address, domain or URL")
    extension = (obj.get("extensions") or {}).get(EVENT_EXTENSION)
    extension = extension if isinstance(extension, dict) else {}
    for name, prop in EVENT_PROPERTIES.items():
        value = extension.get(prop)
        if isinstance(value, str):
            fields[name] = (
                int(value)
                if name == "source.asn" and value.isascii() and value.isdigit()
                else value
            )
    fields.setdefault("classification.type", "undetermined")
    fields.setdefault("classification.identifier", "stix-observed-data")
    if str(obj.get("id")) in sighted:
        fields["malware.name"] = sighted[str(obj.get("id"))]
    return Item(number, raw, fields)
