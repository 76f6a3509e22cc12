"""Aggregation and notification over a real SMTP conversation (aiosmtpd on loopback):
one e-mail per recipient and type with a CSV and an X-ARF part under a ticket; replies
quoting the ticket attach to it; bounces and SMTP failures are recorded and retried."""

import email
import email.policy
import mailbox
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.utils import timezone

from bulwark.constituency.models import Contact, User
from bulwark.exchange import demo, intake, notify, services
from bulwark.exchange.models import (
    Event,
    EventNotice,
    NotificationReply,
    RecipientSettings,
    Report,
)

SHADOW = "2026-11-20-scan_ntp-taiwan-geo.csv"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.DEFAULT_FROM_EMAIL = "reports@ncsc.example"
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def routed(constituency: Any) -> Any:
    orgs = constituency
    for short, purpose, address in [
        ("Taipower", "abuse", "abuse@taipower.example"),
        ("CHT", "security", "soc@cht.example"),
        ("CPC", "abuse", "abuse@cpc.example"),
        ("BOE", "abuse", "abuse@boe.example"),
        ("JPCERT/CC", "emergency", "cert@jpcert.example"),
        ("KrCERT/CC", "emergency", "cert@krcert.example"),
    ]:
        Contact.objects.create(organisation=orgs[short], purpose=purpose, email=address)
    RecipientSettings.objects.create(
        organisation=orgs["Taipower"], cadence="immediate", language="zh-hant"
    )
    with (demo.SAMPLES / SHADOW).open("rb") as stream:
        services.ingest(None, stream, file_name=SHADOW)
    return orgs


def parse(envelope: Any) -> email.message.EmailMessage:
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_one_mail_per_recipient_and_type_with_csv_and_xarf(routed: Any, smtp: Inbox) -> None:
    queued = services.queue_notices()
    # Taipower, CHT, CPC, BOE, JPCERT/CC, KrCERT/CC: one vulnerable-system notification each
    assert sorted(n.recipient.short_name for n in queued) == [
        "BOE", "CHT", "CPC", "JPCERT/CC", "KrCERT/CC", "Taipower",
    ]  # fmt: skip
    assert services.send_due_notices() == {"sent": 6, "retrying": 0, "failed": 0}
    by_rcpt = {tuple(m.rcpt_tos): parse(m) for m in smtp.messages}
    assert set(by_rcpt) == {
        ("abuse@taipower.example",), ("soc@cht.example",), ("abuse@cpc.example",),
        ("abuse@boe.example",), ("cert@jpcert.example",), ("cert@krcert.example",),
    }  # fmt: skip
    mail = by_rcpt[("abuse@taipower.example",)]
    ticket = EventNotice.objects.get(recipient=routed["Taipower"]).ticket
    assert ticket in mail["Subject"] and mail["X-Bulwark-Ticket"] == ticket
    assert mail["Content-Language"] == "zh-hant"
    parts = {p.get_filename(): p for p in mail.iter_attachments()}
    csv_text = parts[f"{ticket}.csv"].get_content()
    assert "198.18.12.7" in csv_text and "2001:db8:3::53" in csv_text
    assert "198.18.8.20" not in csv_text  # CHT's event is not in Taipower's mail
    assert len(csv_text.strip().splitlines()) == 1 + 3
    xarf = orjson.loads(parts["xarf.json"].get_content())
    assert {r["source_identifier"] for r in xarf} == {
        "198.18.12.7",
        "198.18.200.9",
        "2001:db8:3::53",
    }
    # X-ARF v4, valid by xarf-spec's own schema (checked here without Bulwark's reader)
    assert xarf_v4_errors(xarf) == []
    assert {(r["xarf_version"], r["category"], r["type"], r["service"]) for r in xarf} == {
        ("4.0.0", "vulnerability", "open_service", "ntp")
    }
    assert all(f"ticket:{ticket.lower()}" in r["tags"] for r in xarf)
    assert len({r["report_id"] for r in xarf}) == 3
    assert {r["reporter"]["domain"] for r in xarf} == {settings.CSIRT_FQDN}
    body = mail.get_body(("plain",)).get_content()
    assert "3" in body and ticket in body
    assert Event.objects.filter(notification__isnull=True, recipient__isnull=False).count() == 0
    # Nothing is sent twice.
    assert services.queue_notices() == [] and services.send_due_notices()["sent"] == 0
    assert len(smtp.messages) == 6


def test_cadence_holds_events_for_the_next_period(routed: Any, smtp: Inbox) -> None:
    now = timezone.now()
    services.queue_notices(now)
    data = (demo.SAMPLES / SHADOW).read_bytes().replace(b"2026-11-20 01:", b"2026-11-22 01:")
    services.ingest(None, __import__("io").BytesIO(data), file_name=SHADOW)
    later = services.queue_notices(now + timedelta(minutes=1))
    # Taipower (immediate) gets a second ticket at once; the daily ones wait for tomorrow.
    assert [n.recipient.short_name for n in later] == ["Taipower"]
    tomorrow = services.queue_notices(now + timedelta(days=1))
    assert len(tomorrow) == 5


def test_reply_quoting_the_ticket_attaches_to_it(routed: Any, smtp: Inbox, tmp_path: Path) -> None:
    services.queue_notices()
    services.send_due_notices()
    sent = next(parse(m) for m in smtp.messages if m.rcpt_tos == ["cert@jpcert.example"])
    ticket = sent["X-Bulwark-Ticket"]
    reply = (
        f"From: JPCERT/CC <cert@jpcert.example>\nTo: reports@ncsc.example\n"
        f"Subject: Re: {sent['Subject']}\nMessage-ID: <r1@jpcert.example>\n"
        f"In-Reply-To: {sent['Message-ID']}\n\n"
        f"Thank you, forwarded to the network owner. Our reference JPCERT#2026-9.\n"
    ).encode()
    box = mailbox.Maildir(str(tmp_path / "inbox"), create=True)
    box.add(reply)
    outcomes = intake.poll_maildir(tmp_path / "inbox")
    assert [(o.kind, o.detail) for o in outcomes] == [("reply", ticket)]
    stored = NotificationReply.objects.get()
    assert stored.notification.ticket == ticket and "forwarded" in stored.body
    assert intake.poll_maildir(tmp_path / "inbox") == []  # moved to cur/, seen
    assert intake.handle(reply).kind == "ignored"  # the same message again


def test_bounce_is_recorded_and_retried(routed: Any, smtp: Inbox) -> None:
    services.queue_notices()
    services.send_due_notices()
    notification = EventNotice.objects.get(recipient=routed["CPC"])
    dsn = (
        "From: MAILER-DAEMON@mx.cpc.example\nTo: reports@ncsc.example\n"
        "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <b1@mx.cpc.example>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThe mail could not be delivered.\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.cpc.example\n\nFinal-Recipient: rfc822; abuse@cpc.example\n"
        "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n"
        "--B\nContent-Type: text/rfc822-headers\n\n"
        f"Subject: [bulwark {notification.ticket}] 1 vulnerable-system events\n"
        "--B--\n"
    ).encode()
    assert intake.handle(dsn).kind == "bounce"
    notification.refresh_from_db()
    assert notification.status == "bounced" and "550 5.1.1" in notification.last_error
    before = len(smtp.messages)
    assert services.send_due_notices()["sent"] == 0  # not before the back-off
    assert services.send_due_notices(timezone.now() + timedelta(hours=1))["sent"] == 1
    assert len(smtp.messages) == before + 1
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.attempts == 2


def test_smtp_failure_is_retried_with_back_off(routed: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    settings.EMAIL_TIMEOUT = 2
    services.queue_notices()
    assert services.send_due_notices() == {"sent": 0, "retrying": 6, "failed": 0}
    failed = EventNotice.objects.get(recipient=routed["Taipower"])
    assert failed.status == "retrying" and failed.attempts == 1
    assert "Connection refused" in failed.last_error or "Errno" in failed.last_error
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=settings.EMAIL_PORT)
    controller.start()
    try:
        assert services.send_due_notices()["sent"] == 0  # back-off not over
        assert services.send_due_notices(timezone.now() + timedelta(hours=1))["sent"] == 6
    finally:
        controller.stop()
    assert len(inbox.messages) == 6


def test_no_address_is_a_recorded_failure(constituency: Any, smtp: Inbox) -> None:
    with (demo.SAMPLES / SHADOW).open("rb") as stream:
        services.ingest(None, stream, file_name=SHADOW)
    services.queue_notices()
    services.send_due_notices()
    notification = EventNotice.objects.filter(recipient=constituency["Taipower"]).get()
    assert notification.status == "retrying" and "no e-mail address" in notification.last_error
    assert smtp.messages == []


def test_mail_that_is_a_report_is_ingested(constituency: Any) -> None:
    data = (demo.SAMPLES / "xarf-login-attack-from-jpcert.eml").read_bytes()
    outcome = intake.handle(data)
    assert outcome.kind == "report"
    report = Report.objects.get()
    assert report.source == "email" and report.foreign_ticket == "JPCERT#2026-1120-0042"
    assert Event.objects.get().recipient.short_name == "WRA"


def test_notifications_visible_to(routed: Any, smtp: Inbox) -> None:
    services.queue_notices()
    seen = {
        name: sorted(
            n.recipient.short_name
            for n in EventNotice.objects.visible_to(User.objects.get(username=name))
        )
        for name in ["analyst", "reporter", "cpc", "reviewer", "jpcert"]
    }
    assert seen == {
        "analyst": ["BOE", "CHT", "CPC", "JPCERT/CC", "KrCERT/CC", "Taipower"],
        "reporter": ["Taipower"],
        "cpc": ["CPC"],
        "reviewer": [],
        "jpcert": ["JPCERT/CC"],
    }


def test_analyst_resends_a_notification(routed: Any, smtp: Inbox) -> None:
    services.queue_notices()
    services.send_due_notices()
    notification = EventNotice.objects.get(recipient=routed["CHT"])
    services.resend_notification(User.objects.get(username="analyst"), notification)
    assert services.send_due_notices()["sent"] == 1
    assert [m.rcpt_tos for m in smtp.messages].count(["soc@cht.example"]) == 2
    with pytest.raises(Exception, match="CERT staff"):
        services.resend_notification(User.objects.get(username="reporter"), notification)


def test_periodic_task_polls_mail_gathers_and_sends(
    routed: Any, smtp: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bulwark.conftest import run_queued_tasks
    from bulwark.exchange.tasks import exchange_cycle

    monkeypatch.setenv("BULWARK_EXCHANGE_MAILDIR", str(tmp_path / "inbox"))
    box = mailbox.Maildir(str(tmp_path / "inbox"), create=True)
    box.add((demo.SAMPLES / "xarf-login-attack-from-jpcert.eml").read_bytes())
    exchange_cycle.enqueue()
    assert run_queued_tasks() == 1
    assert Report.objects.filter(source="email").count() == 1
    # six notifications from the Shadowserver report, WRA's has no address (retrying)
    assert len(smtp.messages) == 6
    assert EventNotice.objects.get(recipient=routed["WRA"]).status == "retrying"


def xarf_v4_errors(reports: list[dict[str, Any]]) -> list[str]:
    """Every schema error of the reports, by xarf-spec's v4 master schema and format checks."""
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource

    from bulwark.exchange.engine.formats.xarf import SCHEMAS

    schemas = [orjson.loads(p.read_bytes()) for p in (SCHEMAS / "v4").rglob("*.json")]
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas
    )
    master = next(s for s in schemas if s["$id"].endswith("xarf-v4-master.json"))
    validator = Draft202012Validator(master, registry=registry, format_checker=FormatChecker())
    return [f"{e.json_path}: {e.message}" for r in reports for e in validator.iter_errors(r)]


def test_xarf_v4_type_needs_its_required_fields_else_threat_intelligence() -> None:
    import uuid
    from types import SimpleNamespace

    def event(**fields: Any) -> Any:
        fields.setdefault("time.source", "2026-11-20T01:12:44+00:00")
        return SimpleNamespace(fields=fields, event_id=uuid.uuid5(uuid.NAMESPACE_URL, repr(fields)))

    def export(rsit: str, *events: Any) -> list[dict[str, Any]]:
        notification = SimpleNamespace(classification_type=rsit, ticket="EX20261120-0123456789")
        return orjson.loads(notify._xarf(notification, list(events)))  # type: ignore[arg-type]

    attacks = export(
        "brute-force",
        event(**{"source.ip": "198.18.20.9", "source.port": 51122, "protocol.transport": "tcp"}),
        event(**{"source.ip": "198.18.20.10"}),  # no protocol, no port: login_attack needs both
    )
    phishing = export("phishing", event(**{"source.url": "http://bank.example/login"}))
    unknown = export("sniffing", event(**{"source.fqdn": "sniffer.example"}))
    reports = attacks + phishing + unknown
    assert xarf_v4_errors(reports) == []
    assert [(r["category"], r["type"]) for r in reports] == [
        ("connection", "login_attack"),
        ("reputation", "threat_intelligence"),
        ("content", "phishing"),
        ("reputation", "threat_intelligence"),
    ]
    assert attacks[1]["threat_type"] == "brute-force" and unknown[0]["threat_type"] == "sniffing"
    assert phishing[0]["url"] == "http://bank.example/login"
    assert attacks[0]["first_seen"] == attacks[0]["timestamp"] == "2026-11-20T01:12:44Z"
