"""API (upload, event search, notifications) through bearer tokens, and scheduled HTTP
pulls against a real HTTP server on loopback."""

import http.server
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from bulwark.conftest import bearer
from bulwark.constituency.models import User
from bulwark.exchange import demo, pull, services
from bulwark.exchange.models import Event, Feed, Report

SHADOW = "2026-11-20-scan_ntp-taiwan-geo.csv"
SCOPES = ["exchange:read", "exchange:write"]


def api(username: str) -> tuple[Client, dict[str, str]]:
    return Client(), bearer(User.objects.get(username=username), SCOPES, within_role=True)


@pytest.fixture
def ingested(constituency: Any) -> Any:
    for name in (SHADOW, "xarf-login-attack-from-jpcert.eml"):
        with (demo.SAMPLES / name).open("rb") as stream:
            services.ingest(None, stream, file_name=name)
    return constituency


def test_upload_a_report_through_the_api(constituency: Any) -> None:
    client, auth = api("analyst")
    upload = SimpleUploadedFile(SHADOW, (demo.SAMPLES / SHADOW).read_bytes())
    response = client.post("/api/v1/exchange/reports/", {"file": upload}, **auth)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["format"] == "shadowserver" and body["source"] == "api"
    assert body["counts"]["events"] == 9 and body["counts"]["rejected_lines"] == [11, 12]
    again = client.post(
        "/api/v1/exchange/reports/",
        {"file": SimpleUploadedFile(SHADOW, (demo.SAMPLES / SHADOW).read_bytes())},
        **auth,
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]


def test_upload_refused_for_members_and_bad_input_is_explained(constituency: Any) -> None:
    client, auth = api("reporter")
    upload = SimpleUploadedFile(SHADOW, (demo.SAMPLES / SHADOW).read_bytes())
    assert client.post("/api/v1/exchange/reports/", {"file": upload}, **auth).status_code == 403
    assert Report.objects.count() == 0
    client, auth = api("analyst")
    response = client.post(
        "/api/v1/exchange/reports/",
        {"file": SimpleUploadedFile("x.bin", b"\x00\x01garbage"), "format": "stix"},
        **auth,
    )
    assert response.status_code == 201
    assert response.json()["status"] == "failed"
    assert "not JSON" in response.json()["error"]
    bad = client.post("/api/v1/exchange/reports/", {"format": "nope"}, **auth)
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ip=198.18.12.7", {"198.18.12.7"}),
        ("cidr=198.18.12.0/22", {"198.18.12.7"}),
        ("cidr=198.18.16.0/20", {"198.18.17.5", "198.18.30.1", "198.18.20.9"}),
        ("cidr=2001:db8::/32", {"2001:db8:3::53"}),
        ("asn=AS64499", {"198.18.12.7", "198.18.200.9", "2001:db8:3::53"}),
        ("type=brute-force", {"198.18.20.9"}),
        ("feed=shadowserver-scan_ntp&country=JP", {"192.0.2.44"}),
        ("recipient=unrouted", {"198.18.250.1"}),
    ],
)
def test_event_search(ingested: Any, query: str, expected: set[str]) -> None:
    client, auth = api("analyst")
    response = client.get(f"/api/v1/exchange/events/?{query}&limit=100", **auth)
    assert response.status_code == 200, response.content
    results = response.json()
    results = results["results"] if isinstance(results, dict) else results
    assert {r["source_ip"] for r in results} == expected


def test_event_search_by_recipient_and_bad_filters(ingested: Any) -> None:
    client, auth = api("analyst")
    taipower = ingested["Taipower"].pk
    results = client.get(f"/api/v1/exchange/events/?recipient={taipower}", **auth).json()
    results = results["results"] if isinstance(results, dict) else results
    assert len(results) == 3 and results[0]["event"]["classification.type"] == "vulnerable-system"
    for bad in ("ip=1.2.3", "cidr=nonsense", "asn=ASX", "domain=-bad-"):
        response = client.get(f"/api/v1/exchange/events/?{bad}", **auth)
        assert response.status_code == 400, bad


@pytest.mark.parametrize(
    ("username", "events", "reports", "notifications"),
    [
        ("analyst", 10, 2, 7),
        ("reporter", 3, 0, 1),
        ("cpc", 1, 0, 1),
        ("reviewer", 0, 0, 0),
        ("jpcert", 1, 0, 1),
    ],
)
def test_api_access_matrix(
    ingested: Any, username: str, events: int, reports: int, notifications: int
) -> None:
    services.queue_notices()
    client, auth = api(username)

    def count(path: str) -> int:
        body = client.get(path, **auth).json()
        return int(body["count"]) if isinstance(body, dict) and "count" in body else len(body)

    assert count("/api/v1/exchange/events/") == events
    assert count("/api/v1/exchange/reports/") == reports
    assert count("/api/v1/exchange/notifications/") == notifications
    other = Event.objects.exclude(recipient__memberships__user__username=username).first()
    assert other is not None
    status = client.get(f"/api/v1/exchange/events/{other.pk}/", **auth).status_code
    assert status == (200 if username == "analyst" else 404)


def test_anonymous_api_is_refused(ingested: Any) -> None:
    assert Client().get("/api/v1/exchange/events/").status_code in (401, 403)


def test_exchange_read_scope_reads_but_does_not_upload(ingested: Any) -> None:
    services.queue_notices()
    client = Client()
    auth = bearer(User.objects.get(username="analyst"), ["exchange:read"])
    for path in ("events", "notifications", "reports"):
        assert client.get(f"/api/v1/exchange/{path}/", **auth).status_code == 200, path
    upload = SimpleUploadedFile(SHADOW, (demo.SAMPLES / SHADOW).read_bytes())
    refused = client.post("/api/v1/exchange/reports/", {"file": upload}, **auth)
    assert refused.status_code == 403 and "exchange:write" in refused.json()["detail"]
    assert Report.objects.count() == 2  # the fixture's two, nothing new


def test_incidents_scopes_alone_do_not_open_the_exchange(ingested: Any) -> None:
    client = Client()
    auth = bearer(User.objects.get(username="analyst"), ["incidents:read", "incidents:write"])
    for path in ("events", "notifications", "reports"):
        response = client.get(f"/api/v1/exchange/{path}/", **auth)
        assert response.status_code == 403 and "exchange:read" in response.json()["detail"]
    upload = SimpleUploadedFile(SHADOW, b"timestamp,ip\n")
    assert client.post("/api/v1/exchange/reports/", {"file": upload}, **auth).status_code == 403


def test_tokens_issued_before_the_exchange_scopes_keep_working(ingested: Any) -> None:
    """Migration 0006 gives tokens that had incidents:* the matching exchange:* scope."""
    import importlib

    from django.apps import apps

    from bulwark.constituency.models import ApiToken

    client = Client()
    analyst = User.objects.get(username="analyst")
    old_reader = bearer(analyst, ["incidents:read"])
    old_writer = bearer(analyst, ["incidents:write", "constituency:read"])
    other = bearer(analyst, ["constituency:read"])
    assert client.get("/api/v1/exchange/events/", **old_reader).status_code == 403
    migration = importlib.import_module("bulwark.exchange.migrations.0006_exchange_token_scopes")
    migration.grant_exchange_scopes(apps, None)
    migration.grant_exchange_scopes(apps, None)  # twice: nothing added twice
    assert client.get("/api/v1/exchange/events/", **old_reader).status_code == 200
    upload = SimpleUploadedFile(SHADOW, (demo.SAMPLES / SHADOW).read_bytes())
    assert (
        client.post("/api/v1/exchange/reports/", {"file": upload}, **old_reader).status_code == 403
    )
    assert client.get("/api/v1/exchange/events/", **old_writer).status_code == 403
    assert client.get("/api/v1/exchange/events/", **other).status_code == 403
    assert sorted(ApiToken.objects.values_list("scopes", flat=True), key=len) == [
        ["constituency:read"],
        ["exchange:read", "incidents:read"],
        ["constituency:read", "exchange:write", "incidents:write"],
    ]


def test_token_api_issues_exchange_scopes_and_refuses_made_up_ones(constituency: Any) -> None:
    client = Client()
    # A token grants only scopes it holds itself (docs/access.md).
    auth = bearer(User.objects.get(username="analyst"), ["tokens:manage", "exchange:read"])
    for scopes in (["exchange:admin"], ["exchange:*"], ["EXCHANGE:READ"], ["exchange:read "]):
        response = client.post(
            "/api/v1/tokens/",
            {"name": "bad", "scopes": scopes},
            content_type="application/json",
            **auth,
        )
        assert response.status_code == 400, scopes
    made = client.post(
        "/api/v1/tokens/",
        {"name": "exchange reader", "scopes": ["exchange:read"], "days": 7},
        content_type="application/json",
        **auth,
    )
    assert made.status_code == 201, made.content
    events = client.get(
        "/api/v1/exchange/events/", HTTP_AUTHORIZATION=f"Bearer {made.json()['token']}"
    )
    assert events.status_code == 200


class _FeedServer(http.server.BaseHTTPRequestHandler):
    body = b""
    etag = '"v1"'
    status = 200
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.headers.get("If-None-Match") or "")
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            return
        if self.headers.get("If-None-Match") == type(self).etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", type(self).etag)
        self.send_header("Content-Length", str(len(type(self).body)))
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    _FeedServer.body = (demo.SAMPLES / SHADOW).read_bytes()
    _FeedServer.status = 200
    _FeedServer.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FeedServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_scheduled_pull_ingests_then_uses_the_etag(constituency: Any, feed_server: str) -> None:
    feed = Feed.objects.create(
        name="shadowserver-ntp", url=f"{feed_server}/{SHADOW}", interval_minutes=60
    )
    now = timezone.now()
    assert pull.pull_due(now) == {"shadowserver-ntp": f"report #{Report.objects.get().pk}"}
    report = Report.objects.get()
    assert report.source == "pull" and report.feed_name == "shadowserver-ntp"
    assert Event.objects.count() == 9
    assert Event.objects.filter(feed_name="shadowserver-ntp").count() == 9
    assert pull.pull_due(now + timedelta(minutes=5)) == {}  # not due yet
    assert pull.pull_due(now + timedelta(minutes=61)) == {"shadowserver-ntp": "not modified"}
    assert _FeedServer.hits == ["", '"v1"']
    feed.refresh_from_db()
    assert feed.etag == '"v1"' and feed.last_outcome == "not modified"


def test_pull_failures_are_recorded(constituency: Any, feed_server: str) -> None:
    _FeedServer.status = 500
    feed = Feed.objects.create(name="broken", url=f"{feed_server}/x.csv")
    assert pull.pull(feed) == "error"
    feed.refresh_from_db()
    assert feed.last_error == "HTTP 500 Internal Server Error"
    ftp = Feed.objects.create(name="ftp", url="ftp://127.0.0.1/x.csv")
    assert pull.pull(ftp) == "error"
    assert Report.objects.count() == 0


def test_samples_dir_is_complete() -> None:
    assert {p.name for p in Path(demo.SAMPLES).iterdir()} >= set(demo.DEMO_REPORTS)
