"""TAXII 2.1 endpoints: resources, filters, paging, status, errors (OASIS TAXII 2.1 s.4-5)."""

from typing import Any

import orjson
import pytest
from django.test import Client, override_settings

from bulwark.core.tlp import TLP
from bulwark.intel import services
from bulwark.intel.models import StixObject, Submission
from bulwark.intel.tests.conftest import Community, indicator, token

TAXII = "application/taxii+json;version=2.1"


class Taxii:
    def __init__(self, client: Client, secret: str | None) -> None:
        self.client = client
        self.headers: dict[str, str] = {"HTTP_ACCEPT": TAXII}
        if secret:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"

    def get(self, url: str, **params: Any) -> Any:
        return self.client.get(url, params, **self.headers)

    def post(self, url: str, body: Any, content_type: str = TAXII) -> Any:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        return self.client.post(url, data, content_type=content_type, **self.headers)

    def delete(self, url: str) -> Any:
        return self.client.delete(url, **self.headers)


def objects_url(c: Community) -> str:
    return f"/taxii2/api/collections/{c.community.uuid}/objects/"


@pytest.fixture
def sharer(community: Community, client: Client) -> Taxii:
    return Taxii(client, token(community.sharer))


def test_discovery_api_root_and_collections(community: Community, sharer: Taxii) -> None:
    r = sharer.get("/taxii2/")
    assert r.status_code == 200 and r["Content-Type"] == TAXII
    body = orjson.loads(r.content)
    assert body["default"].endswith("/taxii2/api/") and body["api_roots"] == [body["default"]]
    root = orjson.loads(sharer.get("/taxii2/api/").content)
    assert root["versions"] == [TAXII] and root["max_content_length"] > 0
    cols = orjson.loads(sharer.get("/taxii2/api/collections/").content)["collections"]
    titles = {c["title"]: c for c in cols}
    assert set(titles) == {"Community", "Public", "Authority only"}
    assert titles["Community"]["can_write"] and titles["Community"]["can_read"]
    one = orjson.loads(sharer.get(f"/taxii2/api/collections/{community.community.uuid}/").content)
    assert one["id"] == str(community.community.uuid)
    assert one["media_types"] == ["application/stix+json;version=2.1"]


def test_post_answers_202_with_a_status_and_duplicates_are_not_errors(
    community: Community, sharer: Taxii
) -> None:
    objs = [indicator(f"192.0.2.{n}") for n in range(1, 4)]
    r = sharer.post(objects_url(community), {"objects": objs})
    assert r.status_code == 202 and r["Content-Type"] == TAXII
    status = orjson.loads(r.content)
    assert status["status"] == "complete"
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (3, 3, 0)
    polled = orjson.loads(sharer.get(f"/taxii2/api/status/{status['id']}/").content)
    assert polled["id"] == status["id"] and polled["success_count"] == 3
    again = orjson.loads(sharer.post(objects_url(community), {"objects": objs}).content)
    assert again["success_count"] == 3 and again["failure_count"] == 0
    assert StixObject.objects.count() == 3
    # the raw request is kept with its report
    assert Submission.objects.count() == 2 and "192.0.2.1" in Submission.objects.first().raw


def test_status_of_another_organisation_is_not_found(
    community: Community, sharer: Taxii, client: Client
) -> None:
    status = orjson.loads(sharer.post(objects_url(community), {"objects": [indicator()]}).content)
    other = Taxii(client, token(community.other_user))
    assert other.get(f"/taxii2/api/status/{status['id']}/").status_code == 404


def test_paging_with_next_and_added_after(community: Community, sharer: Taxii) -> None:
    for batch in range(3):
        objs = [indicator(f"198.51.100.{batch * 10 + n}") for n in range(10)]
        services.ingest_objects(community.sharer, community.community, objs, raw="")
    url = objects_url(community)
    seen: list[str] = []
    r = sharer.get(url, limit=7)
    pages = 0
    while True:
        pages += 1
        body = orjson.loads(r.content)
        seen += [o["id"] for o in body["objects"]]
        assert r["X-TAXII-Date-Added-First"] <= r["X-TAXII-Date-Added-Last"]
        if not body["more"]:
            assert "next" not in body
            break
        r = sharer.get(url, limit=7, next=body["next"])
    assert pages == 5 and len(seen) == 30 and len(set(seen)) == 30
    # added_after: only what came after the first batch
    first = orjson.loads(sharer.get(url, limit=10).content)
    last_of_first = sharer.get(url, limit=10)["X-TAXII-Date-Added-Last"]
    later = orjson.loads(sharer.get(url, added_after=last_of_first).content)["objects"]
    assert len(later) == 20 and not {o["id"] for o in later} & {o["id"] for o in first["objects"]}


def test_a_cursor_is_signed_bound_to_its_filters_and_reauthorised(
    community: Community, sharer: Taxii, client: Client
) -> None:
    objs = [indicator(f"198.51.100.{n}", tlp=TLP.AMBER) for n in range(6)]
    services.ingest_objects(community.sharer, community.community, objs, raw="")
    url = objects_url(community)
    body = orjson.loads(sharer.get(url, limit=2).content)
    assert sharer.get(url, limit=2, next=body["next"] + "x").status_code == 400
    assert (
        sharer.get(url, limit=2, next=body["next"], **{"match[type]": "malware"}).status_code == 400
    )
    # someone who may not read AMBER objects gets nothing with a stolen cursor
    other = Taxii(client, token(community.other_user))
    stolen = orjson.loads(other.get(url, limit=2, next=body["next"]).content)
    assert stolen == {"more": False}


def test_match_filters_versions_and_object_endpoints(community: Community, sharer: Taxii) -> None:
    first = indicator("192.0.2.10", modified="2026-01-02T00:00:00.000Z")
    second = dict(first, modified="2026-01-03T00:00:00.000Z", confidence=90)
    malware = {
        "type": "malware", "spec_version": "2.1",
        "id": "malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "Demo RAT", "is_family": True,
    }  # fmt: skip
    status = orjson.loads(
        sharer.post(objects_url(community), {"objects": [first, second, malware]}).content
    )
    assert status["success_count"] == 3, status
    url = objects_url(community)
    latest = orjson.loads(sharer.get(url).content)["objects"]
    assert {o.get("modified") for o in latest if o["id"] == first["id"]} == {second["modified"]}
    everything = orjson.loads(sharer.get(url, **{"match[version]": "all"}).content)["objects"]
    assert len(everything) == 3
    earliest = orjson.loads(sharer.get(url, **{"match[version]": "first"}).content)["objects"]
    assert [o["modified"] for o in earliest if o["id"] == first["id"]] == [first["modified"]]
    exact = sharer.get(url, **{"match[version]": "2026-01-02T00:00:00.000Z"})
    assert [o["id"] for o in orjson.loads(exact.content)["objects"]] == [first["id"]]
    only = orjson.loads(sharer.get(url, **{"match[type]": "malware"}).content)["objects"]
    assert [o["id"] for o in only] == [malware["id"]]
    by_id = orjson.loads(sharer.get(url, **{"match[id]": malware["id"]}).content)["objects"]
    assert [o["name"] for o in by_id] == ["Demo RAT"]
    assert orjson.loads(sharer.get(url, **{"match[spec_version]": "2.0"}).content) == {
        "more": False
    }
    # object by id, versions, manifest
    one = orjson.loads(sharer.get(f"{url}{first['id']}/").content)["objects"]
    assert one == [second]  # exactly as received
    versions = orjson.loads(sharer.get(f"{url}{first['id']}/versions/").content)
    # as the objects state them (not rewritten to ".000000Z")
    assert versions["versions"] == ["2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z"]
    manifest = orjson.loads(
        sharer.get(f"/taxii2/api/collections/{community.community.uuid}/manifest/").content
    )
    assert {m["id"] for m in manifest["objects"]} == {first["id"], malware["id"]}
    assert all(m["media_type"] == "application/stix+json;version=2.1" for m in manifest["objects"])
    assert sharer.get(f"{url}indicator--00000000-0000-4000-8000-000000000000/").status_code == 404
    assert sharer.get(url, **{"match[version]": "sometime"}).status_code == 400
    assert sharer.get(url, added_after="yesterday").status_code == 400
    assert sharer.get(url, limit="-1").status_code == 400


def test_delete_by_the_sharer_or_the_cert_only(
    community: Community, sharer: Taxii, client: Client
) -> None:
    obj = indicator("192.0.2.20", tlp=TLP.GREEN)
    sharer.post(objects_url(community), {"objects": [obj]})
    other = Taxii(client, token(community.other_user))
    url = f"{objects_url(community)}{obj['id']}/"
    assert other.delete(url).status_code == 403
    assert other.get(url).status_code == 200
    assert sharer.delete(url).status_code == 200
    assert sharer.get(url).status_code == 404
    assert StixObject.objects.count() == 0


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("badtoken", 401), ("noscope", 403), ("outsider", 404)],
)
def test_authentication_and_authorisation_errors(
    community: Community, client: Client, who: str, expected: int
) -> None:
    secret = {
        "anonymous": None,
        "badtoken": "bwk_0123456789_nope",
        "noscope": token(community.sharer, ["constituency:read"]),
        "outsider": token(community.other_user),
    }[who]
    api = Taxii(client, secret)
    r = api.get(f"/taxii2/api/collections/{community.private.uuid}/objects/")
    assert r.status_code == expected
    body = orjson.loads(r.content)
    assert body["http_status"] == str(expected) and body["title"]
    if expected == 401:
        assert "Bearer" in r["WWW-Authenticate"]


def test_wrong_media_types_and_bodies(community: Community, sharer: Taxii, client: Client) -> None:
    url = objects_url(community)
    assert (
        sharer.client.get(
            url,
            HTTP_ACCEPT="text/html",
            **{"HTTP_AUTHORIZATION": sharer.headers["HTTP_AUTHORIZATION"]},
        ).status_code
        == 406
    )
    assert (
        sharer.client.get(
            url,
            HTTP_ACCEPT="application/taxii+json;version=2.0",
            HTTP_AUTHORIZATION=sharer.headers["HTTP_AUTHORIZATION"],
        ).status_code
        == 406
    )
    assert (
        sharer.post(url, {"objects": [indicator()]}, content_type="application/json").status_code
        == 415
    )
    assert (
        sharer.post(
            url,
            b'{"objects": [',
        ).status_code
        == 400
    )
    assert sharer.post(url, {"no": "objects"}).status_code == 422
    assert sharer.post(url, {"objects": []}).status_code == 422
    assert sharer.post(url, b"[1, 2]").status_code == 422
    big = b'{"objects": [' + b" " * (3 * 1024 * 1024) + b"]}"
    with override_settings(INTEL_TAXII_MAX_CONTENT_LENGTH=2 * 1024 * 1024):
        assert sharer.post(url, big).status_code == 413
    reader = Taxii(client, token(community.sharer, ["intel:read"]))
    assert reader.post(url, {"objects": [indicator()]}).status_code == 403
    public = f"/taxii2/api/collections/{community.public.uuid}/objects/"
    assert Taxii(client, None).post(public, {"objects": [indicator()]}).status_code == 401
    assert StixObject.objects.count() == 0


def test_anonymous_reads_public_clear_objects_only(community: Community, client: Client) -> None:
    services.ingest_objects(
        community.sharer,
        community.public,
        [indicator("192.0.2.1", tlp=TLP.CLEAR), indicator("192.0.2.2", tlp=TLP.GREEN)],
        raw="",
    )
    anonymous = Taxii(client, None)
    cols = orjson.loads(anonymous.get("/taxii2/api/collections/").content)["collections"]
    assert [c["title"] for c in cols] == ["Public"] and cols[0]["can_write"] is False
    objs = orjson.loads(
        anonymous.get(f"/taxii2/api/collections/{community.public.uuid}/objects/").content
    )
    assert [o["pattern"] for o in objs["objects"]] == ["[ipv4-addr:value = '192.0.2.1']"]
    assert anonymous.get(objects_url(community)).status_code == 401
