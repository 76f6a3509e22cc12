"""Detection exports (every format, tokens, ETag, TLP) and the intelligence pages."""

import json
from datetime import UTC, datetime

import orjson
import pytest
import stix2  # type: ignore[import-untyped]
from django.test import Client
from stix2validator import ValidationOptions, validate_string  # type: ignore[import-untyped]

from bulwark.conftest import sign_in
from bulwark.core.tlp import TLP
from bulwark.intel import exports, services
from bulwark.intel.models import Indicator, StixObject, Submission
from bulwark.intel.tests.conftest import Community, indicator, token

NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _share(c: Community) -> None:
    objs = [
        indicator("198.51.100.1", valid_from=NOW, tlp=TLP.GREEN),
        indicator("198.51.100.0/24", valid_from=NOW, tlp=TLP.GREEN),
        # on MISP warning lists (RFC 1918, public DNS resolvers): never exported
        indicator("10.20.0.0/16", valid_from=NOW, tlp=TLP.GREEN),
        indicator("8.8.8.8", valid_from=NOW, tlp=TLP.GREEN),
        indicator("bad.example", path="domain-name:value", valid_from=NOW, tlp=TLP.GREEN),
        indicator("http://bad.example/x", path="url:value", valid_from=NOW, tlp=TLP.GREEN),
        indicator("d" * 32, path="file:hashes.MD5", valid_from=NOW, tlp=TLP.GREEN),
        indicator("e" * 64, path="file:hashes.'SHA-256'", valid_from=NOW, tlp=TLP.GREEN),
        indicator("secret.example", path="domain-name:value", valid_from=NOW, tlp=TLP.AMBER_STRICT),
        indicator("old.example", path="domain-name:value", tlp=TLP.GREEN),  # decayed (2026-01-01)
    ]
    assert services.ingest_objects(c.sharer, c.community, objs, raw="").outcome.stored == 10


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_every_export_carries_current_permitted_values_only(
    community: Community, client: Client, fmt: str
) -> None:
    _share(community)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token(community.other_user)}"}
    r = client.get(f"/intel/exports/{fmt}/", **auth)
    assert r.status_code == 200
    body = r.content.decode()
    assert "secret.example" not in body and "old.example" not in body
    assert "10.20.0.0" not in body and "8.8.8.8" not in body and "0.20.10" not in body
    expected = {
        "suricata": ["[198.51.100.1]", "bad.example", "[198.51.100.0/24]"],
        "suricata-dataset-domain": ["YmFkLmV4YW1wbGU="],
        "suricata-dataset-md5": ["d" * 32],
        "suricata-dataset-sha256": ["e" * 64],
        "zeek": ["198.51.100.1\tIntel::ADDR", "bad.example/x\tIntel::URL", "Intel::SUBNET"],
        "snort": ["[198.51.100.1]"],
        "rpz": ["bad.example CNAME .", "32.1.100.51.198.rpz-ip", "24.0.100.51.198.rpz-ip"],
        "csv": ["ipv4,198.51.100.1,indicator--"],
        "plain": ["bad.example\n"],
        "stix": ["[ipv4-addr:value = '198.51.100.1']"],
    }[fmt]
    for text in expected:
        assert text in body, (fmt, text)
    # stable for pollers: the same content gives the same ETag and a 304
    again = client.get(f"/intel/exports/{fmt}/", HTTP_IF_NONE_MATCH=r["ETag"], **auth)
    assert again.status_code == 304
    if fmt == "stix":
        objects = json.loads(body)["objects"]
        assert len(objects) == 6
        for obj in objects:
            stix2.parse(obj, allow_custom=False, version="2.1")
        result = validate_string(body, ValidationOptions(version="2.1", strict=False))
        # 3.2.0 is pinned: 3.3.1 ships without its schemas and fails every object.
        assert not any("Cannot locate a schema" in e.message for e in result.errors)
        assert result.is_valid, [e.message for e in result.errors]


def test_exports_need_a_valid_token_and_anonymous_gets_public_clear_only(
    community: Community, client: Client
) -> None:
    _share(community)
    assert client.get("/intel/exports/plain/", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    noscope = token(community.sharer, ["constituency:read"])
    assert (
        client.get("/intel/exports/plain/", HTTP_AUTHORIZATION=f"Bearer {noscope}").status_code
        == 403
    )
    assert client.get("/intel/exports/plain/").content == b""
    services.ingest_objects(
        community.sharer,
        community.public,
        [indicator("203.0.113.5", tlp=TLP.CLEAR, valid_from=NOW)],
        raw="",
    )
    assert client.get("/intel/exports/plain/").content == b"203.0.113.5\n"
    assert client.get("/intel/exports/nonsense/").status_code == 404


def test_pages_share_review_and_misp_download(community: Community, client: Client) -> None:
    coll = community.community
    coll.requires_review = True
    coll.save()
    sign_in(client, community.other_user)
    r = client.post(
        "/intel/share/",
        {
            "collection": coll.pk,
            "format": "plain",
            "tlp": "1",
            "text": "198.51.100.9\nnot a value at all\nevil.example\n",
        },
    )
    assert r.status_code == 302
    submission = Submission.objects.get()
    assert submission.stored == 2 and submission.refused == 1
    page = client.get(r["Location"]).content.decode()
    assert "line 2" in page and "198.51.100.9" in page
    misp_json = client.get(r["Location"] + "?format=misp").content
    assert len(orjson.loads(misp_json)["Event"]["Attribute"]) == 2
    ind = Indicator.objects.filter(stix_object__submission=submission).first()
    assert ind is not None
    detail = client.get(f"/intel/indicators/{ind.pk}/").content.decode()
    assert "score" in detail.lower() and "lifetime" in detail.lower()
    assert client.get("/intel/review/").status_code == 403
    # the analyst publishes; then another member sees it
    analyst = Client()
    sign_in(analyst, community.analyst)
    assert "198.51.100.9" not in Client().get("/intel/exports/plain/").content.decode()
    listing = analyst.get("/intel/review/").content.decode()
    assert "indicator--" in listing
    pks = list(StixObject.objects.values_list("pk", flat=True))
    analyst.post("/intel/review/", {"object": pks, "action": "publish"})
    member = Client()
    sign_in(member, community.sharer)
    home = member.get("/intel/").content.decode()
    assert "198.51.100.9" in home
    assert member.get("/intel/?q=198.51.100.9").status_code == 302
    value_page = member.get("/intel/values/ipv4/198.51.100.9").content.decode()
    assert ind.stix_object.stix_id in value_page
    assert client.get("/intel/values/ipv4/192.0.2.200").status_code == 404
