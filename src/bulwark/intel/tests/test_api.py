"""The intel REST API: values and their correlations, indicators with scores, sightings,
submissions; hostile input, scopes and who sees what."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from django.test import Client, override_settings

from bulwark.constituency.models import User
from bulwark.core.tlp import TLP
from bulwark.incidents import services as incidents
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident
from bulwark.intel import services
from bulwark.intel.models import Indicator, Sighting, StixObject, Value
from bulwark.intel.tests.conftest import Community, indicator, member, token

API = "/api/v1/intel/"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def fresh(value: str, *, days_old: float = 0, **extra: Any) -> dict[str, Any]:
    """An indicator valid from `days_old` days ago (its score starts from there)."""
    start = datetime.now(UTC) - timedelta(days=days_old)
    path = extra.pop("path", "ipv4-addr:value")
    return indicator(value, path=path, valid_from=stamp(start), created=stamp(start),
                     modified=stamp(start), **extra)  # fmt: skip


def auth(user: User, scopes: list[str] | None = None) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token(user, scopes)}"}


def get(client: Client, user: User, path: str, **params: Any) -> Any:
    return client.get(API + path, params, **auth(user))


def post(client: Client, user: User, path: str, body: Any, **headers: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)  # big ints too
    return client.post(
        API + path, data, content_type="application/json", **{**auth(user), **headers}
    )


def report(actor: User, org: Any, values: list[tuple[str, str]], tlp: str = "amber") -> Incident:
    return incidents.report_incident(
        actor,
        org,
        title="C2 traffic",
        description="A host talks to a C2 server.",
        rsit_class="malicious-code",
        rsit_type="c2-server",
        aware_at=datetime.now(UTC) - timedelta(minutes=30),
        answers=Answers(integrity="minor"),
        indicators=values,
        tlp=tlp,
    )


# --- Values -------------------------------------------------------------------------------


def test_a_value_with_provenance_indicators_sightings_and_correlations(
    community: Community, client: Client
) -> None:
    c = community
    services.ingest_objects(
        c.sharer, c.community,
        [fresh("c2.example.net", path="domain-name:value", confidence=90),
         fresh("198.51.100.0/24", path="ipv4-addr:value"),
         fresh("198.51.100.7")],
        raw="",
    )  # fmt: skip
    now = datetime.now(UTC)
    services.record_sighting("c2.example.net", c.other, 4, now, now, "proxy", actor=c.other_user)
    reporter = member(c.client, "client-reporter", "reporter")
    case = report(reporter, c.client, [("domain", "c2.example.net")])

    r = get(client, c.analyst, "values/", value="  C2.Example.NET ")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["kind"], body["value"]) == ("domain", "c2.example.net")
    assert body["url"] == "/intel/values/domain/c2.example.net"
    assert [p["organisation"] for p in body["provenance"]] == [c.authority.name]
    assert body["provenance"][0]["tlp"] == "TLP:GREEN"
    (ind,) = body["indicators"]
    assert ind["score"]["base"] == 90 and not ind["score"]["decayed"]
    assert ind["score"]["lifetime_days"] == 90 and "lifetime" in ind["score"]["formula"]
    assert [s["source"] for s in body["sightings"]] == ["proxy"]
    assert body["sighting_count"] == 4
    assert [i["reference"] for i in body["correlations"]["incidents"]] == [case.reference]

    address = get(client, c.analyst, "values/", value="198.51.100.7").json()
    assert address["correlations"]["inside_prefixes"] == [
        {"kind": "cidr", "value": "198.51.100.0/24", "sources": 1}
    ]
    prefix = get(client, c.analyst, "values/", value="198.51.100.0/24").json()
    assert [v["value"] for v in prefix["correlations"]["contains"]] == ["198.51.100.7"]

    # the sighting belongs to `other`: the sharer sees the value but not the sighting
    mine = get(client, c.sharer, "values/", value="c2.example.net").json()
    assert mine["sightings"] == [] and mine["provenance"]
    # the sharer's authority is above the client: the incident is listed for it
    assert [i["id"] for i in mine["correlations"]["incidents"]] == [case.pk]
    # another member cannot see the client's incident
    theirs = get(client, c.other_user, "values/", value="c2.example.net").json()
    assert theirs["correlations"]["incidents"] == []


def test_a_value_only_incidents_carry_is_found_by_those_who_see_the_incident(
    community: Community, client: Client
) -> None:
    reporter = member(community.client, "client-reporter", "reporter")
    report(reporter, community.client, [("domain", "only-in-incidents.example")])
    assert not Value.objects.filter(value="only-in-incidents.example").exists()
    r = get(client, community.analyst, "values/", value="only-in-incidents.example")
    assert r.status_code == 200 and len(r.json()["correlations"]["incidents"]) == 1
    r = get(client, community.other_user, "values/", value="only-in-incidents.example")
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"value": "999.1.1.1", "kind": "ipv4"}, "value"),
        ({"value": "999.1.1.1"}, "value"),
        ({"value": ""}, "value"),
        ({}, "value"),
        ({"value": "a" * 3000}, "value"),
        ({"value": "10.0.0.1", "kind": "banana"}, "kind"),
        ({"value": "AS99999999999"}, "value"),
    ],
)
def test_bad_values_are_refused_with_the_reason(
    community: Community, client: Client, params: dict[str, str], field: str
) -> None:
    r = get(client, community.analyst, "values/", **params)
    assert r.status_code == 400, r.content
    assert r.json()[field]


def test_an_unknown_value_is_not_found(community: Community, client: Client) -> None:
    assert get(client, community.analyst, "values/", value="192.0.2.200").status_code == 404


# --- Indicators ---------------------------------------------------------------------------


def test_indicator_filters_and_the_score_with_its_parameters(
    community: Community, client: Client
) -> None:
    c = community
    services.ingest_objects(
        c.sharer, c.community,
        [fresh("192.0.2.1", confidence=90),
         fresh("192.0.2.2", confidence=40),
         fresh("192.0.2.3", days_old=29, confidence=90),  # an address lives 30 days
         fresh("evil.example", path="domain-name:value", confidence=90)],
        raw="",
    )  # fmt: skip

    def values(**params: Any) -> list[str]:
        r = get(client, c.sharer, "indicators/", **params)
        assert r.status_code == 200, r.content
        assert r.json()["count"] == len(r.json()["results"])
        return sorted(v["value"] for row in r.json()["results"] for v in row["values"])

    assert values() == ["192.0.2.1", "192.0.2.2", "evil.example"]
    assert values(include_decayed=1) == ["192.0.2.1", "192.0.2.2", "192.0.2.3", "evil.example"]
    assert values(min_score=60) == ["192.0.2.1", "evil.example"]
    assert values(type="domain") == ["evil.example"]
    assert values(value="EVIL.example") == ["evil.example"]
    assert values(value="192.0.2.3") == []
    assert values(value="192.0.2.3", include_decayed="1") == ["192.0.2.3"]
    # paging over the scored list
    r = get(client, c.sharer, "indicators/", limit=2, offset=1)
    assert r.json()["count"] == 3 and len(r.json()["results"]) == 2

    old = Indicator.objects.get(stix_object__raw__contains="192.0.2.3")
    r = get(client, c.sharer, f"indicators/{old.pk}/")
    assert r.status_code == 200
    score = r.json()["score"]
    assert score["decayed"] and score["lifetime_days"] == 30 and score["base"] == 90
    assert score["speed"] == 0.5 and score["threshold"] == 20.0
    assert 28.9 < score["age_days"] < 29.1
    assert r.json()["tlp"] == "TLP:GREEN" and r.json()["stix_id"].startswith("indicator--")


@pytest.mark.parametrize(
    "params",
    [
        {"min_score": "lots"},
        {"min_score": "101"},
        {"type": "banana"},
        {"value": "999.1.1.1", "type": "ipv4"},
    ],
)
def test_bad_indicator_filters_are_refused(
    community: Community, client: Client, params: dict[str, str]
) -> None:
    assert get(client, community.sharer, "indicators/", **params).status_code == 400


# --- Sightings ----------------------------------------------------------------------------


def test_a_sighting_feeds_decay_and_a_false_positive_halves_the_score(
    community: Community, client: Client
) -> None:
    c = community
    services.ingest_objects(c.sharer, c.community, [fresh("192.0.2.9", days_old=29)], raw="")
    listed = get(client, c.other_user, "indicators/").json()
    assert listed["count"] == 0  # decayed
    now = datetime.now(UTC)
    r = post(client, c.other_user, "sightings/", {
        "value": " 192.0.2.9 ", "count": 3, "first_seen": stamp(now - timedelta(hours=1)),
        "last_seen": stamp(now), "source": "edge firewall",
    })  # fmt: skip
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["kind"], body["value"], body["count"]) == ("ipv4", "192.0.2.9", 3)
    assert body["organisation"] == c.other.pk and body["source"] == "edge firewall"
    value = Value.objects.get(value="192.0.2.9")
    assert value.sighting_count == 3 and value.last_sighted_at is not None
    listed = get(client, c.other_user, "indicators/").json()
    assert listed["count"] == 1
    before = listed["results"][0]["score"]["value"]
    assert before > 70

    r = post(client, c.other_user, "sightings/", {"value": "192.0.2.9", "false_positive": True})
    assert r.status_code == 201 and r.json()["false_positive"] is True
    after = get(client, c.other_user, "indicators/").json()["results"][0]["score"]
    assert after["false_positives"] == 1
    assert after["value"] == pytest.approx(before / 2, abs=0.2)
    assert Sighting.objects.filter(recorded_by=c.other_user).count() == 2


def test_sightings_are_listed_for_their_organisations_only(
    community: Community, client: Client
) -> None:
    c = community
    for user in (c.other_user, c.sharer):
        assert post(client, user, "sightings/", {"value": "evil.example"}).status_code == 201
    mine = get(client, c.other_user, "sightings/").json()
    assert mine["count"] == 1 and mine["results"][0]["organisation"] == c.other.pk
    assert get(client, c.analyst, "sightings/").json()["count"] == 2
    assert get(client, c.analyst, "sightings/", value="EVIL.example").json()["count"] == 2
    assert get(client, c.analyst, "sightings/", organisation=c.other.pk).json()["count"] == 1
    assert get(client, c.analyst, "sightings/", organisation="9" * 40).json()["count"] == 0
    assert get(client, c.analyst, "sightings/", organisation="x").json()["count"] == 0
    theirs = Sighting.objects.get(organisation=c.authority)
    assert get(client, c.other_user, f"sightings/{theirs.pk}/").status_code == 404


def test_a_member_cannot_report_for_another_organisation_the_cert_can(
    community: Community, client: Client
) -> None:
    c = community
    forged = post(
        client,
        c.other_user,
        "sightings/",
        {"value": "evil.example", "organisation": c.authority.pk},
    )
    assert forged.status_code == 400 and forged.json()["organisation"]
    missing = post(
        client, c.other_user, "sightings/", {"value": "evil.example", "organisation": 999999}
    )
    assert missing.status_code == 400
    assert not Sighting.objects.exists()
    r = post(
        client, c.analyst, "sightings/", {"value": "evil.example", "organisation": c.authority.pk}
    )
    assert r.status_code == 201 and r.json()["organisation"] == c.authority.pk
    # no organisation at all: nothing to hold the sighting (nor may their token write)
    assert post(client, c.loner, "sightings/", {"value": "evil.example"}).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "999.1.1.1", "kind": "ipv4"}, "value"),
        ({"value": "999.1.1.1"}, "value"),
        ({"value": ""}, "value"),
        ({"value": "x" * 3000}, "value"),
        ({"value": "192.0.2.1", "count": 0}, "count"),
        ({"value": "192.0.2.1", "count": "many"}, "count"),
        ({"value": "192.0.2.1", "count": 10**12}, "count"),
        ({"value": "192.0.2.1", "kind": "banana"}, "kind"),
        ({"value": "192.0.2.1", "first_seen": "yesterday"}, "first_seen"),
        (
            {
                "value": "192.0.2.1",
                "first_seen": "2026-01-02T00:00:00Z",
                "last_seen": "2026-01-01T00:00:00Z",
            },
            "last_seen",
        ),
        ({"value": ["192.0.2.1"]}, "value"),
        ({"value": "192.0.2.1", "false_positive": "perhaps"}, "false_positive"),
        ({"value": "192.0.2.1", "organisation": "mine"}, "organisation"),
        ({"value": "192.0.2.1", "organisation": 10**30}, "organisation"),
        ({"value": "192.0.2.1", "source": "s" * 201}, "source"),
    ],
)
def test_broken_sightings_are_refused(
    community: Community, client: Client, body: dict[str, Any], field: str
) -> None:
    r = post(client, community.other_user, "sightings/", body)
    assert r.status_code == 400, r.content
    assert field in r.json()
    assert not Sighting.objects.exists()


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a string"', ""])
def test_malformed_sighting_bodies_are_refused(
    community: Community, client: Client, raw: str
) -> None:
    assert post(client, community.other_user, "sightings/", raw).status_code == 400
    assert not Sighting.objects.exists()


# --- Submissions --------------------------------------------------------------------------


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def test_submitting_a_bundle_goes_into_review(community: Community, client: Client) -> None:
    c = community
    c.community.requires_review = True
    c.community.save()
    good = indicator("192.0.2.44")
    forged = indicator("192.0.2.45", created_by_ref=f"identity--{uuid.uuid4()}")
    r = post(client, c.other_user, "submissions/", {
        "collection": str(c.community.uuid), "format": "stix", "content": bundle(good, forged),
    })  # fmt: skip
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["stored"], body["refused"], body["awaiting_review"]) == (1, 1, 1)
    assert "created_by_ref" in body["report"][0]["message"]
    assert body["url"] == f"/intel/submissions/{body['id']}/"
    obj = StixObject.objects.get(stix_id=good["id"])
    assert obj.status == "pending" and obj.source_org == c.other
    # awaiting review: not published to the community yet
    assert get(client, c.sharer, "values/", value="192.0.2.44").status_code == 404
    services.review(c.analyst, [obj.pk], publish=True)
    assert get(client, c.sharer, "values/", value="192.0.2.44").status_code == 200
    # the submission is listed for its organisation, not for others
    assert get(client, c.other_user, "submissions/").json()["count"] == 1
    assert get(client, c.sharer, "submissions/").json()["count"] == 0
    assert get(client, c.sharer, f"submissions/{body['id']}/").status_code == 404


def test_csv_plain_misp_and_file_uploads(community: Community, client: Client) -> None:
    c = community
    coll = str(c.community.pk)
    r = post(client, c.sharer, "submissions/", {
        "collection": coll, "format": "csv", "tlp": "TLP:AMBER",
        "content": "type,value\nipv4,192.0.2.61\nipv4,999.1.1.1\ndomain,csv.example\n",
    })  # fmt: skip
    assert r.status_code == 201, r.content
    assert (r.json()["stored"], r.json()["refused"]) == (2, 1)
    assert r.json()["report"][0]["id"] == "line 3"
    assert StixObject.objects.filter(submission_id=r.json()["id"], tlp=TLP.AMBER).count() == 2

    r = post(client, c.sharer, "submissions/", {
        "collection": coll, "format": "plain", "content": "192.0.2.62\nnot a value at all\n",
    })  # fmt: skip
    assert (r.json()["stored"], r.json()["refused"]) == (1, 1)

    event = {"Event": {"info": "phish", "uuid": str(uuid.uuid4()), "Attribute": [
        {"type": "domain", "value": "misp.example", "uuid": str(uuid.uuid4()),
         "category": "Network activity"},
        {"type": "ip-dst", "value": "999.1.1.1", "uuid": str(uuid.uuid4()),
         "category": "Network activity"},
    ]}}  # fmt: skip
    r = post(client, c.sharer, "submissions/",
             {"collection": coll, "format": "misp", "content": event})  # fmt: skip
    assert r.status_code == 201, r.content
    # stored: the event itself (kept whole) and the indicator of its one valid value
    assert (r.json()["stored"], r.json()["refused"], r.json()["format"]) == (2, 1, "misp")

    upload = client.post(
        API + "submissions/",
        {"collection": coll, "format": "stix",
         "file": _file("b.json", orjson.dumps(bundle(indicator("192.0.2.63"))))},
        **auth(c.sharer),
    )  # fmt: skip
    assert upload.status_code == 201, upload.content
    assert upload.json()["stored"] == 1 and upload.json()["channel"] == "api"
    assert get(client, c.other_user, "values/", value="192.0.2.63").status_code == 200


def _file(name: str, content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "stix", "content": "{broken"}, "content"),
        ({"format": "stix", "content": {"type": "bundle"}}, "content"),
        ({"format": "stix", "content": 42}, "content"),
        ({"format": "stix"}, "content"),
        ({"format": "misp", "content": "[]"}, "content"),
        ({"format": "misp", "content": '{"Event": {"Attribute": 5}}'}, "content"),
        ({"format": "csv", "content": "   "}, "content"),
        ({"format": "plain", "content": "x\n" * 10_001}, "content"),
        ({"format": "yaml", "content": "a: b"}, "format"),
        ({"format": "stix", "content": {"objects": []}, "tlp": "TLP:PURPLE"}, "tlp"),
        ({"format": ["stix"], "content": "x"}, "format"),
    ],
)
def test_broken_submissions_are_refused_with_a_clear_message(
    community: Community, client: Client, body: dict[str, Any], field: str
) -> None:
    body = {"collection": str(community.community.uuid), **body}
    r = post(client, community.sharer, "submissions/", body)
    assert r.status_code == 400, r.content
    assert r.json()[field]
    assert not StixObject.objects.exists()


def test_a_submission_to_a_collection_you_may_not_write_is_refused(
    community: Community, client: Client
) -> None:
    c = community
    content = bundle(indicator("192.0.2.70"))
    # the authority's own collection: invisible to another member
    r = post(
        client,
        c.other_user,
        "submissions/",
        {"collection": str(c.private.uuid), "format": "stix", "content": content},
    )
    assert r.status_code == 400 and r.json()["collection"]
    for unknown in (str(uuid.uuid4()), "999999", "not-a-collection", "9" * 40, "-1"):
        r = post(
            client,
            c.other_user,
            "submissions/",
            {"collection": unknown, "format": "stix", "content": content},
        )
        assert r.status_code == 400
    c.community.members_can_write = False
    c.community.save()
    r = post(
        client,
        c.other_user,
        "submissions/",
        {"collection": str(c.community.uuid), "format": "stix", "content": content},
    )
    assert r.status_code == 403
    assert not StixObject.objects.exists()


def test_malformed_json_and_oversized_submissions(community: Community, client: Client) -> None:
    c = community
    r = post(client, c.sharer, "submissions/", '{"collection": ')
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    assert post(client, c.sharer, "submissions/", "[1, 2]").status_code == 400
    big = "192.0.2.1\n" * 250_000  # 2.5 MB
    r = post(
        client,
        c.sharer,
        "submissions/",
        {"collection": str(c.community.uuid), "format": "plain", "content": big},
    )
    assert r.status_code == 413
    # a platform with a larger request limit still refuses more than the share limit
    with override_settings(MAX_REQUEST_BODY_BYTES=10 << 20, DATA_UPLOAD_MAX_MEMORY_SIZE=10 << 20):
        r = post(
            client,
            c.sharer,
            "submissions/",
            {"collection": str(c.community.uuid), "format": "plain", "content": big},
        )
        assert r.status_code == 413 and "several parts" in r.json()["detail"]
        r = client.post(API + "submissions/", {
            "collection": str(c.community.uuid), "format": "plain",
            "file": _file("big.txt", big.encode()),
        }, **auth(c.sharer))  # fmt: skip
        assert r.status_code == 413
    assert not StixObject.objects.exists()


# --- Scopes -------------------------------------------------------------------------------


def test_scopes_are_enforced(community: Community, client: Client) -> None:
    c = community
    read_only = auth(c.sharer, ["intel:read"])
    r = client.post(API + "sightings/", orjson.dumps({"value": "evil.example"}),
                    content_type="application/json", **read_only)  # fmt: skip
    assert r.status_code == 403 and "intel:write" in r.json()["detail"]
    body = {"collection": str(c.community.uuid), "format": "plain", "content": "192.0.2.1"}
    r = client.post(API + "submissions/", orjson.dumps(body),
                    content_type="application/json", **read_only)  # fmt: skip
    assert r.status_code == 403
    assert client.get(API + "indicators/", **read_only).status_code == 200
    assert not Sighting.objects.exists() and not StixObject.objects.exists()

    other_scope = auth(c.sharer, ["incidents:read"])
    for path in ("values/?value=evil.example", "indicators/", "sightings/", "submissions/"):
        r = client.get(API + path, **other_scope)
        assert r.status_code == 403 and "intel:read" in r.json()["detail"], path
        assert client.get(API + path).status_code == 401, path


def test_the_schema_documents_the_intel_endpoints(db: None, client: Client) -> None:
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in ("values/", "indicators/", "indicators/{id}/", "sightings/", "submissions/"):
        assert "/api/v1/intel/" + path in paths
    assert "post" in paths["/api/v1/intel/sightings/"]


def test_score_filters_agree_with_the_score_of_every_indicator(
    community: Community, client: Client
) -> None:
    """The SQL pre-filter only drops indicators that cannot pass: the API keeps exactly
    those whose own score passes, across types, ages, confidences and sightings."""
    c = community
    plan = [
        ("192.0.2.101", "ipv4-addr:value", 1, 90),
        ("192.0.2.102", "ipv4-addr:value", 20, 90),
        ("192.0.2.103", "ipv4-addr:value", 26, 100),
        ("192.0.2.104", "ipv4-addr:value", 40, 100),  # revived by a sighting below
        ("a.example", "domain-name:value", 60, 70),
        ("b.example", "domain-name:value", 85, 100),
        ("http://c.example/x", "url:value", 30, None),
        ("d41d8cd98f00b204e9800998ecf8427e", "file:hashes.MD5", 300, 60),
        ("e.example", "domain-name:value", 5, 15),
    ]
    objects = []
    for value, path, days, confidence in plan:
        extra = {} if confidence is None else {"confidence": confidence}
        obj = fresh(value, path=path, days_old=days, **extra)
        if confidence is None:
            obj.pop("confidence", None)
        objects.append(obj)
    objects.append(fresh("192.0.2.105", days_old=2, valid_until=stamp(datetime.now(UTC))))
    shared = services.ingest_objects(c.sharer, c.community, objects, raw="")
    assert shared.outcome.stored == len(objects), shared.outcome.failures
    now = datetime.now(UTC)
    services.record_sighting("192.0.2.104", c.authority, 1, now, now, "ids")
    services.record_sighting("b.example", c.authority, 1, now, now, "fp", false_positive=True)

    from bulwark.intel import selectors

    scores = {i.stix_object.stix_id: selectors.indicator_score(i) for i in Indicator.objects.all()}
    for floor in (None, 0, 10, 20, 45, 60, 80, 95):
        for decayed in (False, True):
            params: dict[str, Any] = {"limit": 1000}
            if floor is not None:
                params["min_score"] = floor
            if decayed:
                params["include_decayed"] = 1
            r = get(client, c.sharer, "indicators/", **params)
            got = {row["stix_id"] for row in r.json()["results"]}
            want = {
                stix_id
                for stix_id, s in scores.items()
                if (decayed or not s.decayed) and (floor is None or s.value >= floor)
            }
            assert got == want, (floor, decayed)
            assert r.json()["count"] == len(want)
