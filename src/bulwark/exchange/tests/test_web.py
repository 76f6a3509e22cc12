"""Analyst pages: search, event, re-route, notification with contents and re-send,
unrouted queue, quarantine with replay, reports with upload, statistics; and the page
read path of the access matrix."""

from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bulwark.conftest import run_queued_tasks, sign_in
from bulwark.constituency.models import Contact, User
from bulwark.exchange import demo, services
from bulwark.exchange.models import Event, EventNotice, Quarantined, Report

SHADOW = "2026-11-20-scan_ntp-taiwan-geo.csv"


@pytest.fixture
def ingested(constituency: Any) -> Any:
    for name in (SHADOW, "xarf-login-attack-from-jpcert.eml"):
        with (demo.SAMPLES / name).open("rb") as stream:
            services.ingest(None, stream, file_name=name)
    services.queue_notices()
    return constituency


def page(username: str) -> Client:
    return sign_in(Client(), User.objects.get(username=username))


def test_search_page_filters_and_shows_routes(ingested: Any) -> None:
    client = page("analyst")
    body = client.get("/exchange/?cidr=198.18.12.0/22").content.decode()
    assert "198.18.12.7" in body and "198.18.8.20" not in body
    body = client.get("/exchange/?recipient=unrouted").content.decode()
    assert "Unrouted queue" in body and "198.18.250.1" in body and "198.18.12.7" not in body
    body = client.get("/exchange/?domain=evil-michigan.org").content.decode()
    assert "No events match." in body
    body = client.get("/exchange/?cidr=not-a-prefix").content.decode()
    assert "is not an IP prefix" in body


def test_event_page_shows_the_senders_ticket_and_reroutes(ingested: Any) -> None:
    client = page("analyst")
    xarf = Event.objects.get(source_ip="198.18.20.9")
    body = client.get(f"/exchange/events/{xarf.pk}/").content.decode()
    assert "JPCERT#2026-1120-0042" in body and "source.ip" in body
    unrouted = Event.objects.get(source_ip="198.18.250.1")
    cht = ingested["CHT"]
    response = client.post(
        f"/exchange/events/{unrouted.pk}/", {"recipient": cht.pk, "reason": "CHT customer"}
    )
    assert response.status_code == 302
    unrouted.refresh_from_db()
    assert unrouted.recipient == cht and unrouted.route_via == "manual"
    # a member cannot re-route, even their own event
    reporter = page("reporter")
    mine = Event.objects.get(source_ip="198.18.12.7")
    assert reporter.get(f"/exchange/events/{mine.pk}/").status_code == 200
    assert reporter.post(f"/exchange/events/{mine.pk}/", {"reason": "x"}).status_code == 403


def test_notification_page_lists_contents_and_resends(
    ingested: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Contact.objects.create(organisation=ingested["Taipower"], purpose="abuse", email="a@t.example")
    notification = EventNotice.objects.get(recipient=ingested["Taipower"])
    client = page("analyst")
    body = client.get(f"/exchange/notifications/{notification.pk}/").content.decode()
    assert notification.ticket in body and "2001:db8:3::53" in body
    # The request only queues it: nothing is sent while the analyst waits for the page.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/exchange/notifications/{notification.pk}/resend/")
    assert response.status_code == 302
    assert len(mail.outbox) == 0
    queued = client.get(response["Location"]).content.decode()
    assert 'id="notification-status">Queued<' in queued and "Queued to be sent again" in queued
    # The worker sends it; the page shows it sent.
    assert run_queued_tasks() == 1
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.address == "a@t.example"
    assert [m.to for m in mail.outbox] == [["a@t.example"]]
    sent = client.get(response["Location"]).content.decode()
    assert 'id="notification-status">Sent<' in sent
    assert (
        page("reporter").post(f"/exchange/notifications/{notification.pk}/resend/").status_code
        == 404
    )


def test_quarantine_fix_and_replay_from_the_page(ingested: Any) -> None:
    client = page("analyst")
    item = Quarantined.objects.get(record_no=11)
    body = client.get("/exchange/quarantine/").content.decode()
    assert "198.18.12.300" in body
    bad = client.post(f"/exchange/quarantine/{item.pk}/", {"text": item.raw})
    assert bad.status_code == 400 and "Still not readable" in bad.content.decode()
    fixed = item.raw.replace("198.18.12.300", "198.18.12.30")
    assert client.post(f"/exchange/quarantine/{item.pk}/", {"text": fixed}).status_code == 302
    assert Event.objects.filter(source_ip="198.18.12.30", record_no=11).exists()
    other = Quarantined.objects.get(record_no=12)
    client.post(f"/exchange/quarantine/{other.pk}/", {"discard": "1", "text": "x"})
    other.refresh_from_db()
    assert other.status == "discarded"


def test_upload_page_and_report_detail(constituency: Any) -> None:
    client = page("analyst")
    upload = SimpleUploadedFile(
        "iodef-botnet-from-krcert.xml",
        (demo.SAMPLES / "iodef-botnet-from-krcert.xml").read_bytes(),
    )
    response = client.post("/exchange/reports/", {"file": upload, "format": "", "feed": ""})
    assert response.status_code == 302
    assert Report.objects.get().source == "upload"
    body = client.get(response["Location"]).content.decode()
    assert "krcert.example#KR-2026-77031" in body and "iodef" in body


def test_statistics_page(ingested: Any) -> None:
    body = page("analyst").get("/exchange/statistics/").content.decode()
    assert "vulnerable / vulnerable-system" in body
    assert "JPCERT/CC (test)" in body and "foreign CERT" in body
    assert "shadowserver-scan_ntp" in body
    assert "intrusion-attempts / brute-force" in body


PAGES_STAFF_ONLY = ["/exchange/quarantine/", "/exchange/reports/"]


@pytest.mark.parametrize(
    ("username", "visible", "hidden"),
    [
        ("reporter", {"198.18.12.7", "2001:db8:3::53"}, {"198.18.8.20", "198.18.250.1"}),
        ("cpc", {"198.18.17.5"}, {"198.18.12.7", "192.0.2.44"}),
        ("reviewer", set(), {"198.18.17.5", "198.18.12.7"}),
        ("jpcert", {"192.0.2.44"}, {"198.51.100.7", "198.18.12.7"}),
    ],
)
def test_page_access_matrix(ingested: Any, username: str, visible: set, hidden: set) -> None:
    client = page(username)
    for path in ("/exchange/", "/exchange/?recipient=unrouted", "/exchange/statistics/"):
        body = client.get(path).content.decode()
        assert all(ip not in body for ip in hidden), path
    body = client.get("/exchange/").content.decode()
    assert all(ip in body for ip in visible)
    for path in PAGES_STAFF_ONLY:
        assert client.get(path).status_code == 404
    foreign = Event.objects.exclude(recipient__memberships__user__username=username).first()
    assert foreign is not None
    assert client.get(f"/exchange/events/{foreign.pk}/").status_code == 404
    for notification in EventNotice.objects.exclude(
        recipient__memberships__user__username=username
    ):
        assert client.get(f"/exchange/notifications/{notification.pk}/").status_code == 404
    stats = client.get("/exchange/statistics/").content.decode()
    assert "Unrouted" not in stats or username == "analyst"


def test_anonymous_is_sent_to_sign_in(ingested: Any) -> None:
    response = Client().get("/exchange/")
    assert response.status_code == 302 and "login" in response["Location"]
