"""Simple feeds through saved column mappings (issue 19): the shipped presets on the
feeds' samples from IntelMQ's tests, and creating, previewing and saving mappings in the
API and on the page (CERT staff only, audited, nothing stored by a preview)."""

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.constituency.models import User
from bulwark.core.models import AuditEntry
from bulwark.exchange import services
from bulwark.exchange.engine.event import Invalid, normalise
from bulwark.exchange.engine.formats import mapped
from bulwark.exchange.engine.formats.base import Context
from bulwark.exchange.models import ColumnMapping, Event, Report
from bulwark.exchange.presets import PRESETS

FEEDS = Path(__file__).resolve().parent / "corpus" / "feeds"
OBSERVED = {"time.observation": "2026-12-07T00:00:00+00:00"}
SAMPLES = {
    "spamhaus-drop": "spamhaus-drop.txt",
    "dataplane": "dataplane-sshpwauth.txt",
    "team-cymru-cap": "cymru-certname_20190327.txt",
    "cert-eu": "cert_eu-example.csv",
}


def run_preset(name: str) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    preset = PRESETS[name]
    ctx = Context(file_name=SAMPLES[name], options={"mapping": preset["mapping"]})
    parse = mapped.parse_csv if preset["format"] == "csv" else mapped.parse_json
    events, refused = [], []
    for item in parse(io.BytesIO((FEEDS / SAMPLES[name]).read_bytes()), ctx):
        if item.error:
            refused.append((item.number, item.error))
            continue
        try:
            events.append(normalise(item.fields or {}, OBSERVED))
        except Invalid as exc:
            refused.append((item.number, str(exc)))
    return events, refused


def test_spamhaus_drop() -> None:
    events, refused = run_preset("spamhaus-drop")
    # IntelMQ's test expects the same two networks
    assert [e["source.network"] for e in events] == ["1.4.0.0/17", "2a06:e480::/29"]
    assert events[0]["extra.sbl_id"] == "SBL256893" and not refused
    assert events[0]["classification.taxonomy"] == "other"


def test_dataplane() -> None:
    events, refused = run_preset("dataplane")
    assert [e["source.ip"] for e in events] == ["170.239.104.183", "117.21.224.121"]
    assert "source.asn" not in events[0] and events[1]["source.asn"] == 4134  # "NA": none
    assert events[0]["time.source"] == "2016-12-01T04:26:48+00:00"
    assert {e["classification.identifier"] for e in events} == {"sshpwauth"}
    assert events[0]["classification.type"] == "brute-force"
    # an AS name holding the delimiter ("TEST-AS company | With | pipe") shifts the
    # columns: refused with the reason, not read wrong (IntelMQ's parser special-cases it)
    assert refused == [(73, "'With' is not an IPv4 or IPv6 address")]


def test_team_cymru_and_cert_eu() -> None:
    cymru, refused = run_preset("team-cymru-cap")
    assert not refused and len(cymru) == 35
    assert cymru[0]["source.ip"] == "172.16.0.21" and cymru[0]["source.asn"] == 64496
    assert cymru[0]["classification.identifier"] == "bot"
    certeu, refused = run_preset("cert-eu")
    assert not refused and len(certeu) == 2
    assert certeu[0]["source.ip"] == "109.125.93.10" and certeu[0]["tlp"] == "amber"
    assert certeu[0]["time.source"] == "2019-04-01T03:13:20+00:00"


@pytest.fixture
def staff(constituency: Any) -> User:
    return User.objects.get(username="analyst")


def test_save_is_for_cert_staff_and_audited(staff: User) -> None:
    member = User.objects.get(username="reporter")
    with pytest.raises(PermissionDenied):
        services.save_mapping(member, "drop", PRESETS["spamhaus-drop"]["mapping"])
    assert not ColumnMapping.objects.exists()
    saved = services.save_mapping(staff, "drop", PRESETS["spamhaus-drop"]["mapping"])
    assert saved.options == {"header": False, "comment": ";"}
    services.save_mapping(staff, "drop", {**PRESETS["spamhaus-drop"]["mapping"], "delimiter": ","})
    actions = list(
        AuditEntry.objects.filter(action__startswith="exchange.mapping")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["exchange.mapping.created", "exchange.mapping.changed"]
    with pytest.raises(ValidationError, match="not an IntelMQ field"):
        services.save_mapping(staff, "bad", {"columns": {"source.address": "ip"}})
    with pytest.raises(ValidationError, match="not an RSIT"):
        services.save_mapping(
            staff,
            "bad",
            {"columns": {"source.ip": "ip"}, "constants": {"classification.type": "evil"}},
        )


def test_a_saved_preset_ingests_the_feed(staff: User) -> None:
    services.save_mapping(staff, "drop", PRESETS["spamhaus-drop"]["mapping"])
    with (FEEDS / "spamhaus-drop.txt").open("rb") as stream:
        result = services.ingest(staff, stream, file_name="drop.txt", fmt="csv", mapping="drop")
    assert result.counts.events == 2 and result.counts.rejected == 0
    assert {e.fields["source.network"] for e in Event.objects.all()} == {
        "1.4.0.0/17",
        "2a06:e480::/29",
    }


def test_api_create_preview_and_list(staff: User) -> None:
    client = Client()
    auth = bearer(staff, ["exchange:read", "exchange:write"], within_role=True)
    sample = (FEEDS / "dataplane-sshpwauth.txt").read_text()
    preview = client.post(
        "/api/v1/exchange/mappings/preview/",
        {"mapping": PRESETS["dataplane"]["mapping"], "format": "csv", "sample": sample},
        content_type="application/json",
        **auth,
    )
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["events"] == 2 and len(body["refused"]) == 1
    assert body["first_events"][0]["event"]["source.ip"] == "170.239.104.183"
    assert not Report.objects.exists() and not Event.objects.exists()  # nothing stored
    preset = dict(PRESETS["dataplane"]["mapping"])
    options = {k: preset.pop(k) for k in ("header", "comment", "none")}
    created = client.post(
        "/api/v1/exchange/mappings/",
        {"name": "dataplane", **preset, "options": options},
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201, created.content
    assert created.json()["delimiter"] == "|"
    assert created.json()["options"] == {"header": False, "comment": "#", "none": ["NA"]}
    listed = client.get("/api/v1/exchange/mappings/", **auth).json()
    assert [m["name"] for m in listed["results"]] == ["dataplane"]
    assert client.get("/api/v1/exchange/mappings/presets/", **auth).json().keys() == PRESETS.keys()
    bad = client.post(
        "/api/v1/exchange/mappings/",
        {"name": "x", "columns": {"nonsense": "1"}},
        content_type="application/json",
        **auth,
    )
    assert bad.status_code == 400 and "columns" in bad.json()


@pytest.mark.parametrize("username", ["reporter", "orgadmin", "reviewer", "jpcert"])
def test_members_can_neither_see_nor_write_mappings(staff: User, username: str) -> None:
    services.save_mapping(staff, "drop", PRESETS["spamhaus-drop"]["mapping"])
    user = User.objects.get(username=username)
    client = Client()
    auth = bearer(user, ["exchange:read", "exchange:write"], within_role=True)
    assert client.get("/api/v1/exchange/mappings/", **auth).json()["results"] == []
    assert client.get("/api/v1/exchange/mappings/drop/", **auth).status_code == 404
    assert client.get("/api/v1/exchange/mappings/presets/", **auth).status_code == 403
    for path, data in [
        ("/api/v1/exchange/mappings/", {"name": "mine", "columns": {"source.ip": "1"}}),
        (
            "/api/v1/exchange/mappings/preview/",
            {"mapping": {"columns": {"source.ip": "1"}}, "sample": "198.18.0.1\n"},
        ),
    ]:
        response = client.post(path, data, content_type="application/json", **auth)
        assert response.status_code == 403, (path, response.content)
    assert list(ColumnMapping.objects.values_list("name", flat=True)) == ["drop"]
    page = sign_in(Client(), user)
    assert page.get("/exchange/mappings/").status_code == 404
    assert (
        page.post("/exchange/mappings/", {"name": "x", "mapping": "{}", "save": "1"}).status_code
        == 404
    )


def test_the_page_previews_and_saves(staff: User) -> None:
    page = sign_in(Client(), staff)
    form = page.get("/exchange/mappings/?preset=spamhaus-drop").content.decode()
    assert "spamhaus-drop" in form and "source.network" in form
    mapping = orjson.dumps(PRESETS["spamhaus-drop"]["mapping"]).decode()
    sample = (FEEDS / "spamhaus-drop.txt").read_text()
    shown = page.post(
        "/exchange/mappings/",
        {"name": "drop", "format": "csv", "mapping": mapping, "sample": sample, "preview": "1"},
    ).content.decode()
    assert "6 records read: 2 events, 0 refused." in shown or "2 events" in shown
    assert "1.4.0.0/17" in shown and not ColumnMapping.objects.exists()
    saved = page.post(
        "/exchange/mappings/", {"name": "drop", "format": "csv", "mapping": mapping, "save": "1"}
    )
    assert saved.status_code == 302
    assert ColumnMapping.objects.get(name="drop").options == {"header": False, "comment": ";"}
    broken = page.post(
        "/exchange/mappings/", {"name": "drop", "format": "csv", "mapping": "{", "save": "1"}
    )
    assert broken.status_code == 200 and "Not JSON" in broken.content.decode()
