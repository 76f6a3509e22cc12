"""A campaign end to end: recipients over a real SMTP conversation (aiosmtpd), tracked by
HTTP requests to the tracking endpoints, reported through the mail intake."""

import re
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone

from bulwark.drills import services
from bulwark.drills.engine import classify
from bulwark.drills.models import Campaign, DrillEvent, EventKind, Recipient
from bulwark.drills.selectors import agency_results
from bulwark.drills.tests.world import CSV, World
from bulwark.exchange import intake

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
LINK = re.compile(r"https?://mail-check\.example\.net(/d/[A-Za-z0-9_-]+/go)")


def _links(inbox: Any) -> dict[str, str]:
    """Each recipient's click path, read from the mail they received."""
    found = {}
    for message in inbox.parsed():
        text = message.get_body(("plain",)).get_content()
        match = LINK.search(text)
        assert match, text
        found[str(message["To"])] = match.group(1)
    return found


def _sent(world: World, smtp: Any) -> Campaign:
    campaign = world.launched()
    world.due_now(campaign)
    assert services.send_due(campaign.pk) == 4
    # Pretend delivery was a while ago, so a person's click is not "within seconds".
    Recipient.objects.filter(campaign=campaign).update(
        sent_at=timezone.now() - timedelta(minutes=30)
    )
    return campaign


def test_each_recipient_gets_their_own_mail_in_their_language(world: World, smtp: Any) -> None:
    _sent(world, smtp)
    messages = {str(m["To"]): m for m in smtp.parsed()}
    assert set(messages) == {
        "alice@bureau.example.org", "bo@bureau.example.org", "carol@office.example.org",
        "dan@grid.example.org",
    }  # fmt: skip
    assert messages["alice@bureau.example.org"]["Subject"] == "Your password expires today"
    assert messages["bo@bureau.example.org"]["Subject"] == "您的密碼今天到期"
    assert "Dear Alice" in messages["alice@bureau.example.org"].get_body(("plain",)).get_content()
    assert messages["alice@bureau.example.org"]["From"] == (
        "IT Service Desk <it-desk@drill.example.net>"
    )
    links = _links(smtp)
    assert len(set(links.values())) == 4  # unguessable, one each
    html = messages["carol@office.example.org"].get_body(("html",)).get_content()
    assert "/open.gif" in html
    attachment = next(messages["dan@grid.example.org"].iter_attachments())
    assert attachment.get_filename() == "policy.html"
    assert "/a.gif" in attachment.get_content()
    assert DrillEvent.objects.filter(kind=EventKind.SENT).count() == 4


def test_refused_address_is_a_bounce_and_is_not_counted(world: World, smtp: Any) -> None:
    smtp.refuse.add("dan@grid.example.org")
    campaign = world.launched()
    world.due_now(campaign)
    assert services.send_due(campaign.pk) == 3
    dan = Recipient.objects.get(email="dan@grid.example.org")
    assert dan.bounced and dan.sent_at is None and "550" in dan.error
    assert DrillEvent.objects.filter(recipient=dan, kind=EventKind.BOUNCED).count() == 1
    grid = next(r for r in agency_results(campaign) if r.name == "Grid Co")
    assert grid.sent == 0 and grid.passed is None


def test_pause_stops_sending_before_the_next_message(
    world: World, smtp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = world.launched()
    world.due_now(campaign)
    real = services.record_outcome

    def pause_after_first(recipient: Recipient, error: str = "", at: Any = None) -> None:
        real(recipient, error, at)
        if Recipient.objects.filter(campaign=campaign, sent_at__isnull=False).count() == 1:
            services.pause(world.analyst, campaign)

    monkeypatch.setattr(services, "record_outcome", pause_after_first)
    assert services.send_due(campaign.pk) == 1
    assert len(smtp.messages) == 1
    assert services.send_due(campaign.pk) == 0  # the periodic run sends nothing either
    assert len(smtp.messages) == 1
    monkeypatch.setattr(services, "record_outcome", real)
    services.resume(world.analyst, campaign)
    world.due_now(campaign)
    assert services.send_due(campaign.pk) == 3
    assert len(smtp.messages) == 4
    services.stop(world.analyst, campaign)
    with pytest.raises(ValidationError):
        services.resume(world.analyst, campaign)


def test_human_and_scanner_traffic(world: World, smtp: Any, client: Client) -> None:
    campaign = _sent(world, smtp)
    links = _links(smtp)
    alice, bo = links["alice@bureau.example.org"], links["bo@bureau.example.org"]
    carol, dan = links["carol@office.example.org"], links["dan@grid.example.org"]
    token = alice.split("/")[2]
    # A mail gateway: fetches the link with its own agent; follows the redirect, no images.
    scanner = client.get(carol, HTTP_USER_AGENT="Mozilla/5.0 (compatible; Proofpoint URL Defense)")
    assert scanner.status_code == 302
    client.get(scanner["Location"], HTTP_USER_AGENT="Proofpoint URL Defense")
    # A gateway in Microsoft's range with a browser-like agent, and a HEAD probe.
    client.get(dan, HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="40.107.22.5")
    client.head(dan.replace("/go", "/open.gif"), HTTP_USER_AGENT=BROWSER)
    # A sandbox that clicks a link that does not lead to a page load.
    client.get(bo, HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="198.51.100.9")
    # Alice: opens the mail, clicks, the page renders (its image loads), she submits.
    client.get(f"/d/{token}/open.gif", HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.5")
    reply = client.get(alice, HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.5")
    page = client.get(reply["Location"], HTTP_USER_AGENT=BROWSER)
    assert page.status_code == 200 and b"Sign in to renew your password." in page.content
    later = timezone.now() + timedelta(seconds=5)
    services.record_hit(token, EventKind.PAGE, agent=BROWSER, ip="203.0.113.5", at=later)

    events = DrillEvent.objects.exclude(kind__in=[EventKind.SENT])
    by = {(e.recipient.email, e.kind, e.automated) for e in events}
    assert ("carol@office.example.org", "clicked", classify.SCANNER_AGENT) in by
    assert ("dan@grid.example.org", "clicked", classify.SCANNER_RANGE) in by
    assert ("dan@grid.example.org", "opened", classify.HEAD_REQUEST) in by
    assert ("bo@bureau.example.org", "clicked", classify.NO_FOLLOW_UP) in by
    assert ("alice@bureau.example.org", "clicked", "") in by
    assert ("alice@bureau.example.org", "opened", "") in by
    # Every tracking request is one event, exactly once (the landing page's HTML records
    # none): carol's click, dan's click and probe, bo's click, alice's open, click and
    # page image.
    assert events.count() == 7
    rows = {r.name: r for r in agency_results(campaign)}
    assert (rows["Bureau"].sent, rows["Bureau"].opened, rows["Bureau"].clicked) == (2, 1, 1)
    assert rows["Bureau"].click_rate == 50.0 and rows["Bureau"].passed is False
    assert (rows["Office"].clicked, rows["Office"].automated) == (0, 1)
    assert rows["Grid Co"].opened == 0 and rows["Grid Co"].passed is True


def test_a_typed_password_never_reaches_storage(world: World, smtp: Any, client: Client) -> None:
    _sent(world, smtp)
    path = _links(smtp)["alice@bureau.example.org"]
    token = path.split("/")[2]
    page = client.get(f"/d/{token}/", HTTP_USER_AGENT=BROWSER).content.decode()
    form = re.search(r"<form.*?</form>", page, re.S)
    assert form is not None
    # What a browser sends: only controls with a name. The typed fields have none.
    names = re.findall(r'<input[^>]*\bname="([^"]+)"', form.group(0))
    assert names == ["submitted"]
    assert re.search(r'<input[^>]*type="password"[^>]*>', form.group(0))
    assert 'type="password" name=' not in form.group(0)
    # Even a client that sends the password anyway (a crafted request) leaves no trace.
    secret = "Hunter2-Correct-Horse-Battery"
    reply = client.post(
        f"/d/{token}/submit", {"submitted": "1", "password": secret, "username": "alice"},
        HTTP_USER_AGENT=BROWSER,
    )  # fmt: skip
    assert reply.status_code == 200
    assert "This was a social-engineering drill" in reply.content.decode()
    event = DrillEvent.objects.get(kind=EventKind.SUBMITTED)
    assert event.recipient.email == "alice@bureau.example.org"
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                assert secret not in repr(row), table


def test_unknown_or_draft_tokens_are_not_found(world: World, client: Client) -> None:
    campaign = world.campaign()
    services.import_recipients(world.analyst, campaign, CSV)
    token = Recipient.objects.first().token  # type: ignore[union-attr]
    assert client.get(f"/d/{token}/go").status_code == 404  # a draft sends nothing
    assert client.get("/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/open.gif").status_code == 404
    assert DrillEvent.objects.count() == 0


def _forward(path: str, *, attached: bool) -> bytes:
    message = EmailMessage()
    message["From"] = "alice@bureau.example.org"
    message["To"] = "report@bureau.example.org"
    message["Subject"] = "Fwd: Your password expires today"
    if attached:
        original = EmailMessage()
        original["Subject"] = "Your password expires today"
        original["X-Bulwark-Drill"] = path.split("/")[2]
        original.set_content("Renew your password.")
        message.set_content("Suspicious, see attached.")
        message.add_attachment(original)
    else:
        message.set_content(f"This looks fake:\n> Renew here: https://mail-check.example.net{path}")
    return message.as_bytes()


def test_reporting_through_the_mail_intake(world: World, smtp: Any, client: Client) -> None:
    campaign = _sent(world, smtp)
    links = _links(smtp)
    alice, bo = links["alice@bureau.example.org"], links["bo@bureau.example.org"]
    assert intake.handle(_forward(alice, attached=False)).kind == "claimed"
    assert intake.handle(_forward(bo, attached=True)).kind == "claimed"
    assert intake.handle(_forward(alice, attached=True)).kind == "claimed"  # again: once
    # Bo clicks after reporting: still "reported before clicking".
    client.get(bo, HTTP_USER_AGENT=BROWSER)
    token = bo.split("/")[2]
    services.record_hit(
        token, EventKind.PAGE, agent=BROWSER, at=timezone.now() + timedelta(seconds=3)
    )
    assert DrillEvent.objects.filter(kind=EventKind.REPORTED).count() == 2
    bureau = next(r for r in agency_results(campaign) if r.name == "Bureau")
    assert (bureau.reported, bureau.report_rate, bureau.reported_first) == (2, 100.0, 2)
    assert bureau.first_report_after is not None
    assert bureau.first_report_after >= timedelta(minutes=29)


def test_finishing_requires_plans_from_failing_agencies(
    world: World, smtp: Any, client: Client
) -> None:
    campaign = _sent(world, smtp)
    path = _links(smtp)["carol@office.example.org"]
    client.get(path, HTTP_USER_AGENT=BROWSER)
    services.record_hit(
        path.split("/")[2], EventKind.PAGE, agent=BROWSER, at=timezone.now() + timedelta(seconds=2)
    )
    services.finish(world.analyst, campaign)
    plan = campaign.plans.get()
    assert plan.organisation == world.office and plan.state == "required"
    with pytest.raises(ValidationError):
        services.file_plan(world.office_admin, plan, measures="too short")
    services.file_plan(
        world.office_admin, plan, measures="Training for every clicker; gateway banner."
    )
    services.close_plan(world.analyst, plan, note="Training held on 2026-12-20.")
    plan.refresh_from_db()
    assert plan.state == "closed" and plan.closed_at is not None


def test_landing_and_drill_pages_speak_the_recipient_s_language(
    world: World, smtp: Any, client: Client
) -> None:
    _sent(world, smtp)
    bo = Recipient.objects.get(email="bo@bureau.example.org")
    page = client.get(f"/d/{bo.token}/", HTTP_USER_AGENT=BROWSER).content.decode()
    assert "請登入以更新密碼。" in page and "密碼" in page and 'lang="zh-Hant"' in page
    caught = client.post(f"/d/{bo.token}/submit", HTTP_USER_AGENT=BROWSER).content.decode()
    assert "這是一次社交工程演練" in caught
