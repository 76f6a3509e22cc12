"""MISP event JSON: import (with a report of what was not carried), export, PyMISP, round trip."""

import orjson
import pytest
from pymisp import MISPEvent  # type: ignore[import-untyped]

from bulwark.core.tlp import TLP
from bulwark.intel import misp
from bulwark.intel.models import Sighting, StixObject
from bulwark.intel.tests.conftest import Community

EVENT = {
    "Event": {
        "uuid": "5f2a3b1c-0000-4000-8000-000000000001",
        "info": "Phishing wave against banks",
        "timestamp": "1767225600",
        "Tag": [{"name": "tlp:amber"}, {"name": 'misp-galaxy:threat-actor="Demo"'}],
        "Attribute": [
            {
                "uuid": "6a1f0000-0000-4000-8000-000000000001",
                "type": "ip-dst",
                "category": "Network activity",
                "value": "198.51.100.23",
                "comment": "C2",
                "Sighting": [
                    {
                        "uuid": "7b000000-0000-4000-8000-000000000001",
                        "date_sighting": "1767225700",
                        "type": "0",
                    }
                ],
            },
            {
                "uuid": "6a1f0000-0000-4000-8000-000000000002",
                "type": "domain",
                "category": "Network activity",
                "value": "Login-Bank.EXAMPLE",
            },
            {
                "uuid": "6a1f0000-0000-4000-8000-000000000003",
                "type": "url",
                "category": "Payload delivery",
                "value": "http://login-bank.example/verify",
            },
            {
                "uuid": "6a1f0000-0000-4000-8000-000000000004",
                "type": "md5",
                "category": "Payload delivery",
                "value": "D41D8CD98F00B204E9800998ECF8427E",
            },
            {
                "uuid": "6a1f0000-0000-4000-8000-000000000005",
                "type": "email-src",
                "category": "Payload delivery",
                "value": "support@login-bank.example",
            },
            {
                "uuid": "6a1f0000-0000-4000-8000-000000000006",
                "type": "AS",
                "category": "Network activity",
                "value": "AS64500",
            },
            {
                "uuid": "6a1f0000-0000-4000-8000-000000000007",
                "type": "text",
                "category": "Other",
                "value": "free text",
            },
            {
                "uuid": "6a1f0000-0000-4000-8000-000000000008",
                "type": "ip-src",
                "category": "Network activity",
                "value": "999.1.1.1",
            },
        ],
        "Object": [
            {
                "name": "file",
                "Attribute": [
                    {
                        "uuid": "6a1f0000-0000-4000-8000-000000000009",
                        "type": "sha256",
                        "category": "Payload delivery",
                        "value": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                        "Tag": [{"name": "tlp:red"}],
                    },
                    {
                        "uuid": "6a1f0000-0000-4000-8000-00000000000a",
                        "type": "filename",
                        "category": "Payload delivery",
                        "value": "invoice.exe",
                    },
                ],
            }
        ],
    }
}
CARRIED = 7


def test_import_carries_attributes_tags_and_sightings_and_reports_the_rest(
    community: Community,
) -> None:
    shared = misp.import_event(community.sharer, community.community, orjson.dumps(EVENT).decode())
    assert shared.outcome.stored == CARRIED, shared.outcome.failures
    report = {r["id"]: r["message"] for r in shared.submission.report}
    assert "not carried" in report["6a1f0000-0000-4000-8000-000000000007"]
    assert "999.1.1.1" in report["6a1f0000-0000-4000-8000-000000000008"]
    assert "filename" in report["6a1f0000-0000-4000-8000-00000000000a"]
    levels = dict(StixObject.objects.values_list("stix_id", "tlp"))
    assert levels["indicator--6a1f0000-0000-4000-8000-000000000001"] == TLP.AMBER
    assert levels["indicator--6a1f0000-0000-4000-8000-000000000009"] == TLP.RED
    assert Sighting.objects.get().value.value == "198.51.100.23"


@pytest.mark.parametrize("text", ["{", "[]", '{"Event": {"Attribute": 5}}', "null"])
def test_broken_misp_input_is_refused_clearly(community: Community, text: str) -> None:
    with pytest.raises(misp.InvalidMisp):
        misp.import_event(community.sharer, community.community, text)


def test_export_loads_in_pymisp_and_the_round_trip_keeps_every_attribute(
    community: Community,
) -> None:
    shared = misp.import_event(community.sharer, community.community, orjson.dumps(EVENT).decode())
    exported = misp.export_event(community.sharer, shared.submission)
    event = MISPEvent()
    event.load(orjson.dumps(exported).decode())
    got = {(a.type, a.category, a.value, a.uuid) for a in event.attributes}
    sent = [a for a in EVENT["Event"]["Attribute"] + EVENT["Event"]["Object"][0]["Attribute"]]  # type: ignore[index, operator]
    stored = {
        s.removeprefix("indicator--") for s in StixObject.objects.values_list("stix_id", flat=True)
    }
    expected = {a["uuid"] for a in sent if a["uuid"] in stored}
    assert {u for *_x, u in got} == expected and len(expected) == CARRIED
    by_uuid = {u: (t, c, v) for t, c, v, u in got}
    assert by_uuid["6a1f0000-0000-4000-8000-000000000002"] == (
        "domain",
        "Network activity",
        "login-bank.example",
    )
    assert by_uuid["6a1f0000-0000-4000-8000-000000000006"][0] == "AS"
    assert event.attributes[0].comment == "C2"
    # a second import of the export stores nothing new: same UUIDs, same versions
    again = misp.import_event(
        community.sharer, community.community, orjson.dumps(exported).decode()
    )
    assert again.outcome.stored == 0 and again.outcome.duplicates == CARRIED
    # a reader who may not see RED gets the event without that attribute
    other = misp.export_event(community.other_user, shared.submission)
    assert len(other["Event"]["Attribute"]) == 0  # AMBER and RED: the other agency sees none
    client = misp.export_event(community.client_user, shared.submission)
    assert "6a1f0000-0000-4000-8000-000000000009" not in {
        a["uuid"] for a in client["Event"]["Attribute"]
    }
