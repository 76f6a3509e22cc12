"""MISP event JSON in and out.

Import: every attribute (of the event and of its objects) whose type names an observable
becomes a STIX indicator (id from the attribute's UUID, pattern for the normalised value,
MISP type and category kept as labels `misp:type=...`, `misp:category=...`, the comment as
description); `tlp:*` tags set the TLP (the strictest wins), other tags become labels;
sightings become sightings of the importing organisation. Everything that cannot be carried
(other attribute types, invalid values, unknown tags' meaning) is listed in the
submission's report, never dropped silently.

Export: the indicators of a submission (a shared "report") that the reader may see, as one
MISP event that PyMISP loads; a MISP -> import -> export round trip keeps every carried
attribute with its type, category, value, UUID and comment.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from bulwark.constituency.models import Organisation, User
from bulwark.core import bulk
from bulwark.core.tlp import TLP, parse_tlp
from bulwark.intel import observables as obs
from bulwark.intel import patterns, services
from bulwark.intel.models import Collection, Provenance, Submission

# MISP attribute type -> value kind
TYPES = {
    "ip-src": "ip", "ip-dst": "ip", "domain": "domain", "hostname": "domain", "url": "url",
    "uri": "url", "link": "url", "md5": "md5", "sha1": "sha1", "sha256": "sha256",
    "email": "email", "email-src": "email", "email-dst": "email", "AS": "asn",
    "filename|md5": "md5", "filename|sha1": "sha1", "filename|sha256": "sha256",
}  # fmt: skip
# kind -> MISP type and category used on export when the import labels are absent
EXPORT_TYPES = {
    "ipv4": ("ip-dst", "Network activity"), "ipv6": ("ip-dst", "Network activity"),
    "cidr": ("ip-dst", "Network activity"), "domain": ("domain", "Network activity"),
    "url": ("url", "Network activity"), "md5": ("md5", "Payload delivery"),
    "sha1": ("sha1", "Payload delivery"), "sha256": ("sha256", "Payload delivery"),
    "email": ("email-src", "Payload delivery"), "asn": ("AS", "Network activity"),
}  # fmt: skip
MAX_ATTRIBUTES = 100_000


class InvalidMisp(ValueError):
    pass


def _stamp(value: Any) -> str:
    try:
        moment = datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _tags(container: dict[str, Any]) -> list[str]:
    tags = container.get("Tag") or []
    return [str(t.get("name", "")) for t in tags if isinstance(t, dict) and t.get("name")]


def parse_event(text: str | bytes) -> dict[str, Any]:
    try:
        data = bulk.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidMisp(f"not JSON: {exc}") from None
    event = data.get("Event", data) if isinstance(data, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("Attribute", []), list):
        raise InvalidMisp("not a MISP event: expected {'Event': {...}} with an Attribute list")
    return event


def to_stix(
    event: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, str]], TLP | None, list[dict[str, Any]]]:
    """(STIX indicators, report of what was not carried, TLP from tags, sightings)."""
    report: list[dict[str, str]] = []
    level: TLP | None = None
    event_labels: list[str] = []
    for tag in _tags(event):
        if tag.lower().startswith("tlp:"):
            try:
                found = parse_tlp(tag)
                level = found if level is None else max(level, found)
            except ValueError:
                report.append({"id": tag, "message": f"unknown TLP tag {tag!r}; not applied"})
        else:
            event_labels.append(tag[:200])
    attributes: list[tuple[dict[str, Any], str | None]] = [
        (a, None) for a in event.get("Attribute", []) if isinstance(a, dict)
    ]
    for obj in event.get("Object", []) or []:
        if isinstance(obj, dict):
            name = str(obj.get("name", "object"))[:100]
            attributes += [(a, name) for a in obj.get("Attribute", []) or [] if isinstance(a, dict)]
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidMisp(f"more than {MAX_ATTRIBUTES} attributes")
    stix: list[dict[str, Any]] = []
    sightings: list[dict[str, Any]] = []
    for attr, object_name in attributes:
        mtype = str(attr.get("type", ""))
        raw_value = str(attr.get("value", ""))
        ident = str(attr.get("uuid") or "")
        where = ident or f"{mtype}:{raw_value[:80]}"
        kind = TYPES.get(mtype)
        if kind is None:
            report.append({"id": where, "message": f"attribute type {mtype!r} is not carried"})
            continue
        value = raw_value.split("|", 1)[1] if "|" in mtype else raw_value
        try:
            if kind == "ip":
                kind = obs.detect(value) if "/" not in value else "cidr"
                if kind not in ("ipv4", "ipv6", "cidr"):
                    raise obs.InvalidIndicator(f"{value!r} is not an IP address")
            kind, value = obs.normalise(kind, value)
            uid = str(uuid.UUID(ident)) if ident else str(uuid.uuid4())
        except ValueError as exc:
            report.append({"id": where, "message": f"{mtype} {raw_value[:80]!r}: {exc}"})
            continue
        stamp = _stamp(attr.get("timestamp") or event.get("timestamp"))
        labels = [f"misp:type={mtype}", f"misp:category={attr.get('category', '')}"[:200]]
        if object_name:
            labels.append(f"misp:object={object_name}")
        labels += event_labels + [t[:200] for t in _tags(attr) if not t.lower().startswith("tlp:")]
        indicator: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uid}",
            "created": stamp,
            "modified": stamp,
            "name": f"{mtype}: {value}"[:500],
            "pattern": patterns.pattern_for(kind, value),
            "pattern_type": "stix",
            "valid_from": stamp,
            "labels": labels,
        }
        if attr.get("comment"):
            indicator["description"] = str(attr["comment"])[:5000]
        attr_level = level
        for tag in _tags(attr):
            if tag.lower().startswith("tlp:"):
                try:
                    found = parse_tlp(tag)
                    attr_level = found if attr_level is None else max(attr_level, found)
                except ValueError:
                    report.append({"id": where, "message": f"unknown TLP tag {tag!r}"})
        if attr_level is not None:
            from bulwark.core.tlp import STIX_MARKING_IDS

            indicator["object_marking_refs"] = [STIX_MARKING_IDS[attr_level]]
        stix.append(indicator)
        for sighting in attr.get("Sighting", []) or []:
            if isinstance(sighting, dict):
                sightings.append({"kind": kind, "value": value, **sighting})
    return stix, report, level, sightings


def import_event(
    actor: User | None,
    collection: Collection,
    text: str,
    organisation: Organisation | None = None,
    *,
    channel: str = "upload",
) -> services.Shared:
    event = parse_event(text)
    objects, report, _level, sightings = to_stix(event)
    shared = services.ingest_objects(
        actor,
        collection,
        objects,
        raw=text if isinstance(text, str) else text.decode("utf-8", "replace"),
        format=Submission.Format.MISP,
        channel=channel,
        extra_report=report,
    )
    org_id = shared.submission.organisation_id
    sighting_org = organisation or (Organisation.objects.get(pk=org_id) if org_id else None)
    for s in sightings:
        if sighting_org is None:
            shared.submission.report.append(
                {"id": s["value"], "message": "sighting not carried: no organisation to hold it"}
            )
            continue
        moment = datetime.fromtimestamp(int(s.get("date_sighting") or 0) or 1, UTC)
        services.record_sighting(
            s["value"], sighting_org, 1, moment, moment,
            f"MISP sighting {s.get('uuid', '')}"[:200],
            false_positive=str(s.get("type", "0")) == "1", kind=s["kind"], actor=actor,
        )  # fmt: skip
    if sightings:
        shared.submission.save(update_fields=["report"])
    return shared


def export_event(user: Any, submission: Submission) -> dict[str, Any]:
    """The submission's indicators that `user` may read, as a MISP event."""
    rows = (
        Provenance.objects.visible_to(user)
        .filter(stix_object__submission=submission, stix_object__type="indicator")
        .select_related("value", "stix_object")
        .order_by("stix_object__date_added", "pk")
    )
    attributes = []
    worst = TLP.CLEAR
    for row in rows:
        obj = orjson.loads(row.stix_object.raw)
        labels = obj.get("labels", [])
        found = {lab.split("=", 1)[0]: lab.split("=", 1)[1] for lab in labels if "=" in lab}
        mtype, category = EXPORT_TYPES[row.value.kind]
        mtype = found.get("misp:type", mtype)
        category = found.get("misp:category", category) or category
        value = row.value.value
        if row.value.kind == "asn":
            value = f"AS{value}" if mtype == "AS" and not value.startswith("AS") else value
        worst = max(worst, TLP(row.stix_object.tlp))
        attribute: dict[str, Any] = {
            "uuid": obj["id"].split("--", 1)[1],
            "type": mtype,
            "category": category,
            "value": value,
            "to_ids": True,
            "comment": obj.get("description", ""),
            "timestamp": str(int(row.stix_object.modified.timestamp()))
            if row.stix_object.modified
            else "0",
            "Tag": [{"name": TLP(row.stix_object.tlp).label.lower()}],
        }
        attributes.append(attribute)
    return {
        "Event": {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulwark-submission-{submission.pk}")),
            "info": f"Bulwark shared report #{submission.pk}",
            "date": submission.received_at.date().isoformat(),
            "timestamp": str(int(submission.received_at.timestamp())),
            "analysis": "2",
            "threat_level_id": "2",
            "distribution": "0",
            "published": False,
            "Tag": [{"name": worst.label.lower()}],
            "Attribute": attributes,
        }
    }
