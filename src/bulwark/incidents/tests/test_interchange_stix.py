"""An incident's STIX bundle carries its reported indicators (as observables and as
indicators related to the incident) and passes the OASIS validator with no error, with
and without impacts."""

import json
from typing import Any

import pytest
import stix2  # type: ignore[import-untyped]
from stix2validator import ValidationOptions, validate_string  # type: ignore[import-untyped]

from bulwark.incidents.interchange import INCIDENT_CORE_EXTENSION, incident_to_stix
from bulwark.incidents.levels import Answers
from bulwark.incidents.tests.test_interchange import by_type, handled, report, the_incident
from bulwark.incidents.tests.test_journey import People
from bulwark.intel.patterns import observables

INDICATORS = [
    ("ipv4", "198.51.100.7"),
    ("ipv6", "2001:db8::7"),
    ("domain", "evil.example"),
    ("url", "http://evil.example/drop/x.exe"),
    ("email", "phish@evil.example"),
    ("md5", "d" * 32),
    ("sha1", "a" * 40),
    ("sha256", "e" * 64),
]


@pytest.fixture
def people(db: None) -> People:
    return People()


def validate(bundle: dict[str, Any]) -> list[str]:
    result = validate_string(json.dumps(bundle), ValidationOptions(version="2.1"))
    return [str(e) for e in result.errors]


def test_the_bundle_carries_every_reported_indicator(people: People) -> None:
    incident = handled(people, indicators=INDICATORS)
    bundle = incident_to_stix(incident)
    assert validate(bundle) == []
    stix_incident = the_incident(bundle)
    indicators = by_type(bundle, "indicator")
    assert len(indicators) == len(INDICATORS)
    # Each indicator's pattern names its value, the way the intel store reads patterns.
    found = set()
    for obj in indicators:
        (one,), _fast = observables(obj["pattern"])
        found.add((one.kind, one.value))
        assert obj["object_marking_refs"] == stix_incident["object_marking_refs"]
        assert obj["created_by_ref"] == stix_incident["created_by_ref"]
    assert found == set(INDICATORS)
    # The same values as cyber-observables.
    values = {o["value"] for t in ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr")
              for o in by_type(bundle, t)}  # fmt: skip
    hashes = {h for f in by_type(bundle, "file") for h in f["hashes"].values()}
    assert values | hashes == {v for _k, v in INDICATORS}
    # Linked to the incident: the Incident Core extension's other_object_refs, and a
    # related-to relationship per indicator for tools that do not read the extension.
    refs = stix_incident["extensions"][INCIDENT_CORE_EXTENSION]["other_object_refs"]
    ids = {o["id"] for o in bundle["objects"]}
    assert set(refs) <= ids and {o["id"] for o in indicators} <= set(refs)
    relations = by_type(bundle, "relationship")
    assert {(r["source_ref"], r["target_ref"]) for r in relations} == {
        (o["id"], stix_incident["id"]) for o in indicators
    }
    # Exported again, the same ids (the receiver updates instead of duplicating).
    again = incident_to_stix(incident)
    assert {o["id"] for o in again["objects"]} == ids


@pytest.mark.parametrize(
    "answers",
    [
        Answers(),
        Answers(integrity="serious", core_system=True),
        Answers(confidentiality="serious", integrity="minor", availability="serious"),
    ],
)
def test_every_bundle_passes_the_oasis_validator(people: People, answers: Answers) -> None:
    incident = report(people, answers=answers, indicators=INDICATORS[:2])
    bundle = incident_to_stix(incident)
    assert validate(bundle) == []
    stix2.parse(bundle, allow_custom=bool(by_type(bundle, "impact")))
