"""STIX 2.1 bundles: one event per observable address, domain or URL (cyber-observable
objects, and indicators whose pattern is a single equality on one of them)."""

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
    for o in objects:
        if (
            isinstance(o, dict)
            and o.get("relationship_type") == "indicates"
            and o.get("target_ref") in malware
        ):
            indicates[str(o.get("source_ref"))] = str(malware[o["target_ref"]])
    for number, obj in enumerate(objects, 1):
        if not isinstance(obj, dict):
            yield Item(number, clip(repr(obj)), error="a bundle object is not a JSON object")
            continue
        kind = obj.get("type")
        if kind not in OBSERVABLES and kind != "indicator":
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
