"""The access matrix: TLP x organisation x role x read path. A leak is the worst bug."""

import base64
from typing import Any

import orjson
import pytest
from django.test import Client
from django.utils import timezone

from bulwark.constituency import services as cs
from bulwark.constituency.models import Role, User
from bulwark.core.tlp import TLP
from bulwark.intel import selectors, services
from bulwark.intel.models import Indicator, Provenance, StixObject
from bulwark.intel.tests.conftest import Community, indicator, member, token

TAXII = "application/taxii+json;version=2.1"
VIEWERS = [
    "anonymous", "loner", "analyst", "sharer", "colleague", "client_user", "other_user",
    "grouped_user",
]  # fmt: skip
# object label -> viewers who may read it
EXPECTED = {
    "clear-public": {*VIEWERS},
    "clear": {"analyst", "sharer", "colleague", "client_user", "other_user", "grouped_user"},
    "green": {"analyst", "sharer", "colleague", "client_user", "other_user", "grouped_user"},
    "amber": {"analyst", "sharer", "colleague", "client_user"},
    "amber-group": {"analyst", "sharer", "colleague", "grouped_user"},
    "green-group": {"analyst", "sharer", "colleague", "grouped_user"},
    "strict": {"analyst", "sharer", "colleague"},
    "strict-group": {"analyst", "sharer", "colleague", "grouped_user"},
    "red": {"sharer", "client_user"},
    "private-green": {"analyst", "sharer", "colleague"},
}  # fmt: skip


def _share(c: Community) -> dict[str, str]:
    """One object per label, each carrying its own address 203.0.113.<n>."""
    made: dict[str, str] = {}
    plan: list[tuple[str, Any, TLP, dict[str, Any]]] = [
        ("clear-public", c.public, TLP.CLEAR, {}),
        ("clear", c.community, TLP.CLEAR, {}),
        ("green", c.community, TLP.GREEN, {}),
        ("amber", c.community, TLP.AMBER, {}),
        ("amber-group", c.community, TLP.AMBER, {"sharing_group_id": c.group.pk}),
        ("green-group", c.community, TLP.GREEN, {"sharing_group_id": c.group.pk}),
        ("strict", c.community, TLP.AMBER_STRICT, {}),
        ("strict-group", c.community, TLP.AMBER_STRICT, {"sharing_group_id": c.group.pk}),
        ("red", c.community, TLP.RED, {"red_recipient_ids": [c.client_user.pk]}),
        ("private-green", c.private, TLP.GREEN, {}),
    ]
    for n, (label, coll, level, extra) in enumerate(plan, start=1):
        obj = indicator(f"203.0.113.{n}", tlp=level)
        shared = services.ingest_objects(c.sharer, coll, [obj], raw="", **extra)
        assert shared.outcome.stored == 1, shared.outcome.failures
        made[label] = obj["id"]
    return made


def _user(c: Community, name: str) -> Any:
    return None if name == "anonymous" else getattr(c, name)


def _taxii_ids(client: Client, c: Community, name: str) -> set[str]:
    headers: dict[str, str] = {"HTTP_ACCEPT": TAXII}
    user = _user(c, name)
    if user is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token(user)}"
    seen: set[str] = set()
    for coll in (c.public, c.community, c.private):
        r = client.get(f"/taxii2/api/collections/{coll.uuid}/objects/", **headers)
        if r.status_code in (401, 404):
            continue
        assert r.status_code == 200, r.content
        seen |= {o["id"] for o in orjson.loads(r.content).get("objects", [])}
        m = client.get(f"/taxii2/api/collections/{coll.uuid}/manifest/", **headers)
        assert {o["id"] for o in orjson.loads(m.content).get("objects", [])} <= seen
    return seen


@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_read_path_shows_exactly_what_tlp_allows(
    community: Community, client: Client, viewer: str
) -> None:
    made = _share(community)
    by_id = {v: k for k, v in made.items()}
    expected = {label for label, who in EXPECTED.items() if viewer in who}
    user = _user(community, viewer)

    objects = {
        by_id[s] for s in StixObject.objects.visible_to(user).values_list("stix_id", flat=True)
    }
    assert objects == expected
    indicators = Indicator.objects.visible_to(user).values_list("stix_object__stix_id", flat=True)
    assert {by_id[s] for s in indicators} == expected
    provenance = Provenance.objects.visible_to(user).values_list("stix_object__stix_id", flat=True)
    assert {by_id[s] for s in provenance} == expected
    # The managers build the filter once per viewer; a filtered queryset builds it anew.
    for model, path in ((StixObject, "stix_id"), (Provenance, "stix_object__stix_id")):
        narrowed = model.objects.filter(pk__gt=0).visible_to(user).values_list(path, flat=True)
        assert {by_id[s] for s in narrowed} == expected
    values = {v.value for v in selectors.visible_values(user)}
    assert len(values) == len(expected)
    # counts never reveal more than the rows
    assert StixObject.objects.visible_to(user).count() == len(expected)
    # TAXII (objects and manifest)
    assert {by_id[s] for s in _taxii_ids(client, community, viewer)} == expected
    # correlation: each value page lists only readable sources
    for label, stix_id in made.items():
        value = Provenance.objects.get(stix_object__stix_id=stix_id).value
        sources = selectors.correlate(user, value).sources
        assert bool(sources) == (label in expected), label
    # detection rows (exports) for this reader
    rows = selectors.detection_rows(user, include_decayed=True)
    assert {by_id[r[2]] for r in rows} == expected
    # REST API: indicators (list, count, detail) and value lookups; anonymous: 401
    if user is None:
        assert client.get("/api/v1/intel/indicators/").status_code == 401
        assert client.get("/api/v1/intel/values/", {"value": "203.0.113.1"}).status_code == 401
    else:
        assert _api_read(client, user, made) == expected


def _api_read(client: Client, user: Any, made: dict[str, str]) -> set[str]:
    """The labels a viewer reads through /api/v1/intel/ (indicators, their details and
    counts, value lookups), checking that every path agrees."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token(user)}"}
    by_id = {v: k for k, v in made.items()}
    listed = client.get("/api/v1/intel/indicators/", {"include_decayed": 1}, **headers).json()
    labels = {by_id[row["stix_id"]] for row in listed["results"]}
    assert listed["count"] == len(labels)
    scored = client.get(
        "/api/v1/intel/indicators/", {"include_decayed": 1, "min_score": 0}, **headers
    ).json()  # the scored path (filters on the decay score)
    assert {by_id[row["stix_id"]] for row in scored["results"]} == labels
    assert scored["count"] == len(labels)
    for n, (label, stix_id) in enumerate(made.items(), start=1):
        pk = Indicator.objects.get(stix_object__stix_id=stix_id).pk
        detail = client.get(f"/api/v1/intel/indicators/{pk}/", **headers).status_code
        value = client.get("/api/v1/intel/values/", {"value": f"203.0.113.{n}"}, **headers)
        assert detail == value.status_code == (200 if label in labels else 404), label
        if value.status_code == 200:
            assert [p["stix_id"] for p in value.json()["provenance"]] == [stix_id]
            assert [i["stix_id"] for i in value.json()["indicators"]] == [stix_id]
        filtered = client.get(
            "/api/v1/intel/indicators/",
            {"include_decayed": 1, "value": f"203.0.113.{n}"},
            **headers,
        ).json()
        assert filtered["count"] == (1 if label in labels else 0), label
    return labels


def test_a_new_membership_counts_at_once_for_a_cached_reader(community: Community) -> None:
    """The visibility filter kept for a reader is dropped with the reader's rights: the
    same user object sees AMBER+STRICT as soon as it joins the sharing organisation, and
    stops seeing it when it leaves."""
    made = _share(community)
    reader = community.other_user
    readable = lambda: set(  # noqa: E731
        Provenance.objects.visible_to(reader).values_list("stix_object__stix_id", flat=True)
    )
    assert made["strict"] not in readable()
    assert readable() == readable()  # the second read is the cached one
    joined = cs.add_membership(None, reader, community.authority, "isac_member")
    assert made["strict"] in readable()
    cs.remove_membership(member(community.cert, "admin", Role.PLATFORM_ADMIN), joined)
    assert made["strict"] not in readable()


def test_the_reader_cache_serves_the_next_request_and_drops_with_a_group_change(
    community: Community, django_assert_num_queries: Any
) -> None:
    """Issue 21: the cache was keyed by the Viewer object's id, so the next request (a new
    user object, a new Viewer) never found it. Keyed by what decides visibility, the next
    request reuses it; a change of a sharing group is seen at once all the same."""
    made = _share(community)
    reader_id = community.other_user.pk

    def readable() -> set[str]:
        reader = User.objects.get(pk=reader_id)  # a new request: a new user object
        return set(
            Provenance.objects.visible_to(reader).values_list("stix_object__stix_id", flat=True)
        )

    first = readable()
    assert made["strict"] not in first
    # the user, the viewer (memberships, the hierarchy down and up) and the rows; the
    # reader's sharing groups (twice) and collections come from the cache (9 queries before)
    with django_assert_num_queries(5):
        assert readable() == first
    community.group.organisations.add(community.other)
    assert made["green-group"] in readable()
    community.group.organisations.remove(community.other)
    assert made["green-group"] not in readable()


def test_sightings_and_the_values_they_carry_stay_with_their_organisation(
    community: Community, client: Client
) -> None:
    """A sighting of org A's AMBER+STRICT or RED value never reaches a member of org B:
    not in the sightings list, its count, the value lookup or the indicators."""
    made = _share(community)
    now = timezone.now()
    for n in (7, 9):  # strict, red
        services.record_sighting(
            f"203.0.113.{n}", community.authority, 2, now, now, "sensor", actor=community.sharer
        )
    outsider = {"HTTP_AUTHORIZATION": f"Bearer {token(community.other_user)}"}
    sightings = client.get("/api/v1/intel/sightings/", **outsider).json()
    assert sightings["count"] == 0 and sightings["results"] == []
    for n in (7, 9):
        r = client.get("/api/v1/intel/values/", {"value": f"203.0.113.{n}"}, **outsider)
        assert r.status_code == 404
        r = client.get("/api/v1/intel/sightings/", {"value": f"203.0.113.{n}"}, **outsider).json()
        assert r["count"] == 0
    indicators = client.get("/api/v1/intel/indicators/", {"include_decayed": 1}, **outsider).json()
    assert not {made["strict"], made["red"]} & {row["stix_id"] for row in indicators["results"]}
    # the sharer's organisation sees its sightings, and its strict value with them
    insider = {"HTTP_AUTHORIZATION": f"Bearer {token(community.colleague)}"}
    assert client.get("/api/v1/intel/sightings/", **insider).json()["count"] == 2
    strict = client.get("/api/v1/intel/values/", {"value": "203.0.113.7"}, **insider).json()
    assert [s["count"] for s in strict["sightings"]] == [2]


def test_monitoring_detection_values_never_carry_red_or_pending(community: Community) -> None:
    made = _share(community)
    pending = community.community
    pending.requires_review = True
    pending.save()
    services.ingest_objects(community.other_user, pending, [indicator("192.0.2.99")], raw="")
    ids = {row[2] for row in selectors.detection_values(include_decayed=True)}
    assert made["red"] not in ids
    assert made["green"] in ids
    assert all(row[1] != "192.0.2.99" for row in selectors.detection_values(True))


def test_pending_objects_are_seen_by_their_source_and_the_cert_only(community: Community) -> None:
    coll = community.community
    coll.requires_review = True
    coll.save()
    obj = indicator("192.0.2.50", tlp=TLP.CLEAR)
    services.ingest_objects(community.other_user, coll, [obj], raw="")
    seers = {
        name
        for name in VIEWERS
        if StixObject.objects.visible_to(_user(community, name)).filter(stix_id=obj["id"]).exists()
    }
    assert seers == {"analyst", "other_user"}
    services.review(
        community.analyst, StixObject.objects.values_list("pk", flat=True), publish=True
    )
    assert StixObject.objects.visible_to(community.sharer).filter(stix_id=obj["id"]).exists()


def test_basic_auth_with_the_token_as_password(community: Community, client: Client) -> None:
    _share(community)
    secret = token(community.client_user)
    basic = base64.b64encode(f"anyone:{secret}".encode()).decode()
    r = client.get(
        f"/taxii2/api/collections/{community.community.uuid}/objects/",
        HTTP_ACCEPT=TAXII,
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert r.status_code == 200
    assert len(orjson.loads(r.content)["objects"]) == len(
        [k for k, v in EXPECTED.items() if "client_user" in v and k not in ("clear-public",)]
    )
