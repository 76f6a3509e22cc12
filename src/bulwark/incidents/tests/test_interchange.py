"""Interchange: an incident leaves as a STIX 2.1 bundle or an IODEF v2 document that the
reference libraries and the RFC accept, with its TLP, its times in UTC and stable ids; and
IODEF from outside is read without letting hostile XML do anything."""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import stix2
from django.conf import settings
from django.utils import timezone

from bulwark.constituency.models import User
from bulwark.core.tlp import STIX_MARKING_IDS, TLP2_EXTENSION_ID, parse_tlp
from bulwark.incidents import services
from bulwark.incidents.interchange import (
    IMPACT_EXTENSION,
    INCIDENT_CORE_EXTENSION,
    IODEF_NS,
    MAX_IODEF_BYTES,
    TIMES_EXTENSION,
    incident_to_iodef,
    incident_to_stix,
    parse_iodef,
)
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_journey import People

TLPS = ["clear", "green", "amber", "amber+strict", "red"]
RESTRICTIONS = {
    "clear": "white",
    "green": "green",
    "amber": "amber",
    "amber+strict": "need-to-know",
    "red": "red",
}
# RFC 7970 s.3.2: the order of an Incident's children (the schema's xs:sequence).
INCIDENT_SEQUENCE = [
    "IncidentID", "AlternativeID", "RelatedActivity", "DetectTime", "StartTime", "EndTime",
    "RecoveryTime", "ReportTime", "GenerationTime", "Description", "Discovery", "Assessment",
    "Method", "Contact", "EventData", "IndicatorData", "History", "AdditionalData",
]  # fmt: skip
HISTORY_ACTIONS = {"status-triage", "status-new-info", "remediate-other", "other"}
Q = f"{{{IODEF_NS}}}"


@pytest.fixture
def people(db: None) -> People:
    return People()


def user(name: str) -> User:
    return User.objects.get(username=name)


def report(people: People, **overrides: Any) -> Incident:
    fields: dict[str, Any] = {
        "title": "Web defacement",
        "description": "Home page replaced.",
        "rsit_class": "intrusions",
        "rsit_type": "application-compromise",
        "aware_at": timezone.now() - timedelta(minutes=30),
        "answers": Answers(integrity="serious", core_system=True),
        **overrides,
    }
    return services.report_incident(user("reporter"), people.agency, **fields)


def handled(people: People, **overrides: Any) -> Incident:
    """Reported, reviewed at level 3 (forwarded), handled by the CERT, recovered."""
    incident = report(people, **overrides)
    services.review_incident(user("reviewer"), incident, level=3, comment="Confirmed.")
    services.start_response(user("duty"), incident)
    services.add_note(user("duty"), incident, kind="guidance", text="Preserve the logs.")
    return services.report_recovery(
        user("reporter"), incident, completed_at=timezone.now(), summary="Restored."
    )


def by_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [o for o in bundle["objects"] if o["type"] == kind]


def the_incident(bundle: dict[str, Any]) -> dict[str, Any]:
    (incident,) = by_type(bundle, "incident")
    return incident


def stix_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- STIX ----------------------------------------------------------------------------


def test_stix_bundle_is_valid_stix_and_json(people: People) -> None:
    incident = handled(people)
    bundle = incident_to_stix(incident)
    assert json.loads(json.dumps(bundle)) == bundle  # plain, JSON-serialisable
    parsed = stix2.parse(bundle, allow_custom=True)
    assert parsed.id == bundle["id"]
    # Everything the library knows was validated strictly, not passed through as dicts.
    known = {"identity", "incident", "marking-definition", "extension-definition"}
    assert {type(o).__name__ for o in parsed.objects if o["type"] in known} <= {
        "Identity",
        "Incident",
        "MarkingDefinition",
        "ExtensionDefinition",
    }
    for obj in bundle["objects"]:
        if obj["type"] in known:
            stix2.parse(obj)  # no allow_custom needed


def test_stix_incident_carries_the_report(people: People) -> None:
    incident = handled(people)
    bundle = incident_to_stix(incident)
    stix_incident = the_incident(bundle)
    assert stix_incident["name"] == f"{incident.reference} Web defacement"
    assert stix_incident["description"] == "Home page replaced."
    assert stix_incident["external_references"] == [
        {"source_name": "bulwark", "external_id": incident.reference}
    ]
    assert stix_time(stix_incident["created"]) == incident.reported_at
    assert stix_time(stix_incident["modified"]) > incident.reported_at
    assert stix_time(stix_incident["first_seen"]) == incident.aware_at
    assert stix_incident["first_seen"].endswith("Z")
    assert 'rsit:intrusions="application-compromise"' in stix_incident["labels"]
    # The reporting organisation made it.
    (org,) = [i for i in by_type(bundle, "identity") if i["id"] == stix_incident["created_by_ref"]]
    assert org["name"] == "Bureau" and org["identity_class"] == "organization"
    # first_seen is declared by an extension definition shipped in the bundle.
    (definition,) = by_type(bundle, "extension-definition")
    assert definition["id"] == TIMES_EXTENSION
    assert definition["extension_properties"] == ["first_seen"]
    assert stix_incident["extensions"][TIMES_EXTENSION] == {
        "extension_type": "toplevel-property-extension"
    }


def test_stix_incident_core_extension_follows_the_workflow(people: People) -> None:
    incident = report(people)
    core = the_incident(incident_to_stix(incident))["extensions"][INCIDENT_CORE_EXTENSION]
    assert core["extension_type"] == "property-extension"
    assert (core["determination"], core["investigation_status"]) == ("suspected", "new")
    # Serious integrity impact on a core system: level 3, a major incident.
    assert incident.level == 3
    assert core["incident_types"] == ["compromised-system", "major"]
    assert core["criticality"] == 70

    incident = handled(people)
    core = the_incident(incident_to_stix(incident))["extensions"][INCIDENT_CORE_EXTENSION]
    assert (core["determination"], core["investigation_status"]) == ("confirmed", "open")

    Incident.objects.filter(pk=incident.pk).update(status="closed")
    incident.refresh_from_db()
    core = the_incident(incident_to_stix(incident))["extensions"][INCIDENT_CORE_EXTENSION]
    assert core["investigation_status"] == "closed"


def test_stix_types_without_a_faithful_counterpart_are_left_out(people: People) -> None:
    incident = report(
        people,
        rsit_class="information-gathering",
        rsit_type="social-engineering",
        answers=Answers(confidentiality="minor"),
    )
    assert incident.level == 1
    stix_incident = the_incident(incident_to_stix(incident))
    core = stix_incident["extensions"][INCIDENT_CORE_EXTENSION]
    assert "incident_types" not in core  # no guess, and level 1 is not major
    assert core["criticality"] == 15
    assert 'rsit:information-gathering="social-engineering"' in stix_incident["labels"]


def test_stix_impacts_are_impact_objects(people: People) -> None:
    incident = handled(
        people,
        answers=Answers(
            confidentiality="minor",
            integrity="serious",
            availability="serious",
            core_system=True,
            restored_in_time=True,
            secret="general_official",
        ),
    )
    bundle = incident_to_stix(incident)
    impacts = {i["impact_category"]: i for i in by_type(bundle, "impact")}
    assert set(impacts) == {"confidentiality", "integrity", "availability"}
    stix_incident = the_incident(bundle)
    refs = stix_incident["extensions"][INCIDENT_CORE_EXTENSION]["impact_refs"]
    assert sorted(refs) == sorted(i["id"] for i in impacts.values())
    for impact in impacts.values():
        assert impact["spec_version"] == "2.1" and impact["id"].startswith("impact--")
        # Only the extension-definition key: the per-category sub-extensions (keyed by
        # the bare category name) fail the STIX 2.1 schema (test_interchange_stix.py).
        assert impact["extensions"] == {IMPACT_EXTENSION: {"extension_type": "new-sdo"}}
        assert impact["object_marking_refs"] == stix_incident["object_marking_refs"]
        assert impact["created_by_ref"] == stix_incident["created_by_ref"]
    assert impacts["confidentiality"]["description"] == (
        "confidentiality: minor (confirmed-loss, classified-material)"
    )
    assert "full-modification" in impacts["integrity"]["description"]
    assert impacts["availability"]["criticality"] == 75
    assert stix_time(impacts["availability"]["end_time"]) == incident.recovered_at


def test_stix_without_impacts_needs_no_custom_content(people: People) -> None:
    incident = report(people, answers=Answers())  # nothing affected: level 1
    bundle = incident_to_stix(incident)
    assert not by_type(bundle, "impact")
    stix2.parse(bundle)  # strict: nothing custom at all


@pytest.mark.parametrize("tlp", TLPS)
def test_stix_marks_the_incident_with_its_tlp_2_marking(people: People, tlp: str) -> None:
    incident = report(people, tlp=tlp)
    bundle = incident_to_stix(incident)
    marking_id = STIX_MARKING_IDS[parse_tlp(tlp)]
    assert the_incident(bundle)["object_marking_refs"] == [marking_id]
    (marking,) = by_type(bundle, "marking-definition")
    assert marking["id"] == marking_id
    assert marking["name"] == f"TLP:{tlp.upper()}"
    assert marking["extensions"] == {
        TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": tlp}
    }
    assert marking["created"] == "2022-10-01T00:00:00.000Z"
    assert "definition_type" not in marking  # not a TLP 1.0 marking


def test_stix_ids_are_stable_so_reexports_update(people: People) -> None:
    incident = report(people)
    first, again = incident_to_stix(incident), incident_to_stix(incident)
    assert first == again  # nothing changed: the same bundle, byte for byte
    assert the_incident(first)["id"] == the_incident(again)["id"]

    services.review_incident(user("reviewer"), incident, level=3)
    incident.refresh_from_db()
    later = incident_to_stix(incident)
    assert the_incident(later)["id"] == the_incident(first)["id"]
    assert stix_time(the_incident(later)["modified"]) > stix_time(the_incident(first)["modified"])
    assert the_incident(later)["created"] == the_incident(first)["created"]
    assert {i["id"] for i in by_type(later, "impact")} == {
        i["id"] for i in by_type(first, "impact")
    }


def test_stix_ids_differ_between_incidents_and_deployments(people: People) -> None:
    one, two = report(people), report(people, title="Another")
    assert the_incident(incident_to_stix(one))["id"] != the_incident(incident_to_stix(two))["id"]
    ours = the_incident(incident_to_stix(one))["id"]
    theirs = the_incident(incident_to_stix(one, cert_name="cert.example.org"))["id"]
    assert ours != theirs


def test_stix_drill_is_labelled(people: People) -> None:
    incident = report(people, is_drill=True)
    assert "drill" in the_incident(incident_to_stix(incident))["labels"]


# --- IODEF export ----------------------------------------------------------------------


def iodef_root(document: bytes) -> ET.Element:
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(document)


def test_iodef_document_is_well_formed_rfc_7970(people: People) -> None:
    incident = handled(people)
    root = iodef_root(incident_to_iodef(incident))
    assert root.tag == f"{Q}IODEF-Document"
    assert root.get("version") == "2.00"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    (element,) = root
    assert element.tag == f"{Q}Incident"
    assert element.get("purpose") == "reporting"
    assert element.get("status") == "in-progress"
    # Every element is in the IODEF namespace, and the Incident's children keep the
    # schema's order.
    assert all(e.tag.startswith(Q) for e in root.iter())
    order = [INCIDENT_SEQUENCE.index(child.tag.removeprefix(Q)) for child in element]
    assert order == sorted(order)
    incident_id = element.find(f"{Q}IncidentID")
    assert incident_id is not None
    # RFC 7970 3.4: the issuing CSIRT's FQDN (BULWARK_CSIRT_FQDN, default SITE_URL's host)
    assert incident_id.text == incident.reference
    assert incident_id.get("name") == urlsplit(settings.SITE_URL).hostname
    contacts = element.findall(f"{Q}Contact")
    assert [(c.get("role"), c.get("type"), c.findtext(f"{Q}ContactName")) for c in contacts] == [
        ("creator", "organization", "bulwark"),
        ("reporter", "organization", "Bureau"),
    ]
    impact = element.find(f"{Q}Assessment/{Q}SystemImpact")
    assert impact is not None
    assert (impact.get("severity"), impact.get("type")) == ("high", "integrity-data")
    actions = [h.get("action") for h in element.iter(f"{Q}HistoryItem")]
    assert actions and set(actions) <= HISTORY_ACTIONS
    assert "other" in actions  # the CERT's guidance


def test_iodef_times_are_utc(people: People) -> None:
    incident = handled(people)
    generated = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    element = iodef_root(incident_to_iodef(incident, generated_at=generated))[0]
    times = {
        tag: element.findtext(f"{Q}{tag}")
        for tag in ("DetectTime", "RecoveryTime", "ReportTime", "GenerationTime")
    }
    assert all(value and value.endswith("Z") for value in times.values()), times
    assert datetime.fromisoformat(times["DetectTime"] or "") == incident.aware_at
    assert datetime.fromisoformat(times["RecoveryTime"] or "") == incident.recovered_at
    assert datetime.fromisoformat(times["ReportTime"] or "") == incident.reported_at
    assert times["GenerationTime"] == "2026-03-01T10:00:00Z"
    assert element.find(f"{Q}StartTime") is None  # the occurrence time is not recorded


@pytest.mark.parametrize("tlp", TLPS)
def test_iodef_restriction_follows_tlp_and_round_trips(people: People, tlp: str) -> None:
    incident = report(people, tlp=tlp)
    document = incident_to_iodef(incident)
    assert iodef_root(document)[0].get("restriction") == RESTRICTIONS[tlp]
    assert parse_iodef(document)["incidents"][0]["tlp"] == tlp


@pytest.mark.parametrize("tlp", TLPS)
def test_every_exported_iodef_document_is_valid_by_the_rfc_7970_schema(
    people: People, tlp: str, settings: Any
) -> None:
    """The IODEF 2.0 XSD (RFC 7970 section 8, vendored with the exchange's reader) accepts
    what Bulwark sends, for every TLP, a drill and a handled incident with a timeline;
    IncidentID@name is the configured CSIRT FQDN."""
    from bulwark.exchange.engine.formats.iodef import schema_errors

    settings.CSIRT_FQDN = "cert.example.gov.tw"
    documents = [
        incident_to_iodef(report(people, tlp=tlp)),
        incident_to_iodef(handled(people, tlp=tlp, is_drill=True)),
    ]
    for document in documents:
        assert schema_errors(document) == []
        assert iodef_root(document)[0].find(f"{Q}IncidentID").get("name") == "cert.example.gov.tw"


@pytest.mark.parametrize(
    ("level", "severity"), [(1, "low"), (2, "medium"), (3, "high"), (4, "high")]
)
def test_iodef_severity_follows_the_level(people: People, level: int, severity: str) -> None:
    incident = report(people)
    Incident.objects.filter(pk=incident.pk).update(level=level)
    incident.refresh_from_db()
    parsed = parse_iodef(incident_to_iodef(incident))["incidents"][0]
    assert (parsed["severity"], parsed["level"]) == (severity, level)


def test_iodef_round_trip(people: People) -> None:
    incident = handled(people, is_drill=True)
    document = incident_to_iodef(incident, cert_name="cert.example.gov.tw")
    parsed = parse_iodef(document)
    assert (parsed["version"], parsed["lang"]) == ("2.00", "en")
    (got,) = parsed["incidents"]
    assert got["reference"] == incident.reference
    assert got["cert_name"] == "cert.example.gov.tw"
    assert got["detect_time"] == incident.aware_at
    assert got["report_time"] == incident.reported_at
    assert got["recovery_time"] == incident.recovered_at
    assert got["start_time"] is None
    assert got["detect_time"].tzinfo == UTC
    assert (got["title"], got["description"]) == ("Web defacement", "Home page replaced.")
    assert got["categories"] == ['rsit:intrusions="application-compromise"']
    assert got["level"] == 3 and got["is_drill"] is True
    assert [(c["role"], c["name"]) for c in got["contacts"]] == [
        ("creator", "cert.example.gov.tw"),
        ("reporter", "Bureau"),
    ]
    timeline = list(incident.timeline.all())
    assert [h["at"] for h in got["history"]] == [e.at for e in timeline]
    assert [h["description"] for h in got["history"]] == [e.text for e in timeline]


def test_iodef_text_that_xml_cannot_carry_is_replaced(people: People) -> None:
    # (PostgreSQL refuses NUL itself; these it stores.)
    incident = report(people, title="Tab\tok, vertical tab\x0b, unit separator\x1f, \uffff no")
    got = parse_iodef(incident_to_iodef(incident))["incidents"][0]
    assert got["title"] == "Tab\tok, vertical tab\ufffd, unit separator\ufffd, \ufffd no"


def test_iodef_escapes_markup_in_user_text(people: People) -> None:
    text = 'Found <script>alert(1)</script> & "quotes" ]]>'
    incident = report(people, description=text)
    got = parse_iodef(incident_to_iodef(incident))["incidents"][0]
    assert got["description"] == text


# --- IODEF import ----------------------------------------------------------------------

MINIMAL = b"""<?xml version="1.0" encoding="UTF-8"?>
<IODEF-Document version="2.00" xml:lang="en" xmlns="urn:ietf:params:xml:ns:iodef-2.0">
  <Incident purpose="reporting" restriction="%s">
    <IncidentID name="csirt.example.net">189493</IncidentID>
    <DetectTime>2026-02-28T23:10:00+08:00</DetectTime>
    <GenerationTime>2026-03-01T00:00:00Z</GenerationTime>
    <Description>Scanning from our network</Description>
    <Contact role="creator" type="organization">
      <ContactName>Example CSIRT</ContactName>
      <Email><EmailTo>csirt@example.net</EmailTo></Email>
    </Contact>
  </Incident>
</IODEF-Document>"""


def test_parse_foreign_minimal_document() -> None:
    (got,) = parse_iodef(MINIMAL % b"green")["incidents"]
    assert got["reference"] == "189493" and got["cert_name"] == "csirt.example.net"
    assert got["detect_time"] == datetime(2026, 2, 28, 15, 10, tzinfo=UTC)
    assert got["report_time"] is None
    assert (got["title"], got["description"]) == ("", "Scanning from our network")
    assert got["contacts"][0]["emails"] == ["csirt@example.net"]
    assert got["tlp"] == "green" and got["level"] is None and got["is_drill"] is False


@pytest.mark.parametrize(
    ("restriction", "tlp"),
    [
        ("public", "clear"),
        ("partner", "green"),
        ("need-to-know", "amber+strict"),
        ("private", "red"),
        ("default", "amber"),
        ('ext-value" ext-restriction="TLP:AMBER+STRICT', "amber+strict"),
        ('ext-value" ext-restriction="something-else', "red"),
    ],
)
def test_parse_restrictions(restriction: str, tlp: str) -> None:
    assert parse_iodef(MINIMAL % restriction.encode())["incidents"][0]["tlp"] == tlp


def test_parse_missing_restriction_is_private() -> None:
    document = MINIMAL.replace(b' restriction="%s"', b"")
    assert parse_iodef(document)["incidents"][0]["tlp"] == "red"


def test_parse_keeps_the_strictest_restriction_inside() -> None:
    document = (MINIMAL % b"white").replace(
        b"<Description>", b'<Description restriction="need-to-know">'
    )
    assert parse_iodef(document)["incidents"][0]["tlp"] == "amber+strict"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<IODEF-Document version="2.00" xmlns="urn:ietf:params:xml:ns:iodef-2.0">
  <Incident purpose="reporting"><IncidentID name="x">&lol9;</IncidentID></Incident>
</IODEF-Document>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE IODEF-Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<IODEF-Document version="2.00" xmlns="urn:ietf:params:xml:ns:iodef-2.0">
  <Incident purpose="reporting">
    <IncidentID name="x">1</IncidentID>
    <GenerationTime>2026-03-01T00:00:00Z</GenerationTime>
    <Description>&xxe;</Description>
    <Contact role="creator" type="organization"><ContactName>x</ContactName></Contact>
  </Incident>
</IODEF-Document>"""
XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>
<IODEF-Document version="2.00" xmlns="urn:ietf:params:xml:ns:iodef-2.0"/>"""
PLAIN_DTD = (
    b"""<?xml version="1.0"?>
<!DOCTYPE IODEF-Document SYSTEM "iodef.dtd">
"""
    + MINIMAL.split(b"?>", 1)[1] % b"green"
)
IODEF_V1 = MINIMAL.replace(b"iodef-2.0", b"iodef-1.0").replace(b'version="2.00"', b'version="1.00"')


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(BILLION_LAUGHS, "DTD", id="billion-laughs"),
        pytest.param(XXE, "DTD", id="xxe-etc-passwd"),
        pytest.param(XXE_PARAMETER, "DTD", id="xxe-parameter-entity"),
        pytest.param(PLAIN_DTD, "DTD", id="dtd"),
        pytest.param(b"this is not XML at all", "not well-formed", id="not-xml"),
        pytest.param(b"<IODEF-Document", "not well-formed", id="truncated"),
        pytest.param(b"<html><body>hi</body></html>", "not an IODEF-Document", id="wrong-root"),
        pytest.param(IODEF_V1, "IODEF v1", id="iodef-v1"),
        pytest.param(
            MINIMAL.replace(IODEF_NS.encode(), b"urn:example:other") % b"green",
            "namespace",
            id="wrong-namespace",
        ),
        pytest.param(
            (MINIMAL % b"green").replace(b'version="2.00"', b'version="3.00"'),
            "version",
            id="wrong-version",
        ),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"  \n ", "empty", id="blank"),
        pytest.param(
            b'<IODEF-Document version="2.00" xmlns="urn:ietf:params:xml:ns:iodef-2.0"/>',
            "no Incident",
            id="no-incident",
        ),
        pytest.param((MINIMAL % b"green").replace(b"189493", b""), "no IncidentID", id="empty-id"),
        pytest.param((MINIMAL % b"green").replace(b"+08:00", b""), "time zone", id="naive-time"),
        pytest.param(
            (MINIMAL % b"green").replace(b"2026-02-28T23:10:00", b"yesterday"),
            "not an ISO 8601",
            id="bad-time",
        ),
        pytest.param(
            (MINIMAL % b"green").replace(
                b"2026-02-28T23:10:00+08:00", b"0001-01-01T00:00:00+01:00"
            ),
            "out of range",
            id="time-out-of-range",
        ),
        pytest.param(MINIMAL % b"bogus", "unknown restriction", id="bad-restriction"),
        pytest.param(b"\xff\xfe\x00garbage", "not well-formed", id="binary"),
    ],
)
def test_parse_refuses_hostile_or_malformed_input(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        parse_iodef(data)
    assert "root:" not in str(refused.value)  # never a line of /etc/passwd


def test_parse_refuses_oversized_documents_before_parsing() -> None:
    padding = b"<Description>" + b"x" * (6 * 1024 * 1024) + b"</Description>"
    document = (MINIMAL % b"green").replace(b"<Description>", padding + b"<Description>", 1)
    assert len(document) > MAX_IODEF_BYTES
    with pytest.raises(ValueError, match="limit is 5,242,880 bytes"):
        parse_iodef(document)


def test_parse_wants_bytes() -> None:
    with pytest.raises(TypeError):
        parse_iodef((MINIMAL % b"green").decode())  # type: ignore[arg-type]


def test_parse_reads_every_incident() -> None:
    single = MINIMAL % b"green"
    start = single.index(b"<Incident ")
    end = single.index(b"</Incident>") + len(b"</Incident>")
    second = single[start:end].replace(b"189493", b"189494")
    document = single[:end] + second + single[end:]
    assert [i["reference"] for i in parse_iodef(document)["incidents"]] == ["189493", "189494"]
