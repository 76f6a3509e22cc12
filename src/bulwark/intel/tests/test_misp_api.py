"""The MISP-compatible read API and feed: PyMISP's own client against a live server,
visibility by token (TLP and organisation), and a MISP feed pulled back into a collection."""

import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import CommandError
from django.test import Client
from pymisp import MISPAttribute, MISPEvent, PyMISP  # type: ignore[import-untyped]

from bulwark.core.tlp import TLP
from bulwark.intel import misp, mispfeed
from bulwark.intel.models import Collection, StixObject
from bulwark.intel.tests.conftest import Community, token


def _event(level: str, value: str, *, info: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "Event": {
            "uuid": str(uuid.uuid4()), "info": info or f"{level} event", "date": "2026-01-01",
            "timestamp": "1767225600", "Tag": [{"name": f"tlp:{level}"}],
            "Attribute": [
                {"uuid": str(uuid.uuid4()), "type": "ip-dst", "category": "Network activity",
                 "value": value, "to_ids": True, "timestamp": "1767225600"},
                {"uuid": str(uuid.uuid4()), "type": "text", "category": "Other",
                 "value": f"note about {value}", "to_ids": False, "timestamp": "1767225600"},
            ],
            "Object": [{"name": "domain-ip", "uuid": str(uuid.uuid4()), "Attribute": [
                {"uuid": str(uuid.uuid4()), "type": "domain", "object_relation": "domain",
                 "category": "Network activity", "value": f"{level}.bad.example",
                 "to_ids": True}],
                "ObjectReference": []}],
            **extra,
        }
    }  # fmt: skip


@pytest.fixture
def shared(community: Community) -> dict[str, dict[str, Any]]:
    events = {
        "clear": _event("clear", "192.0.2.10"),
        "green": _event("green", "192.0.2.11"),
        "amber": _event("amber", "192.0.2.12"),
        "red": _event("red", "192.0.2.13"),
    }
    for event in events.values():
        misp.import_event(community.sharer, community.community, orjson.dumps(event).decode())
    public = _event("clear", "192.0.2.20", info="public")
    misp.import_event(community.analyst, community.public, orjson.dumps(public).decode())
    events["public"] = public
    return events


def _search(client: Client, key: str | None, controller: str = "events", **body: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": key} if key else {}
    r = client.post(
        f"/misp/{controller}/restSearch", orjson.dumps(body), content_type="application/json",
        HTTP_ACCEPT="application/json", **headers,
    )  # fmt: skip
    assert r.status_code == 200, r.content
    return r.json()["response"]


def _infos(found: list[dict[str, Any]]) -> set[str]:
    return {e["Event"]["info"] for e in found}


def test_rest_search_and_feed_show_a_token_only_what_its_organisation_may_read(
    community: Community, shared: dict[str, dict[str, Any]], client: Client
) -> None:
    everyone = {"clear event", "green event", "public"}
    views = {
        community.sharer: everyone | {"amber event", "red event"},
        community.client_user: everyone | {"amber event"},  # AMBER reaches the clients
        community.other_user: everyone,
        community.grouped_user: everyone,
    }
    for user, expected in views.items():
        key = token(user, ["intel:read"])
        assert _infos(_search(client, key)) == expected, user
        attrs = _search(client, key, "attributes", type="ip-dst")["Attribute"]
        assert {a["Event"]["info"] for a in attrs} == expected
        manifest = client.get("/misp/feed/manifest.json", HTTP_AUTHORIZATION=key).json()
        assert {h["info"] for h in manifest.values()} == expected
        hashes = client.get("/misp/feed/hashes.csv", HTTP_AUTHORIZATION=f"Bearer {key}")
        listed = {line.split(",")[1] for line in hashes.content.decode().splitlines()}
        assert listed == set(manifest)
        for level in ("amber", "red"):
            ident = shared[level]["Event"]["uuid"]
            r = client.get(f"/misp/feed/{ident}.json", HTTP_AUTHORIZATION=key)
            assert (r.status_code == 200) == (f"{level} event" in expected)
    # anonymous: the public collection's TLP:CLEAR events only
    assert _infos(_search(client, None)) == {"public"}
    assert set(client.get("/misp/feed/manifest.json").json()) == {shared["public"]["Event"]["uuid"]}


def test_bad_keys_scopes_and_formats_are_refused(community: Community, client: Client) -> None:
    r = client.post("/misp/events/restSearch", "{}", content_type="application/json",
                    HTTP_AUTHORIZATION="not-a-token")  # fmt: skip
    assert r.status_code == 401 and "errors" in r.json()
    key = token(community.sharer, ["incidents:read"])
    r = client.get("/misp/feed/manifest.json", HTTP_AUTHORIZATION=key)
    assert r.status_code == 403
    key = token(community.sharer, ["intel:read"])
    r = client.post("/misp/events/restSearch", '{"returnFormat": "csv"}',
                    content_type="application/json", HTTP_AUTHORIZATION=key)  # fmt: skip
    assert r.status_code == 400 and "json" in r.json()["message"]
    r = client.post("/misp/events/restSearch", "{not json", content_type="application/json",
                    HTTP_AUTHORIZATION=key)  # fmt: skip
    assert r.status_code == 400


def test_filters(community: Community, shared: dict[str, dict[str, Any]], client: Client) -> None:
    key = token(community.sharer, ["intel:read"])
    assert _infos(_search(client, key, value="192.0.2.12")) == {"amber event"}
    assert _infos(_search(client, key, value="%.bad.example", type="domain")) == {
        "clear event", "green event", "amber event", "red event", "public"
    }  # fmt: skip
    assert _infos(_search(client, key, eventinfo="red%")) == {"red event"}
    assert _infos(_search(client, key, uuid=shared["green"]["Event"]["uuid"])) == {"green event"}
    attrs = _search(client, key, "attributes", to_ids=False)["Attribute"]
    assert {a["type"] for a in attrs} == {"text"}
    assert len(_search(client, key, limit=2, page=1)) == 2
    assert len(_search(client, key, limit=2, page=3)) == 1
    assert _search(client, key, last="1d") == []  # the events are from 2026-01-01


@pytest.mark.django_db(transaction=True)
def test_pymisp_client_reads_events_and_attributes(
    community: Community, shared: dict[str, dict[str, Any]], live_server: Any
) -> None:
    key = token(community.client_user, ["intel:read"])
    api = PyMISP(f"{live_server.url}/misp/", key, ssl=False)
    assert "ip-dst" in api.describe_types["types"]
    events = api.search(controller="events", pythonify=True)
    assert {e.info for e in events} == {"clear event", "green event", "amber event", "public"}
    assert all(isinstance(e, MISPEvent) for e in events)
    amber = next(e for e in events if e.info == "amber event")
    sent = shared["amber"]["Event"]
    assert amber.uuid == sent["uuid"] and len(amber.objects) == 1
    assert [a.value for a in amber.attributes] == [a["value"] for a in sent["Attribute"]]
    attrs = api.search(controller="attributes", value="192.0.2.12", pythonify=True)
    assert [a.value for a in attrs] == ["192.0.2.12"]
    assert isinstance(attrs[0], MISPAttribute) and attrs[0].to_ids is True
    got = api.get_event(sent["uuid"], pythonify=True)
    assert got.info == "amber event"
    # RED is not there for the client, whichever way it asks
    red = shared["red"]["Event"]["uuid"]
    assert api.search(controller="events", uuid=red) == []
    assert "errors" in api.get_event(red)


def test_feed_pulled_into_another_collection(
    community: Community, shared: dict[str, dict[str, Any]], client: Client
) -> None:
    key = token(community.other_user, ["intel:read"])

    def fetch(url: str) -> bytes:
        r = client.get(url.removeprefix("http://testserver"), HTTP_AUTHORIZATION=key)
        if r.status_code != 200:
            raise mispfeed.FeedError(f"HTTP {r.status_code}")
        return bytes(r.content)

    mirror = Collection.objects.create(title="Mirror", requires_review=False)
    first = mispfeed.pull(mirror, "http://testserver/misp/feed/", fetch)
    assert (first.listed, first.imported, first.failed) == (3, 3, [])  # CLEAR, GREEN, public
    again = mispfeed.pull(mirror, "http://testserver/misp/feed/", fetch)
    assert (again.imported, again.unchanged) == (0, 3)
    stored = StixObject.objects.filter(collection=mirror, type=misp.EVENT_TYPE)
    assert stored.count() == 3 and set(stored.values_list("tlp", flat=True)) == {
        TLP.CLEAR,
        TLP.GREEN,
    }
    for name in ("clear", "green", "public"):
        sent = shared[name]["Event"]
        row = stored.get(stix_id=f"{misp.EVENT_TYPE}--{sent['uuid']}")
        pulled = orjson.loads(row.raw)["x_misp_event"]
        assert {k: v for k, v in pulled.items() if k != "Orgc"} == sent
    sent = shared["green"]["Event"]
    # hashes.csv lists the md5 of each value with its event
    hashes = client.get("/misp/feed/hashes.csv", HTTP_AUTHORIZATION=key).content.decode()
    assert f"{hashlib.md5(b'192.0.2.11').hexdigest()},{sent['uuid']}" in hashes.splitlines()


def test_feed_pull_command_reads_a_circl_style_directory(
    community: Community, tmp_path: Any
) -> None:
    from django.core.management import call_command

    corpus = Path(__file__).parent / "corpus" / "pymisp"
    manifest = {}
    for name in ("reportlab_testfiles__galaxy_1.json", "reportlab_testfiles__sighting_1.json"):
        event = orjson.loads((corpus / name).read_bytes())["Event"]
        (tmp_path / f"{event['uuid']}.json").write_bytes(orjson.dumps({"Event": event}))
        manifest[event["uuid"]] = {"info": event["info"], "timestamp": event["timestamp"]}
    (tmp_path / "manifest.json").write_bytes(orjson.dumps(manifest))
    (tmp_path / "broken.json").write_text("{")
    manifest["00000000-0000-4000-8000-000000000000"] = {"timestamp": "1"}  # listed, missing
    (tmp_path / "manifest.json").write_bytes(orjson.dumps(manifest))
    feed = Collection.objects.create(title="OSINT", alias="osint", requires_review=False)
    out = io.StringIO()
    call_command("misp_feed_pull", str(tmp_path), "--collection", "osint", stdout=out)
    result = orjson.loads(out.getvalue())
    assert (result["listed"], result["imported"], len(result["failed"])) == (3, 2, 1)
    assert StixObject.objects.filter(collection=feed, type=misp.EVENT_TYPE).count() == 2
    with pytest.raises(CommandError):
        call_command("misp_feed_pull", str(tmp_path), "--collection", "nope")
