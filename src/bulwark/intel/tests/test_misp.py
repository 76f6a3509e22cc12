"""MISP event JSON: import (the whole event kept, observables indexed, a report of what was
not understood), export, PyMISP, round trip, to_ids, warning lists."""

import uuid
from typing import Any

import orjson
import pytest
from pymisp import MISPEvent  # type: ignore[import-untyped]

from bulwark.conftest import sign_in
from bulwark.core.tlp import TLP
from bulwark.intel import misp, selectors, warninglists
from bulwark.intel.models import Indicator, Sighting, StixObject
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
                        "object_relation": "sha256",
                        "category": "Payload delivery",
                        "value": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                        "Tag": [{"name": "tlp:red"}],
                    },
                    {
                        "uuid": "6a1f0000-0000-4000-8000-00000000000a",
                        "type": "filename",
                        "object_relation": "filename",
                        "category": "Payload delivery",
                        "value": "invoice.exe",
                    },
                ],
            }
        ],
    }
}
INDICATORS = 7  # ip-dst, domain, url, md5, email-src, AS, sha256 (text, filename: no)


def _import(user: Any, collection: Any, event: dict[str, Any]) -> Any:
    return misp.import_event(user, collection, orjson.dumps(event).decode())


def test_import_keeps_the_event_indexes_observables_and_reports_the_rest(
    community: Community,
) -> None:
    shared = _import(community.sharer, community.community, EVENT)
    assert shared.outcome.stored == INDICATORS + 1, shared.outcome.failures  # + the event
    report = {r["id"]: r["message"] for r in shared.submission.report}
    assert "999.1.1.1" in report["6a1f0000-0000-4000-8000-000000000008"]
    assert "6a1f0000-0000-4000-8000-000000000007" not in report  # text: carried, no report
    levels = dict(StixObject.objects.values_list("stix_id", "tlp"))
    assert levels["indicator--6a1f0000-0000-4000-8000-000000000001"] == TLP.AMBER
    assert levels["indicator--6a1f0000-0000-4000-8000-000000000009"] == TLP.RED
    # the event as a whole is as strict as its strictest attribute
    assert levels["x-misp-event--5f2a3b1c-0000-4000-8000-000000000001"] == TLP.RED
    assert Sighting.objects.get().value.value == "198.51.100.23"


@pytest.mark.parametrize(
    "text", ["{", "[]", '{"Event": {"Attribute": 5}}', "null", '{"Event": {"uuid": "x"}}', "{}"]
)
def test_broken_misp_input_is_refused_clearly(community: Community, text: str) -> None:
    with pytest.raises(misp.InvalidMisp):
        misp.import_event(community.sharer, community.community, text)


def test_export_is_the_event_as_received_and_loads_in_pymisp(community: Community) -> None:
    shared = _import(community.sharer, community.community, EVENT)
    exported = misp.export_event(community.sharer, shared.submission)
    added = exported["Event"].pop("Orgc")  # MISP needs an owner; the event had none
    assert added["name"] == "Bulwark"  # the platform: the sharer is not named
    assert exported == EVENT  # byte for byte: values, tags, objects, sightings, comments
    event = MISPEvent()
    event.load(orjson.dumps(exported).decode())
    assert len(event.attributes) == 8 and len(event.objects) == 1
    assert {a.value for a in event.attributes} >= {"Login-Bank.EXAMPLE", "free text"}
    # a second import of the export stores nothing new: same UUIDs, same versions
    again = _import(community.sharer, community.community, exported)
    assert again.outcome.stored == 0 and again.outcome.duplicates == INDICATORS + 1
    # RED somewhere in the event: nobody else gets it, not even as a partial event
    for reader in (community.other_user, community.client_user, community.colleague):
        assert misp.export_event(reader, shared.submission)["Event"]["Attribute"] == []


def test_amber_event_reaches_the_sharer_s_clients_and_not_other_members(
    community: Community,
) -> None:
    event = orjson.loads(orjson.dumps(EVENT))
    del event["Event"]["Object"][0]["Attribute"][0]["Tag"]  # no RED left: AMBER
    shared = _import(community.sharer, community.community, event)
    assert (
        misp.export_event(community.client_user, shared.submission)["Event"]["uuid"]
        == (event["Event"]["uuid"])
    )
    assert misp.export_event(community.other_user, shared.submission)["Event"]["Attribute"] == []


def _detected(user: Any = None) -> set[str]:
    rows = selectors.detection_rows(user, include_decayed=True)
    return {value for _kind, value, _id, _score in rows} | {
        value for _kind, value, _id, _score in selectors.detection_values(include_decayed=True)
    }


def test_to_ids_false_links_and_warninglisted_values_never_reach_detection_exports(
    community: Community,
) -> None:
    attrs = [
        ("ip-dst", "203.0.113.5", True), ("ip-dst", "203.0.113.6", False),
        ("hostname", "ns1.registrar-dns.example", False),
        ("link", "https://blog.example/report.html", True), ("url", "http://evil.example/a", True),
        ("ip-dst", "8.8.8.8", True), ("domain", "google.com", True),
    ]  # fmt: skip
    event = {"Event": {"uuid": str(uuid.uuid4()), "info": "mixed", "timestamp": "1767225600",
             "Tag": [{"name": "tlp:clear"}], "Attribute": [
                 {"uuid": str(uuid.uuid4()), "type": t, "category": "Network activity",
                  "value": v, "to_ids": ids} for t, v, ids in attrs]}}  # fmt: skip
    shared = _import(community.analyst, community.public, event)
    detected = _detected(community.analyst)
    assert {"203.0.113.5", "http://evil.example/a"} <= detected
    assert detected.isdisjoint(
        {"203.0.113.6", "ns1.registrar-dns.example", "blog.example", "8.8.8.8", "google.com"}
    )
    assert not any("blog.example" in v for v in detected)
    # still correlated: the to_ids=false value has its indicator, marked not for detection
    quiet = Indicator.objects.get(
        stix_object__stix_id__endswith=event["Event"]["Attribute"][1]["uuid"]
    )
    assert quiet.detect is False
    # the warning-listed values are named in the submission's report
    report = " ".join(r["message"] for r in shared.submission.report)
    assert "8.8.8.8 is on the warning list" in report and "google.com" in report
    # an update of the event that sets to_ids on: the new version is for detection
    event["Event"]["Attribute"][1]["to_ids"] = True
    event["Event"]["Attribute"][1]["timestamp"] = "1767225700"
    _import(community.analyst, community.public, event)
    assert "203.0.113.6" in _detected(community.analyst)


def test_warninglisted_values_are_flagged_on_the_value_indicator_and_review_pages(
    community: Community, client: Any
) -> None:
    event = {"Event": {"uuid": str(uuid.uuid4()), "info": "resolver",
             "Tag": [{"name": "tlp:green"}],
             "Attribute": [{"uuid": str(uuid.uuid4()), "type": "ip-dst", "value": "8.8.8.8",
                            "category": "Network activity", "to_ids": False}]}}  # fmt: skip
    _import(community.sharer, community.private, event)
    sign_in(client, community.sharer)
    page = client.get("/intel/values/ipv4/8.8.8.8").content.decode()
    names = warninglists.hits("ipv4", "8.8.8.8")
    assert 'id="warninglist"' in page and names and all(n in page for n in names)
    indicator = Indicator.objects.get()
    page = client.get(f"/intel/indicators/{indicator.pk}/").content.decode()
    assert "warninglist" in page and 'id="not-for-detection"' in page
    # in a collection that requires review, the analyst sees the flag before publishing
    community.private.requires_review = True
    community.private.save()
    event["Event"]["uuid"] = str(uuid.uuid4())
    event["Event"]["Attribute"][0]["uuid"] = str(uuid.uuid4())
    _import(community.sharer, community.private, event)
    sign_in(client, community.analyst)
    page = client.get("/intel/review/").content.decode()
    assert page.count('class="badge warn warninglist"') == 1
    other = client.get("/intel/values/ipv4/198.51.100.99")
    assert other.status_code == 404
