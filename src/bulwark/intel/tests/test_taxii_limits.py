"""The TAXII server's one body limit, advertised truthfully; every refusal a TAXII 2.1
error object (s.3.6.1); versions and manifests say `modified` as the object did. The
peer's client is taxii2-client against a live server."""

import uuid
from typing import Any

import orjson
import pytest
import requests
from django.test import Client, override_settings
from taxii2client.v21 import ApiRoot, Collection  # type: ignore[import-untyped]

from bulwark.intel.models import StixObject
from bulwark.intel.tests.conftest import Community, indicator, token

TAXII = "application/taxii+json;version=2.1"


def envelope_of(size: int) -> dict[str, Any]:
    """An envelope of about `size` bytes of valid indicators (long descriptions)."""
    objects = []
    filler = "x" * 20_000
    while sum(len(orjson.dumps(o)) for o in objects) < size:
        n = len(objects)
        objects.append(indicator(f"198.51.{n // 250}.{n % 250 + 1}", description=filler))
    return {"objects": objects}


def assert_taxii_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == TAXII
    body = orjson.loads(response.content)
    assert body["http_status"] == str(status) and body["title"]
    return body


def test_a_body_within_the_advertised_limit_is_accepted(
    community: Community, client: Client
) -> None:
    secret = token(community.sharer)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}", "HTTP_ACCEPT": TAXII}
    url = f"/taxii2/api/collections/{community.community.uuid}/objects/"
    body = orjson.dumps(envelope_of(2_500_000))
    assert 2_500_000 <= len(body) < 3_000_000
    with override_settings(INTEL_TAXII_MAX_CONTENT_LENGTH=3_000_000):
        root = orjson.loads(client.get("/taxii2/api/", **auth).content)
        assert root["max_content_length"] == 3_000_000
        r = client.post(url, body, content_type=TAXII, **auth)
        assert r.status_code == 202, r.content[:300]
        status = orjson.loads(r.content)
        assert status["success_count"] == status["total_count"] > 100
    with override_settings(INTEL_TAXII_MAX_CONTENT_LENGTH=2_000_000):
        root = orjson.loads(client.get("/taxii2/api/", **auth).content)
        assert root["max_content_length"] == 2_000_000
        body = assert_taxii_error(client.post(url, body, content_type=TAXII, **auth), 413)
        assert "2000000" in body["description"]


def test_every_refusal_is_a_taxii_error_object(community: Community, client: Client) -> None:
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token(community.sharer)}", "HTTP_ACCEPT": TAXII}
    url = f"/taxii2/api/collections/{community.community.uuid}/objects/"
    assert_taxii_error(client.post(url, b"{not json", content_type=TAXII, **auth), 400)
    assert_taxii_error(client.post(url, b"{}", content_type="application/json", **auth), 415)
    assert_taxii_error(client.post(url, b"{}", content_type=TAXII, **auth), 422)
    assert_taxii_error(
        client.post(url, b"{}", content_type=TAXII, CONTENT_LENGTH="many", **auth), 400
    )
    assert_taxii_error(client.get(url + "?match[id]=a%00b", **auth), 400)
    assert_taxii_error(client.get(url, {"limit": "0"}, **auth), 400)
    assert_taxii_error(client.put(url, b"{}", content_type=TAXII, **auth), 405)
    assert_taxii_error(client.get(url, HTTP_ACCEPT="text/html"), 406)
    assert_taxii_error(client.get(url, HTTP_AUTHORIZATION="Bearer nope"), 401)
    assert_taxii_error(client.get(f"/taxii2/api/collections/{uuid.uuid4()}/", **auth), 404)
    assert_taxii_error(client.get("/taxii2/api/no-such-thing/", **auth), 404)
    assert_taxii_error(client.get("/taxii2/other-root/collections/", **auth), 404)
    with override_settings(INTEL_TAXII_MAX_CONTENT_LENGTH=1000):
        assert_taxii_error(
            client.post(url, orjson.dumps(envelope_of(1)), content_type=TAXII, **auth), 413
        )


@pytest.fixture
def served(community: Community, live_server: Any, transactional_db: Any) -> tuple[str, str]:
    return f"{live_server.url}/taxii2/api/", token(community.sharer)


def test_taxii2_client_posts_more_than_2_5_mb_and_reads_versions_as_sent(
    community: Community, served: tuple[str, str]
) -> None:
    api_root, secret = served
    root = ApiRoot(api_root, user="sharer", password=secret)
    assert root.max_content_length == 64 * 1024 * 1024
    collection = Collection(
        f"{api_root}collections/{community.community.uuid}/", user="sharer", password=secret
    )
    big = envelope_of(2_600_000)
    first = big["objects"][0]
    # three versions, one with nanoseconds, one with whole seconds
    modified = [
        "2026-01-02T00:00:00.000Z",
        "2026-01-03T00:00:00.123456789Z",
        "2026-01-04T00:00:00Z",
    ]
    versions = [dict(first, modified=m) for m in modified]
    status = collection.add_objects({"objects": big["objects"] + versions[1:]})
    assert status.status == "complete"
    assert status.success_count == status.total_count == len(big["objects"]) + 2
    assert StixObject.objects.filter(stix_id=first["id"]).count() == 3

    answer = collection.object_versions(first["id"])
    assert answer["versions"] == modified  # not "...00.000000Z", nor cut to microseconds
    manifest = collection.get_manifest(id=first["id"])
    assert [m["version"] for m in manifest["objects"]] == [modified[-1]]
    stored = collection.get_object(first["id"], version=modified[1])["objects"]
    assert [o["modified"] for o in stored] == [modified[1]]

    with override_settings(INTEL_TAXII_MAX_CONTENT_LENGTH=2_000_000):
        assert ApiRoot(api_root, user="sharer", password=secret).max_content_length == 2_000_000
        with pytest.raises(requests.HTTPError) as refused:
            collection.add_objects(envelope_of(2_100_000))
        answer = refused.value.response
        assert answer.status_code == 413 and answer.headers["Content-Type"] == TAXII
        assert answer.json()["http_status"] == "413"
