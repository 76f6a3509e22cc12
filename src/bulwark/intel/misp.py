"""MISP event JSON in and out.

Import keeps the whole event: it is stored as one custom STIX object `x-misp-event`
(id `x-misp-event--<event uuid>`, version = the event's timestamp) whose property
`x_misp_event` holds the event exactly as received: every attribute of every MISP type,
objects with their `ObjectReference` relations, galaxies, tags, sightings, comments and
`to_ids` flags. Its TLP is the strictest `tlp:*` tag found anywhere in the event (event,
attributes, objects), so no reader sees an attribute through the event that they could not
see on its own. Exports (the submission page, `/misp/events/restSearch`,
`/misp/attributes/restSearch`, the MISP feed) serve that stored event, so values round-trip
byte for byte.

Besides, every attribute whose type names an observable (addresses, domains, host names,
URLs, hashes, e-mail addresses, AS numbers, also inside composite types such as
`filename|sha256` or `ip-dst|port`) becomes a STIX indicator (id from the attribute's UUID,
normalised value, MISP type, category, object and `to_ids` kept as `misp:` labels), so the
value correlates with everything else. An attribute with `to_ids` false keeps
`Indicator.detect` false and never reaches a detection export; reference links (`link`)
are not indicators at all. Attribute types unknown to MISP's `describeTypes.json` and
values that do not normalise are listed in the submission's report (and still kept in the
stored event).
"""

import fnmatch
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from bulwark.constituency.models import Organisation, User
from bulwark.core import bulk
from bulwark.core import observables as obs
from bulwark.core.stixpattern import pattern_for
from bulwark.core.tlp import STIX_MARKING_IDS, TLP, parse_tlp
from bulwark.intel import services
from bulwark.intel.models import Collection, Provenance, Status, StixObject, Submission

EVENT_TYPE = "x-misp-event"
# MISP attribute type -> (value kind, which part of a composite value)
TYPES: dict[str, tuple[str, int]] = {
    "ip-src": ("ip", 0), "ip-dst": ("ip", 0), "ip-src|port": ("ip", 0),
    "ip-dst|port": ("ip", 0), "domain": ("domain", 0), "hostname": ("domain", 0),
    "domain|ip": ("domain", 0), "hostname|port": ("domain", 0), "url": ("url", 0),
    "md5": ("md5", 0), "sha1": ("sha1", 0), "sha256": ("sha256", 0),
    "filename|md5": ("md5", 1), "filename|sha1": ("sha1", 1),
    "filename|sha256": ("sha256", 1), "malware-sample": ("md5", 1),
    "email": ("email", 0), "email-src": ("email", 0), "email-dst": ("email", 0),
    "AS": ("asn", 0),
}  # fmt: skip
# kind -> MISP type and category used on export of indicators that did not come from MISP
EXPORT_TYPES = {
    "ipv4": ("ip-dst", "Network activity"), "ipv6": ("ip-dst", "Network activity"),
    "cidr": ("ip-dst", "Network activity"), "domain": ("domain", "Network activity"),
    "url": ("url", "Network activity"), "md5": ("md5", "Payload delivery"),
    "sha1": ("sha1", "Payload delivery"), "sha256": ("sha256", "Payload delivery"),
    "email": ("email-src", "Payload delivery"), "asn": ("AS", "Network activity"),
}  # fmt: skip
MAX_ATTRIBUTES = 100_000
DESCRIBE_TYPES = Path(__file__).parent / "data" / "misp_describe_types.json"
PLATFORM_ORG_UUID = uuid.uuid5(uuid.NAMESPACE_URL, "bulwark-platform")


class InvalidMisp(ValueError):
    pass


@cache
def describe_types() -> dict[str, Any]:
    """MISP's attribute types, categories and defaults (PyMISP's describeTypes.json)."""
    result: dict[str, Any] = json.loads(DESCRIBE_TYPES.read_text("utf-8"))["result"]
    return result


def default_to_ids(mtype: str) -> bool:
    return bool(describe_types()["sane_defaults"].get(mtype, {}).get("to_ids", 0))


def to_ids_of(attr: dict[str, Any]) -> bool:
    """MISP writes to_ids as true/false, 1/0 or "1"/"0"; absent means the type's default."""
    value = attr.get("to_ids")
    if value is None:
        return default_to_ids(str(attr.get("type", "")))
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _tags(container: dict[str, Any]) -> list[str]:
    tags = container.get("Tag") or []
    if not isinstance(tags, list):
        return []
    return [str(t.get("name", "")) for t in tags if isinstance(t, dict) and t.get("name")]


def parse_event(text: str | bytes) -> dict[str, Any]:
    """The event of `{"Event": {...}}` or of a bare event object."""
    try:
        data = bulk.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidMisp(f"not JSON: {exc}") from None
    event = data.get("Event", data) if isinstance(data, dict) else None
    if not isinstance(event, dict):
        raise InvalidMisp("not a MISP event: expected {'Event': {...}} with an Attribute list")
    if not isinstance(event.get("Attribute", []), list) or not isinstance(
        event.get("Object", []), list
    ):
        raise InvalidMisp("not a MISP event: Attribute and Object must be lists")
    if not any(k in event for k in ("Attribute", "Object", "info", "uuid", "Tag")):
        raise InvalidMisp("not a MISP event: no Attribute, Object, info, uuid or Tag")
    if "uuid" in event:
        try:
            uuid.UUID(str(event["uuid"]))
        except ValueError:
            raise InvalidMisp(f"event uuid {str(event['uuid'])[:80]!r} is not a UUID") from None
    return event


def event_uuid(event: dict[str, Any]) -> str:
    """The event's UUID; one derived from its content when it has none (so importing the
    same file twice stores it once)."""
    if event.get("uuid"):
        return str(uuid.UUID(str(event["uuid"])))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "misp-event:" + orjson.dumps(event).decode()))


def attributes_of(event: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(attribute, its object or None) for every attribute of the event and its objects."""
    found: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
        (a, None) for a in event.get("Attribute", []) or [] if isinstance(a, dict)
    ]
    for obj in event.get("Object", []) or []:
        if isinstance(obj, dict) and isinstance(obj.get("Attribute", []), list):
            found += [(a, obj) for a in obj.get("Attribute", []) or [] if isinstance(a, dict)]
    return found


def _tlp(tags: Iterable[str], report: list[dict[str, str]], where: str) -> TLP | None:
    level: TLP | None = None
    for tag in tags:
        if tag.lower().startswith("tlp:"):
            try:
                found = parse_tlp(tag)
            except ValueError:
                report.append({"id": where, "message": f"unknown TLP tag {tag!r}; not applied"})
                continue
            level = found if level is None else max(level, found)
    return level


def _max(a: TLP | None, b: TLP | None) -> TLP | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def observable_of(mtype: str, raw_value: str) -> tuple[str, str] | None:
    """(kind, normalised value) of an attribute that names an observable; None for other
    types. Raises ValueError for a value that does not normalise."""
    if mtype not in TYPES:
        return None
    kind, part = TYPES[mtype]
    parts = raw_value.split("|")
    composite = "|" in mtype or mtype == "malware-sample"  # file name|md5
    if composite and len(parts) != 2:
        raise obs.InvalidIndicator(f"{mtype} needs two values separated by '|'")
    value = parts[part] if composite else raw_value
    if kind == "ip":
        kind = obs.detect(value) if "/" not in value else "cidr"
        if kind not in ("ipv4", "ipv6", "cidr"):
            raise obs.InvalidIndicator(f"{value!r} is not an IP address")
    if kind == "url" and "://" not in value and "." in value.split("/", 1)[0]:
        value = "http://" + value  # MISP url attributes often leave the scheme out
    return obs.normalise(kind, value)


@dataclass
class Converted:
    objects: list[dict[str, Any]]  # the x-misp-event, then one indicator per observable
    report: list[dict[str, str]]  # what was not understood
    level: TLP | None  # the strictest TLP in the event
    sightings: list[dict[str, Any]]
    not_for_detection: set[str]  # indicator ids of attributes with to_ids false
    values: list[tuple[str, str, str]]  # (indicator id, kind, normalised value)


def to_stix(event: dict[str, Any]) -> Converted:
    """The event as STIX objects (see the module's description)."""
    report: list[dict[str, str]] = []
    ev_uuid = event_uuid(event)
    event_tags = _tags(event)
    event_level = _tlp(event_tags, report, ev_uuid)
    event_labels = [t[:200] for t in event_tags if not t.lower().startswith("tlp:")]
    attributes = attributes_of(event)
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidMisp(f"more than {MAX_ATTRIBUTES} attributes")
    known_types = describe_types()["types"]
    whole_level = event_level
    for obj in event.get("Object", []) or []:
        if isinstance(obj, dict):
            whole_level = _max(whole_level, _tlp(_tags(obj), report, str(obj.get("uuid", ""))))
    stamps = [_moment(event.get("timestamp"))]
    indicators: list[dict[str, Any]] = []
    sightings: list[dict[str, Any]] = []
    not_for_detection: set[str] = set()
    values: list[tuple[str, str, str]] = []
    for index, (attr, obj) in enumerate(attributes):
        mtype = str(attr.get("type", ""))
        raw_value = attr.get("value", "")
        raw_value = raw_value if isinstance(raw_value, str) else str(raw_value)
        ident = str(attr.get("uuid") or "")
        where = ident or f"{mtype}:{raw_value[:80]}"
        attr_level = _max(event_level, _tlp(_tags(attr), report, where))
        if obj is not None:
            attr_level = _max(attr_level, _tlp(_tags(obj), report, where))
        whole_level = _max(whole_level, attr_level)
        stamps.append(_moment(attr.get("timestamp")))
        if mtype not in known_types:
            report.append(
                {"id": where, "message": f"attribute type {mtype!r} is not a MISP type; kept "
                 "in the event, not indexed"}
            )  # fmt: skip
            continue
        try:
            found = observable_of(mtype, raw_value)
            uid = (
                str(uuid.UUID(ident)) if ident else str(uuid.uuid5(uuid.UUID(ev_uuid), str(index)))
            )
        except ValueError as exc:
            report.append({"id": where, "message": f"{mtype} {raw_value[:80]!r}: {exc}"})
            continue
        if found is None or attr.get("deleted") in (True, "1", 1):
            continue
        kind, value = found
        stamp = _text(
            _moment(attr.get("timestamp")) or _moment(event.get("timestamp")) or _epoch(event)
        )
        detect = to_ids_of(attr)
        labels = [f"misp:type={mtype}", f"misp:category={attr.get('category', '')}"[:200]]
        if obj is not None:
            labels.append(f"misp:object={str(obj.get('name', 'object'))[:100]}")
        if not detect:
            labels.append("misp:to_ids=false")
            not_for_detection.add(f"indicator--{uid}")
        labels += event_labels + [t[:200] for t in _tags(attr) if not t.lower().startswith("tlp:")]
        indicator: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uid}",
            "created": stamp,
            "modified": stamp,
            "name": f"{mtype}: {value}"[:500],
            "pattern": pattern_for(kind, value),
            "pattern_type": "stix",
            "valid_from": stamp,
            "labels": labels,
        }
        if attr.get("comment"):
            indicator["description"] = str(attr["comment"])[:5000]
        if attr_level is not None:
            indicator["object_marking_refs"] = [STIX_MARKING_IDS[attr_level]]
        indicators.append(indicator)
        values.append((indicator["id"], kind, value))
        for sighting in attr.get("Sighting", []) or []:
            if isinstance(sighting, dict):
                sightings.append({"kind": kind, "value": value, **sighting})
    moments = [m for m in stamps if m is not None]
    version = _text(max(moments) if moments else _epoch(event))
    wrapper: dict[str, Any] = {
        "type": EVENT_TYPE,
        "spec_version": "2.1",
        "id": f"{EVENT_TYPE}--{ev_uuid}",
        "created": version,
        "modified": version,
        "name": str(event.get("info", ""))[:500],
        "x_misp_event": event,
    }
    if whole_level is not None:
        wrapper["object_marking_refs"] = [STIX_MARKING_IDS[whole_level]]
    return Converted(
        [wrapper, *indicators], report, whole_level, sightings, not_for_detection, values
    )


def _epoch(event: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(event.get("date"))).replace(tzinfo=UTC)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)


def import_event(
    actor: User | None,
    collection: Collection,
    text: str,
    organisation: Organisation | None = None,
    *,
    channel: str = "upload",
) -> services.Shared:
    """Store one MISP event (see the module's description); one transaction, in
    `intel.services.import_misp_event`."""
    event = parse_event(text)
    converted = to_stix(event)
    sightings = [
        services.MispSighting(
            value=s["value"],
            kind=s["kind"],
            moment=_moment(s.get("date_sighting")) or datetime.now(UTC),
            source=f"MISP sighting {s.get('uuid', '')}"[:200],
            false_positive=str(s.get("type", "0")) == "1",
        )
        for s in converted.sightings
    ]
    return services.import_misp_event(
        actor,
        collection,
        converted.objects,
        raw=text if isinstance(text, str) else text.decode("utf-8", "replace"),
        report=converted.report,
        not_for_detection=converted.not_for_detection,
        warnings=warnings(converted.values),
        sightings=sightings,
        organisation=organisation,
        channel=channel,
    )


def warnings(values: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    """Report lines naming the values that are on a warning list (kept, never exported
    for detection)."""
    from bulwark.intel import warninglists

    found = []
    for ident, kind, value in values:
        hits = warninglists.hits(kind, value)
        if hits:
            found.append(
                {"id": ident, "message": f"{value} is on the warning list {hits[0]!r}: "
                 "kept, never in detection exports"}
            )  # fmt: skip
    return found


# ----------------------------------------------------------------------------- reads


def stored_events(user: Any) -> Any:
    """The current, published MISP events `user` may read (StixObject rows)."""
    return StixObject.objects.visible_to(user).filter(
        type=EVENT_TYPE, is_latest=True, status=Status.PUBLISHED
    )


def event_of(row: StixObject) -> dict[str, Any]:
    """The stored event as received, plus `uuid` and `Orgc` when it had none (MISP needs
    them to pull a feed). The owner named is the platform, never the sharing organisation:
    readers learn no more than the event says."""
    event: dict[str, Any] = orjson.loads(row.raw)["x_misp_event"]
    if "uuid" not in event:
        event = {"uuid": row.stix_id.split("--", 1)[1], **event}
    if "Orgc" not in event:
        event["Orgc"] = {"name": "Bulwark", "uuid": str(PLATFORM_ORG_UUID)}
    return event


def export_event(user: Any, submission: Submission) -> dict[str, Any]:
    """The submission as a MISP event for `user`: the stored event when it came from MISP
    (and the reader may see it), otherwise its indicators the reader may see."""
    row = stored_events(user).filter(submission=submission).first()
    if row is None:
        row = (
            StixObject.objects.visible_to(user)
            .filter(type=EVENT_TYPE, submission=submission)
            .order_by("-version")
            .first()
        )
    if row is not None:
        return {"Event": event_of(row)}
    if StixObject.objects.filter(type=EVENT_TYPE, submission=submission).exists():
        return {"Event": {"uuid": _submission_uuid(submission), "info": "", "Attribute": []}}
    return _event_from_indicators(user, submission)


def _submission_uuid(submission: Submission) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulwark-submission-{submission.pk}"))


def _event_from_indicators(user: Any, submission: Submission) -> dict[str, Any]:
    rows = (
        Provenance.objects.visible_to(user)
        .filter(stix_object__submission=submission, stix_object__type="indicator")
        .select_related("value", "stix_object", "stix_object__indicator")
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
        attributes.append(
            {
                "uuid": obj["id"].split("--", 1)[1],
                "type": mtype,
                "category": category,
                "value": value,
                "to_ids": row.stix_object.indicator.detect,
                "comment": obj.get("description", ""),
                "timestamp": str(int(row.stix_object.modified.timestamp()))
                if row.stix_object.modified
                else "0",
                "Tag": [{"name": TLP(row.stix_object.tlp).label.lower()}],
            }
        )
    return {
        "Event": {
            "uuid": _submission_uuid(submission),
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


# ------------------------------------------------------------------- restSearch filters


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, dict):  # {"OR": [...], "NOT": [...]}: OR only
        value = value.get("OR", [])
    if not isinstance(value, list):
        value = [value]
    return [str(v) for v in value if v is not None and v != ""]


def _matches(pattern: str, text: str) -> bool:
    """MISP's match: case-insensitive, '%' is a wildcard."""
    if "%" in pattern:
        glob = pattern.lower().replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
        return fnmatch.fnmatchcase(text.lower(), glob.replace("%", "*"))
    return pattern.lower() == text.lower()


def _seconds(text: str) -> int | None:
    """MISP's `last` / timestamp forms: '5d', '12h', '30m', '45s' (ago) or a timestamp."""
    text = text.strip()
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1, "w": 604800}
    try:
        if text and text[-1] in units:
            return int(datetime.now(UTC).timestamp()) - int(text[:-1]) * units[text[-1]]
        return int(float(text))
    except ValueError:
        return None


class Query:
    """The restSearch filters Bulwark applies (others are ignored, as MISP ignores unknown
    ones): value, type, category, tags, to_ids, uuid/eventid, eventinfo, org, last,
    timestamp, date_from, date_to, published, object_name, limit, page."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.values = _as_list(params.get("value"))
        self.types = _as_list(params.get("type"))
        self.categories = _as_list(params.get("category"))
        self.tags = _as_list(params.get("tags")) + _as_list(params.get("tag"))
        self.event_tags = _as_list(params.get("event_tags"))
        self.object_names = _as_list(params.get("object_name"))
        self.uuids = _as_list(params.get("uuid")) + _as_list(params.get("eventid"))
        self.info = _as_list(params.get("eventinfo"))
        self.orgs = _as_list(params.get("org"))
        to_ids = params.get("to_ids")
        self.to_ids = None if to_ids in (None, "") else str(to_ids).lower() in ("1", "true")
        self.since: int | None = None
        for key in ("last", "timestamp", "publish_timestamp"):
            if params.get(key) not in (None, ""):
                found = _as_list(params[key])
                self.since = _seconds(found[0]) if found else None
        self.date_from = str(params.get("date_from") or "")[:10]
        self.date_to = str(params.get("date_to") or "")[:10]
        published = params.get("published")
        self.published = (
            None if published in (None, "") else str(published).lower() in ("1", "true")
        )
        self.limit = _int(params.get("limit"))
        self.page = max(1, _int(params.get("page")) or 1)
        self.attribute_level = bool(
            self.values or self.types or self.categories or self.tags or self.object_names
            or self.to_ids is not None
        )  # fmt: skip

    def narrow(self, rows: Any) -> Any:
        """SQL pre-filters that never drop a match."""
        ids = []
        for text in self.uuids:
            try:
                ids.append(f"{EVENT_TYPE}--{uuid.UUID(text)}")
            except ValueError:
                ids.append("")
        if self.uuids:
            rows = rows.filter(stix_id__in=ids)
        if self.since is not None:
            rows = rows.filter(version__gte=datetime.fromtimestamp(self.since, UTC))
        if len(self.values) == 1 and _plain(self.values[0]):
            rows = rows.filter(raw__icontains=self.values[0])
        return rows

    def event_ok(self, event: dict[str, Any]) -> bool:
        if self.info and not any(_matches(p, str(event.get("info", ""))) for p in self.info):
            return False
        if self.orgs:
            org = event.get("Orgc") or {}
            names = {str(org.get("name", "")).lower(), str(org.get("uuid", "")).lower()}
            if not any(o.lower() in names for o in self.orgs):
                return False
        date = str(event.get("date", ""))[:10]
        if (self.date_from and date < self.date_from) or (self.date_to and date > self.date_to):
            return False
        if self.published is not None and bool(event.get("published")) != self.published:
            return False
        tags = {t.lower() for t in _tags(event)}
        return not (self.event_tags and not any(t.lower() in tags for t in self.event_tags))

    def attribute_ok(
        self, attr: dict[str, Any], obj: dict[str, Any] | None, event_tags: set[str]
    ) -> bool:
        mtype = str(attr.get("type", ""))
        value = str(attr.get("value", ""))
        if self.values:
            candidates = [value, *value.split("|")] if "|" in value else [value]
            if not any(_matches(p, c) for p in self.values for c in candidates):
                return False
        if self.types and mtype not in self.types:
            return False
        if self.categories and str(attr.get("category", "")) not in self.categories:
            return False
        if self.to_ids is not None and to_ids_of(attr) != self.to_ids:
            return False
        if self.object_names and (obj is None or obj.get("name") not in self.object_names):
            return False
        if self.since is not None and (_seconds(str(attr.get("timestamp", "0"))) or 0) < self.since:
            return False
        if self.tags:
            tags = event_tags | {t.lower() for t in _tags(attr)}
            if not any(t.lower() in tags for t in self.tags):
                return False
        return attr.get("deleted") not in (True, "1", 1)


def _int(value: Any) -> int | None:
    try:
        found = int(str(value))
    except (TypeError, ValueError):
        return None
    return found if found > 0 else None


def _plain(text: str) -> bool:
    return (
        "%" not in text
        and "_" not in text
        and '"' not in text
        and "\\" not in text
        and text.isprintable()
        and text.isascii()  # the databases fold the case of ASCII only
    )


def search_events(user: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """events/restSearch: the whole events that match (an attribute filter matches an
    event holding at least one such attribute)."""
    query = Query(params)
    out: list[dict[str, Any]] = []
    for row in _rows(user, query):
        event = event_of(row)
        if not query.event_ok(event):
            continue
        if query.attribute_level:
            tags = {t.lower() for t in _tags(event)}
            if not any(query.attribute_ok(a, o, tags) for a, o in attributes_of(event)):
                continue
        out.append({"Event": event})
    return _page(out, query)


def search_attributes(user: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """attributes/restSearch: matching attributes, each with its event's uuid and info."""
    query = Query(params)
    out: list[dict[str, Any]] = []
    for row in _rows(user, query):
        event = event_of(row)
        if not query.event_ok(event):
            continue
        tags = {t.lower() for t in _tags(event)}
        summary = {
            "uuid": event["uuid"], "info": event.get("info", ""),
            "orgc_id": str((event.get("Orgc") or {}).get("id", "")),
            "distribution": str(event.get("distribution", "0")),
        }  # fmt: skip
        for attr, obj in attributes_of(event):
            if not query.attribute_ok(attr, obj, tags):
                continue
            found = {**attr, "event_uuid": event["uuid"], "Event": summary}
            if obj is not None:
                found.setdefault("object_uuid", obj.get("uuid", ""))
                found.setdefault("object_name", obj.get("name", ""))
            out.append(found)
    return _page(out, query)


def _rows(user: Any, query: Query) -> Iterable[StixObject]:
    rows = query.narrow(stored_events(user)).order_by("version", "stix_id")
    seen: dict[str, StixObject] = {}
    for row in rows.only("stix_id", "raw", "version", "source_org_id").iterator(chunk_size=200):
        seen[row.stix_id] = row  # the same event in two collections: the latest version
    return seen.values()


def _page(items: list[Any], query: Query) -> list[Any]:
    if query.limit is None:
        return items
    start = (query.page - 1) * query.limit
    return items[start : start + query.limit]
