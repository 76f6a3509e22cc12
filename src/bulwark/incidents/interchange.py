"""Incident interchange: one incident as a STIX 2.1 bundle or an IODEF v2 (RFC 7970)
document, and a hardened IODEF reader.

The exporters know nothing of requests or visibility: callers pass an incident the user
may already see (`Incident.objects.visible_to(user)`), and the incident's TLP travels
with the data. Identifiers are derived (uuid5) from the deployment's CERT name and the
incident's reference, so exporting an incident again updates it at the receiver instead
of creating a duplicate. The CERT name is `settings.CERT_NAME` (default "bulwark"): give
each deployment its own, once (RFC 7970 asks for the CERT's domain name), or two
deployments mint the same ids; changing it later re-keys every exported object.
"""

import json
import math
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import stix2  # type: ignore[import-untyped]
from django.conf import settings
from django.db.models import Max

from bulwark.core import stixtime
from bulwark.core.safexml import parse_xml
from bulwark.core.stixpattern import pattern_for
from bulwark.core.tlp import STIX_MARKING_IDS, TLP, TLP2_EXTENSION_ID, parse_tlp
from bulwark.incidents import clocks
from bulwark.incidents.models import Incident, TimelineEntry
from bulwark.incidents.workflow import Status

DEFAULT_CERT_NAME = "bulwark"

# --- STIX 2.1 -------------------------------------------------------------------------

# Root of every derived id; fixed forever (changing it would duplicate every incident at
# every receiver).
ID_NAMESPACE = uuid.UUID("77d17fb6-b160-4af1-a343-40c484cb86e8")
INCIDENT_CORE_EXTENSION = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
IMPACT_EXTENSION = "extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9"
# Bulwark's own toplevel-property extension (STIX 2.1 s.7.3) carrying `first_seen`, which
# the Incident Core extension does not define. Its id and creator are the same in every
# deployment: it is one definition, shipped with the code.
TIMES_EXTENSION = "extension-definition--073818d0-bcc8-49c6-9b53-4c87f14f796c"
PROJECT_IDENTITY = "identity--95314e6d-237a-45c8-8d17-6f07ccf02c4a"
_DEFINITIONS_CREATED = datetime(2026, 1, 1, tzinfo=UTC)
# The TLP 2.0 marking-definition objects, as published by the CTI TC.
_TLP2_CREATED = datetime(2022, 10, 1, tzinfo=UTC)

# RSIT type -> Incident Core `incident_types` (event-type-ov), only where the meaning
# matches; types without a faithful counterpart are carried by the `rsit:` label alone.
RSIT_TO_EVENT_TYPE = {
    "spam": "spam",
    "infected-system": "infected-by-known-malware",
    "c2-server": "c&c-server-hosting",
    "malware-distribution": "hosting-malware-webpage",
    "scanner": "network-scanning",
    "sniffing": "wiretapping",
    "brute-force": "brute-force-attempt",
    "exploit": "exploit-attempt",
    "privileged-account-compromise": "unauthorized-access-system",
    "unprivileged-account-compromise": "unauthorized-access-system",
    "application-compromise": "compromised-system",
    "system-compromise": "compromised-system",
    "dos": "denial-of-service",
    "ddos": "denial-of-service",
    "outage": "denial-of-service",
    "unauthorised-information-access": "unauthorized-access-information",
    "unauthorised-information-modification": "modification-information",
    "data-leak": "unauthorized-release",
    "unauthorised-use-of-resources": "illegitimate-use-resources",
    "copyright": "copyrighted-content",
    "masquerade": "illegitimate-use-name",
    "phishing": "aggregation-information-phishing-schemes",
    "undetermined": "undetermined",
    "other": "unspecified",
}
# Criticality for the level's position on its profile's scale (Incident Core appendix,
# five-step qualitative table: low, moderate, high, extreme).
_CRITICALITY = (15, 40, 70, 95)
# Impact criticality for the reporter's minor/serious answer (major/minor table).
_IMPACT_CRITICALITY = {"minor": 25, "serious": 75}
_TIMES_SCHEMA = (
    "Toplevel property extension for the STIX 2.1 incident object, defined by Bulwark. "
    "first_seen (timestamp, optional): the time the reporting organisation became aware "
    "of the incident; the statutory notification clocks run from it."
)


def incident_to_stix(incident: Incident, *, cert_name: str | None = None) -> dict[str, Any]:
    """The incident as a STIX 2.1 bundle (a JSON-serialisable dict): the reporting
    organisation's identity, the incident with the Incident Core extension, one impact
    object per affected security property, each reported indicator as a cyber-observable
    and an indicator (pattern) related to the incident, and the TLP 2.0 marking
    definition."""
    name = cert_name or _cert_name()
    marking = _tlp_marking(_tlp(incident))
    org = incident.organisation
    org_identity = stix2.Identity(
        id=f"identity--{_uuid(name, 'organisation', org.pk)}",
        name=org.name,
        identity_class="organization",
        created=org.created_at,
        modified=max(org.created_at, org.updated_at),
    )
    created, modified = _stix_created(incident), _stix_modified(incident)
    impacts = _stix_impacts(incident, name, org_identity.id, marking.id, created, modified)
    incident_id = f"incident--{_uuid(name, 'incident', incident.reference)}"
    observables, indicators, relations = _stix_indicators(
        incident, name, incident_id, org_identity.id, marking.id, created, modified
    )
    rank = _level_rank(incident)
    core: dict[str, Any] = {
        "extension_type": "property-extension",
        "determination": "confirmed" if incident.reviewed_at else "suspected",
        "investigation_status": _investigation_status(incident),
        "criticality": _CRITICALITY[math.ceil(rank * 4) - 1],
    }
    incident_types = _incident_types(incident, rank)
    if incident_types:
        core["incident_types"] = incident_types
    if impacts:
        core["impact_refs"] = [i["id"] for i in impacts]
    if indicators:
        core["other_object_refs"] = [o.id for o in [*indicators, *observables]]
    labels = [f'rsit:{incident.rsit_class}="{incident.rsit_type}"']
    if incident.is_drill:
        labels.append("drill")
    stix_incident = stix2.Incident(
        id=incident_id,
        created_by_ref=org_identity.id,
        created=created,
        modified=modified,
        name=f"{incident.reference} {incident.title}",
        description=incident.description,
        labels=labels,
        external_references=[{"source_name": name, "external_id": incident.reference}],
        object_marking_refs=[marking.id],
        extensions={
            INCIDENT_CORE_EXTENSION: core,
            TIMES_EXTENSION: {"extension_type": "toplevel-property-extension"},
        },
        first_seen=_iso(incident.aware_at),
    )
    objects: list[Any] = [
        marking,
        project_identity(),
        _times_extension(),
        org_identity,
        stix_incident,
        *impacts,
        *indicators,
        *relations,
        *observables,
    ]
    bundle = stix2.Bundle(
        id=f"bundle--{_uuid(name, 'bundle', incident.reference, _iso(modified))}",
        objects=objects,
        # The Impact SDO of the incident extension suite is a new object type the
        # library does not know; everything else above was validated strictly.
        allow_custom=bool(impacts),
    )
    result: dict[str, Any] = json.loads(bundle.serialize())
    stixtime.comparable(result["objects"])  # e.g. created .35964Z, modified .359649Z
    return result


# Reported indicator kind -> the cyber-observable that carries it.
_SCO_FOR_KIND: dict[str, Any] = {
    "ipv4": lambda v: stix2.IPv4Address(value=v),
    "ipv6": lambda v: stix2.IPv6Address(value=v),
    "domain": lambda v: stix2.DomainName(value=v),
    "url": lambda v: stix2.URL(value=v),
    "email": lambda v: stix2.EmailAddress(value=v),
    "md5": lambda v: stix2.File(hashes={"MD5": v}),
    "sha1": lambda v: stix2.File(hashes={"SHA-1": v}),
    "sha256": lambda v: stix2.File(hashes={"SHA-256": v}),
}


def _stix_indicators(
    incident: Incident,
    name: str,
    incident_id: str,
    creator: str,
    marking: str,
    created: datetime,
    modified: datetime,
) -> tuple[list[Any], list[Any], list[Any]]:
    """The incident's reported indicators: (observables, indicators, relationships). Each
    value is a cyber-observable and an indicator whose pattern matches it, related to the
    incident (`related-to`: STIX 2.1 defines no indicator-to-incident relationship)."""
    observables: dict[str, Any] = {}
    indicators: list[Any] = []
    relations: list[Any] = []
    common = {
        "created_by_ref": creator,
        "created": created,
        "modified": modified,
        "object_marking_refs": [marking],
    }
    for row in incident.indicators.all():
        make = _SCO_FOR_KIND.get(row.kind)
        if make is None:
            continue
        sco = make(row.value)
        observables.setdefault(sco.id, sco)
        indicator = stix2.Indicator(
            id=f"indicator--{_uuid(name, 'indicator', incident.reference, row.kind, row.value)}",
            name=f"{row.kind}: {row.value}"[:500],
            pattern=pattern_for(row.kind, row.value),
            pattern_type="stix",
            valid_from=_stix_created(incident),
            indicator_types=["malicious-activity"],
            **common,
        )
        indicators.append(indicator)
        relations.append(
            stix2.Relationship(
                id="relationship--"
                + str(_uuid(name, "relationship", incident.reference, row.kind, row.value)),
                relationship_type="related-to",
                source_ref=indicator.id,
                target_ref=incident_id,
                **common,
            )
        )
    return list(observables.values()), indicators, relations


def _tlp_marking(tlp: TLP) -> Any:
    """TLP 2.0 marking definition as the CTI TC publishes it (stix2 3.0.2 only ships the
    TLP 1.0 objects): no definition_type, the TLP 2.0 extension instead."""
    return stix2.MarkingDefinition(
        id=STIX_MARKING_IDS[tlp],
        created=_TLP2_CREATED,
        name=tlp.label,
        extensions={
            TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": _tlp_value(tlp),
            }
        },
    )


def project_identity() -> Any:
    """The identity that defines Bulwark's STIX extensions (the same in every bundle and
    every deployment)."""
    return stix2.Identity(
        id=PROJECT_IDENTITY,
        name="Bulwark",
        description="The Bulwark national CERT platform (defines Bulwark's STIX extensions).",
        identity_class="organization",
        created=_DEFINITIONS_CREATED,
        modified=_DEFINITIONS_CREATED,
    )


def _times_extension() -> Any:
    return stix2.ExtensionDefinition(
        id=TIMES_EXTENSION,
        created_by_ref=PROJECT_IDENTITY,
        created=_DEFINITIONS_CREATED,
        modified=_DEFINITIONS_CREATED,
        name="Bulwark incident times",
        description="When the reporting organisation became aware of the incident.",
        schema=_TIMES_SCHEMA,
        version="1.0.0",
        extension_types=["toplevel-property-extension"],
        extension_properties=["first_seen"],
    )


def _stix_impacts(
    incident: Incident,
    name: str,
    creator: str,
    marking: str,
    created: datetime,
    modified: datetime,
) -> list[dict[str, Any]]:
    """Impact SDOs (extension-definition--7cc33dd6) for the confidentiality, integrity and
    availability answers that are not 'none'. The extension's per-category
    sub-extensions are keyed by the bare category name ("availability"), which the STIX
    2.1 schema does not allow as an `extensions` key (predefined ones end in "-ext",
    others are extension-definition ids): the OASIS validator refuses them. They are
    optional, so they are left out; their content (loss type, alteration, information
    type) is in the description, and availability's impact is the criticality."""
    information = "classified-material" if incident.secret != "none" else "unspecified"
    details: dict[str, Callable[[str], str]] = {
        "confidentiality": lambda answer: f"confirmed-loss, {information}",
        "integrity": lambda answer: (
            ("full-modification" if answer == "serious" else "partial-modification")
            + f", {information}"
        ),
        "availability": lambda answer: f"availability impact {_IMPACT_CRITICALITY[answer]}",
    }
    impacts = []
    for category, detail in details.items():
        answer = getattr(incident, category)
        if answer not in _IMPACT_CRITICALITY:
            continue
        impact: dict[str, Any] = {
            "type": "impact",
            "spec_version": "2.1",
            "id": f"impact--{_uuid(name, 'impact', incident.reference, category)}",
            "created_by_ref": creator,
            "created": _iso(created),
            "modified": _iso(modified),
            "object_marking_refs": [marking],
            "impact_category": category,
            "criticality": _IMPACT_CRITICALITY[answer],
            "description": f"{category}: {answer} ({detail(answer)})",
            "start_time": _iso(incident.aware_at),
            "extensions": {IMPACT_EXTENSION: {"extension_type": "new-sdo"}},
        }
        recovered = incident.recovered_at
        if category == "availability" and recovered and recovered > incident.aware_at:
            impact["end_time"] = _iso(recovered)
        impacts.append(impact)
    return impacts


def _investigation_status(incident: Incident) -> str:
    if incident.status == Status.CLOSED:
        return "closed"
    if incident.status == Status.REPORTED and incident.reviewed_at is None:
        return "new"
    return "open"


def _incident_types(incident: Incident, rank: float) -> list[str]:
    mapped = RSIT_TO_EVENT_TYPE.get(incident.rsit_type)
    types = [mapped] if mapped else []
    if rank >= 0.75:
        types.append("major")  # Taiwan: levels 3-4 are major incidents
    return types


def _stix_created(incident: Incident) -> datetime:
    return incident.reported_at.astimezone(UTC)


def _stix_modified(incident: Incident) -> datetime:
    """The last recorded change: every service that changes an incident writes a
    timeline entry, and the workflow timestamps cover the rest."""
    moments: list[datetime | None] = [
        incident.reported_at,
        incident.recorded_at,
        incident.reviewed_at,
        incident.forwarded_at,
        incident.final_report_at,
        incident.closed_at,
        incident.timeline.aggregate(m=Max("at"))["m"],
        incident.level_changes.aggregate(m=Max("at"))["m"],
    ]
    return max(m for m in moments if m is not None).astimezone(UTC)


# --- IODEF v2 (RFC 7970) --------------------------------------------------------------

IODEF_NS = "urn:ietf:params:xml:ns:iodef-2.0"
IODEF_V1_NS = "urn:ietf:params:xml:ns:iodef-1.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_IODEF_BYTES = 5 * 1024 * 1024

# TLP 2.0 -> IODEF restriction. RFC 7970 registers TLP 1.0 colours as synonyms:
# white=public, green=partner, amber=need-to-know, red=private. TLP:AMBER+STRICT
# ("the recipient's organisation only") is exactly need-to-know; TLP:AMBER, which also
# allows the recipient's clients, is sent as amber (a receiver reading it as
# need-to-know is only stricter).
RESTRICTION_FOR_TLP = {
    TLP.CLEAR: "white",
    TLP.GREEN: "green",
    TLP.AMBER: "amber",
    TLP.AMBER_STRICT: "need-to-know",
    TLP.RED: "red",
}
_TLP_FOR_RESTRICTION = {
    "public": TLP.CLEAR,
    "white": TLP.CLEAR,
    "partner": TLP.GREEN,
    "green": TLP.GREEN,
    "amber": TLP.AMBER,
    "need-to-know": TLP.AMBER_STRICT,
    "private": TLP.RED,
    "red": TLP.RED,
    # "shared according to a policy pre-arranged by the parties": we have none, so the
    # platform's default marking applies.
    "default": TLP.AMBER,
}
HISTORY_ACTION: dict[str, str] = {
    TimelineEntry.Kind.EVENT: "status-triage",
    TimelineEntry.Kind.NOTE: "status-new-info",
    TimelineEntry.Kind.GUIDANCE: "other",
    TimelineEntry.Kind.ACTION: "remediate-other",
}
_SYSTEM_IMPACT = {
    "confidentiality": "breach-proprietary",
    "integrity": "integrity-data",
    "availability": "availability-service",
}
_INCIDENT_STATUS = {Status.REPORTED: "new", Status.CLOSED: "resolved"}


def incident_to_iodef(
    incident: Incident,
    *,
    cert_name: str | None = None,
    csirt_fqdn: str | None = None,
    lang: str | None = None,
    generated_at: datetime | None = None,
) -> bytes:
    """The incident as an IODEF v2 document (UTF-8, with XML declaration). IncidentID@name
    is this CSIRT's FQDN (`settings.CSIRT_FQDN`, RFC 7970 section 3.4); the creator
    Contact is named `CERT_NAME`."""
    name = cert_name or _cert_name()
    fqdn = csirt_fqdn or cert_name or str(settings.CSIRT_FQDN)
    root = ET.Element(
        "IODEF-Document",
        {"xmlns": IODEF_NS, "version": "2.00", _XML_LANG: lang or settings.LANGUAGE_CODE},
    )
    el = ET.SubElement(
        root,
        "Incident",
        {
            "purpose": "reporting",
            "status": _INCIDENT_STATUS.get(Status(incident.status), "in-progress"),
            "restriction": RESTRICTION_FOR_TLP[_tlp(incident)],
        },
    )
    _text(el, "IncidentID", incident.reference, name=fqdn)
    _text(el, "DetectTime", _iso(incident.aware_at))
    if incident.recovered_at:
        _text(el, "RecoveryTime", _iso(incident.recovered_at))
    _text(el, "ReportTime", _iso(incident.reported_at))
    _text(el, "GenerationTime", _iso(generated_at or datetime.now(UTC)))
    _text(el, "Description", incident.title)
    _text(el, "Description", incident.description)
    _assessment(el, incident)
    creator = ET.SubElement(el, "Contact", {"role": "creator", "type": "organization"})
    _text(creator, "ContactName", name)
    reporter = ET.SubElement(el, "Contact", {"role": "reporter", "type": "organization"})
    _text(reporter, "ContactName", incident.organisation.name)
    entries = list(incident.timeline.all())
    if entries:
        history = ET.SubElement(el, "History")
        for entry in entries:
            item = ET.SubElement(history, "HistoryItem", {"action": HISTORY_ACTION[entry.kind]})
            _text(item, "DateTime", _iso(entry.at))
            _text(item, "Description", entry.text)
    if incident.is_drill:
        _text(
            el, "AdditionalData", "true", dtype="boolean", name="drill", meaning="This is a drill."
        )
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _assessment(parent: ET.Element, incident: Incident) -> None:
    assessment = ET.SubElement(parent, "Assessment", {"occurrence": "actual"})
    _text(assessment, "IncidentCategory", f'rsit:{incident.rsit_class}="{incident.rsit_type}"')
    severity = _severity(incident)
    affected = [c for c in _SYSTEM_IMPACT if getattr(incident, c) in _IMPACT_CRITICALITY]
    for category in affected:
        impact = ET.SubElement(
            assessment,
            "SystemImpact",
            {"severity": severity, "completion": "succeeded", "type": _SYSTEM_IMPACT[category]},
        )
        _text(impact, "Description", f"{category}: {getattr(incident, category)}")
    if not affected:  # the schema wants at least one impact
        ET.SubElement(assessment, "SystemImpact", {"severity": severity, "type": "unknown"})
    _text(
        assessment,
        "AdditionalData",
        str(incident.level),
        dtype="integer",
        name="level",
        meaning=f"Incident level under the '{incident.profile}' jurisdiction profile.",
    )


def parse_iodef(data: bytes) -> dict[str, Any]:
    """Read an IODEF v2 document safely: no DTD, no entities, no external references,
    at most 5 MB. Returns {"version", "lang", "incidents": [...]}, one plain dict per
    Incident (times as aware UTC datetimes). Raises ValueError saying what is wrong."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_iodef() reads bytes, not {type(data).__name__}.")
    data = bytes(data)
    if len(data) > MAX_IODEF_BYTES:
        raise ValueError(
            f"The IODEF document is {len(data):,} bytes; the limit is {MAX_IODEF_BYTES:,} bytes."
        )
    if not data.strip():
        raise ValueError("The IODEF document is empty.")
    root = parse_xml(data)  # the one XML guard (defusedxml), shared with the exchange
    if root.tag != _q("IODEF-Document"):
        namespace, _, local = (
            root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
        )
        if local != "IODEF-Document":
            raise ValueError(f"The root element is <{local[:80]}>, not an IODEF-Document.")
        if namespace == IODEF_V1_NS:
            raise ValueError(
                "This is an IODEF v1 (RFC 5070) document; only IODEF v2 (RFC 7970) is read."
            )
        raise ValueError(
            f"The IODEF-Document is in namespace {namespace[:120]!r}, expected {IODEF_NS!r}."
        )
    version = root.get("version")
    if version not in (None, "2.00"):
        raise ValueError(f"Unsupported IODEF version {version[:20]!r}; expected '2.00'.")
    incidents = root.findall(_q("Incident"))
    if not incidents:
        raise ValueError("The IODEF document holds no Incident.")
    return {
        "version": version or "2.00",
        "lang": root.get(_XML_LANG),
        "incidents": [_parse_incident(el, n) for n, el in enumerate(incidents, 1)],
    }


def _parse_incident(el: ET.Element, number: int) -> dict[str, Any]:
    where = f"Incident {number}"
    incident_id = el.find(_q("IncidentID"))
    reference = (incident_id.text or "").strip() if incident_id is not None else ""
    if incident_id is None or not reference:
        raise ValueError(f"{where} has no IncidentID.")
    if not incident_id.get("name"):
        raise ValueError(f"{where}: the IncidentID has no name (the issuing CERT).")
    descriptions = [d.text or "" for d in el.findall(_q("Description"))]
    assessment = el.find(_q("Assessment"))
    impacts = [] if assessment is None else assessment.findall(_q("SystemImpact"))
    level = _additional(assessment, "level")
    return {
        "reference": reference,
        "cert_name": incident_id.get("name"),
        "purpose": el.get("purpose"),
        "status": el.get("status"),
        "lang": el.get(_XML_LANG),
        "restriction": el.get("restriction", "private"),
        "tlp": _tlp_value(_strictest_restriction(el, where)),
        **{
            key: _time(el.find(_q(tag)), f"{where} {tag}")
            for tag, key in (
                ("DetectTime", "detect_time"),
                ("StartTime", "start_time"),
                ("EndTime", "end_time"),
                ("RecoveryTime", "recovery_time"),
                ("ReportTime", "report_time"),
                ("GenerationTime", "generation_time"),
            )
        },
        "descriptions": descriptions,
        "title": descriptions[0] if len(descriptions) > 1 else "",
        "description": "\n\n".join(descriptions[1:] if len(descriptions) > 1 else descriptions),
        "categories": [] if assessment is None else _texts(assessment, "IncidentCategory"),
        "severity": impacts[0].get("severity") if impacts else None,
        "impacts": [
            {
                "type": i.get("type", "unknown"),
                "severity": i.get("severity"),
                "description": "\n".join(_texts(i, "Description")),
            }
            for i in impacts
        ],
        "level": _level(level, where),
        "contacts": [
            {
                "role": c.get("role"),
                "type": c.get("type"),
                "name": next(iter(_texts(c, "ContactName")), ""),
                "emails": [e.findtext(_q("EmailTo"), "").strip() for e in c.findall(_q("Email"))],
            }
            for c in el.findall(_q("Contact"))
        ],
        "history": [
            {
                "action": item.get("action"),
                "at": _time(item.find(_q("DateTime")), f"{where} HistoryItem DateTime"),
                "description": "\n".join(_texts(item, "Description")),
            }
            for item in el.findall(f"{_q('History')}/{_q('HistoryItem')}")
        ],
        "is_drill": (_additional(el, "drill") or "").strip().lower() in ("true", "1"),
    }


def _strictest_restriction(el: ET.Element, where: str) -> TLP:
    """The Incident's restriction (RFC default: private), tightened by any stricter
    restriction inside it: a receiver must never widen what the sender narrowed."""
    found = [_restriction_tlp(el.get("restriction", "private"), el.get("ext-restriction"), where)]
    for child in el.iter():
        if child is not el and child.get("restriction"):
            found.append(
                _restriction_tlp(child.get("restriction", ""), child.get("ext-restriction"), where)
            )
    return max(found)


def _restriction_tlp(value: str, extension: str | None, where: str) -> TLP:
    value = value.strip().lower()
    if value == "ext-value":
        try:
            return parse_tlp(extension or "")
        except ValueError:
            return TLP.RED  # an extension we do not understand: the strictest reading
    if value in _TLP_FOR_RESTRICTION:
        return _TLP_FOR_RESTRICTION[value]
    try:
        return parse_tlp(value)  # lenient senders: "TLP:AMBER", "clear", "amber+strict"
    except ValueError:
        raise ValueError(f"{where}: unknown restriction {value[:40]!r}.") from None


def _time(el: ET.Element | None, what: str) -> datetime | None:
    if el is None:
        return None
    text = (el.text or "").strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {text[:40]!r} is not an ISO 8601 date-time.") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} {text[:40]!r} has no time zone; RFC 7970 times carry one.")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{what} {text[:40]!r} is out of range.") from None


def _level(text: str | None, where: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{where}: the level {text.strip()[:20]!r} is not a number.") from None


def _additional(parent: ET.Element | None, name: str) -> str | None:
    if parent is None:
        return None
    for data in parent.findall(_q("AdditionalData")):
        if data.get("name") == name:
            return data.text or ""
    return None


def _texts(parent: ET.Element, tag: str) -> list[str]:
    return [(child.text or "").strip() for child in parent.findall(_q(tag))]


# --- shared ---------------------------------------------------------------------------

_XML_LANG = f"{{{XML_NS}}}lang"


def _q(tag: str) -> str:
    return f"{{{IODEF_NS}}}{tag}"


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    # Written unqualified under the root's xmlns; ElementTree's default_namespace option
    # refuses unqualified attributes.
    child = ET.SubElement(parent, tag, attrs)
    child.text = _xml_safe(text)
    return child


def _xml_safe(text: str) -> str:
    """Replace the characters XML 1.0 cannot carry (control characters, lone surrogates,
    U+FFFE/U+FFFF), which ElementTree would write into an unreadable document."""
    return "".join(c if _xml_char(ord(c)) else "\ufffd" for c in text)


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _iso(moment: datetime) -> str:
    """UTC, ISO 8601 with 'Z'; microseconds only when there are any."""
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _cert_name() -> str:
    return str(getattr(settings, "CERT_NAME", "") or DEFAULT_CERT_NAME)


def _uuid(cert_name: str, *parts: object) -> uuid.UUID:
    deployment = uuid.uuid5(ID_NAMESPACE, cert_name)
    return uuid.uuid5(deployment, "/".join(str(p) for p in parts))


def _tlp(incident: Incident) -> TLP:
    return parse_tlp(incident.tlp)


def _tlp_value(level: TLP) -> str:
    """'clear', 'green', 'amber', 'amber+strict', 'red': the model's and TLP 2.0's spelling."""
    return level.label.removeprefix("TLP:").lower()


def _level_rank(incident: Incident) -> float:
    """The level's position on its jurisdiction's scale, in (0, 1]: Taiwan's 1-4 give
    0.25-1.0; a one-level profile (NIS2 'significant') gives 1.0."""
    try:
        top = max(clocks.load_profile(incident.profile).levels)
    except (KeyError, ValueError):
        top = 4
    return min(max(incident.level, 1) / max(top, 1), 1.0)


def _severity(incident: Incident) -> str:
    rank = _level_rank(incident)
    return "low" if rank <= 0.25 else "medium" if rank <= 0.5 else "high"
