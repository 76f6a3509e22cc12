"""Delivery over a real SMTP conversation, the in-app inbox, failures and retries,
acknowledgement and action, tracking, reminders and escalation to the authority."""

from datetime import timedelta
from typing import Any

from django.utils import timezone

from bulwark.advisories import services
from bulwark.advisories.models import Delivery, Target
from bulwark.advisories.selectors import tracking_counts
from bulwark.advisories.tests.conftest import Inbox, free_port
from bulwark.advisories.tests.world import World
from bulwark.conftest import run_queued_tasks
from bulwark.core.models import Notification

HOSTILE = "Patch now.\n\n<script>alert('mail')</script>\n\n[x](javascript:alert(1))"


def send(world: World, capture: Any, **fields: Any) -> Any:
    with capture(execute=True):
        advisory = world.sent(**fields)
    return advisory


def test_mail_reaches_each_contact_over_smtp_in_their_language(
    world: World, smtp: Inbox, django_capture_on_commit_callbacks: Any
) -> None:
    advisory = send(
        world,
        django_capture_on_commit_callbacks,
        target_organisations=[world.bureau, world.power],
        title_zh_hant="範例伺服器重大漏洞",
        body=HOSTILE,
    )
    assert run_queued_tasks() >= 1
    by_address = {}
    for envelope, message in zip(smtp.messages, smtp.parsed(), strict=True):
        for address in envelope.rcpt_tos:
            by_address[address] = message
    # Security and CISO contacts; never the abuse desk; never an untargeted agency.
    assert set(by_address) == {
        "soc@bureau.example.org",
        "bureau-reporter@example.org",
        "soc@power.example.org",
    }
    english = by_address["soc@bureau.example.org"]
    chinese = by_address["bureau-reporter@example.org"]  # a user who reads zh-Hant
    assert english["Subject"].startswith(f"[TLP:AMBER] {advisory.reference}: Critical flaw")
    assert chinese["Subject"].strip() == f"[TLP:AMBER] {advisory.reference}: 範例伺服器重大漏洞"
    html = english.get_body(("html",)).get_content()
    text = english.get_body(("plain",)).get_content()
    assert "<script" not in html and 'href="javascript' not in html
    assert "<script" not in text and "Patch now." in text and "CVE-2026-1234" in text
    assert Delivery.objects.filter(state="sent").count() == 3


def test_members_get_an_in_app_notification(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    advisory = send(world, django_capture_on_commit_callbacks, target_organisations=[world.bureau])
    told = set(
        Notification.objects.filter(text__contains=advisory.reference)
        .exclude(user__memberships__organisation=world.cert)  # the four-eyes notices
        .values_list("user__username", flat=True)
    )
    assert told == {"bureau-reporter", "bureau-admin"}


def test_red_reaches_security_contacts_and_admins_only(
    world: World, smtp: Inbox, django_capture_on_commit_callbacks: Any
) -> None:
    advisory = send(
        world, django_capture_on_commit_callbacks, tlp="red", target_organisations=[world.bureau]
    )
    run_queued_tasks()
    assert {r for e in smtp.messages for r in e.rcpt_tos} == {
        "soc@bureau.example.org",
        "bureau-reporter@example.org",
    }
    assert all(b"[TLP:RED]" in e.content for e in smtp.messages)
    told = set(
        Notification.objects.filter(text__contains=advisory.reference)
        .exclude(user__memberships__organisation=world.cert)  # the four-eyes notices
        .values_list("user__username", flat=True)
    )
    assert told == {"bureau-admin"}


def test_refused_and_unreachable_mail_is_recorded_and_retried(
    world: World, smtp: Inbox, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    smtp.refuse = {"soc@power.example.org"}
    send(
        world, django_capture_on_commit_callbacks, target_organisations=[world.bureau, world.power]
    )
    run_queued_tasks()
    failed = Delivery.objects.get(state="failed")
    assert failed.email == "soc@power.example.org" and "550" in failed.last_error
    assert failed.attempts == 1 and failed.next_attempt_at is not None
    assert Delivery.objects.filter(state="sent").count() == 2
    # Not due yet: nothing retried.
    assert services.retry_failed(timezone.now()) == 0
    smtp.refuse = set()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.retry_failed(timezone.now() + timedelta(hours=1)) == 1
    run_queued_tasks()
    failed.refresh_from_db()
    assert failed.state == "sent" and failed.attempts == 2
    # A server that does not answer at all: every delivery of the batch records the error.
    settings.EMAIL_PORT = free_port()
    send(world, django_capture_on_commit_callbacks, target_organisations=[world.grid])
    run_queued_tasks()
    down = Delivery.objects.get(email="soc@grid.example.org")
    assert down.state == "failed" and "Connection" in down.last_error


def test_acknowledge_act_and_track(world: World, django_capture_on_commit_callbacks: Any) -> None:
    advisory = send(
        world,
        django_capture_on_commit_callbacks,
        target_organisations=[world.bureau, world.power, world.grid, world.office],
    )
    now = timezone.now()
    bureau, power, grid = (
        advisory.targets.get(organisation=o) for o in (world.bureau, world.power, world.grid)
    )
    services.mark_read(world.bureau_reporter, bureau)
    services.acknowledge(world.bureau_reporter, bureau)
    services.report_action(world.power_reporter, power, action="patched", note="2.4.60 deployed")
    services.mark_read(world.admin, grid)  # not a member of Grid Co: not counted as read
    counts = tracking_counts(advisory, now)
    assert (counts["total"], counts["unread"], counts["read"]) == (4, 2, 0)
    assert (counts["acknowledged"], counts["acted"], counts["overdue"]) == (1, 1, 0)
    later = advisory.response_deadline + timedelta(minutes=1)
    counts = tracking_counts(advisory, later)
    # An "action" advisory: acknowledging is not enough once the deadline has passed.
    assert (counts["overdue"], counts["acted"], counts["acknowledged"]) == (3, 1, 0)
    assert Target.objects.get(pk=bureau.pk).state(later) == "overdue"


def test_large_target_lists_are_chunked(
    world: World, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services.delivery, "TARGET_CHUNK", 2)
    advisory = send(
        world,
        django_capture_on_commit_callbacks,
        target_organisations=[world.bureau, world.power, world.grid, world.office],
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.remind(world.duty, advisory) == 4
    assert Delivery.objects.filter(kind="reminder").count() == 5  # Bureau has two contacts


def test_reminders_before_the_deadline_and_escalation_after(
    world: World, smtp: Inbox, django_capture_on_commit_callbacks: Any
) -> None:
    deadline = timezone.now() + timedelta(hours=12)
    advisory = send(
        world,
        django_capture_on_commit_callbacks,
        response_required="acknowledge",
        response_deadline=deadline,
        target_organisations=[world.bureau, world.grid],
    )
    services.acknowledge(world.bureau_admin, advisory.targets.get(organisation=world.bureau))
    run_queued_tasks()
    smtp.messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_reminders() == 1  # Grid Co only; Bureau has acknowledged
        assert services.send_reminders() == 0  # once
    run_queued_tasks()
    assert [e.rcpt_tos for e in smtp.messages] == [["soc@grid.example.org"]]
    assert b"Reminder" in smtp.messages[0].content
    # Overdue: Bureau answered in time; Grid Co is escalated (it has no authority to tell).
    late = deadline + timedelta(hours=1)
    assert services.escalate_overdue(late) == 1
    assert advisory.targets.get(organisation=world.grid).escalated_at is not None
    assert services.escalate_overdue(late) == 0


def test_overdue_agencies_escalate_to_their_authority(
    world: World, smtp: Inbox, django_capture_on_commit_callbacks: Any
) -> None:
    deadline = timezone.now() + timedelta(hours=1)
    advisory = send(
        world,
        django_capture_on_commit_callbacks,
        response_deadline=deadline,
        target_organisations=[world.bureau, world.power],
    )
    services.report_action(
        world.power_reporter, advisory.targets.get(organisation=world.power), action="not_affected"
    )
    run_queued_tasks()
    smtp.messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.escalate_overdue(deadline + timedelta(minutes=5)) == 1
    run_queued_tasks()
    note = Notification.objects.get(user=world.reviewer)
    assert "Bureau" in note.text and advisory.reference in note.text
    assert [e.rcpt_tos for e in smtp.messages] == [["reviewer@example.org"]]
    assert advisory.title.encode() not in smtp.messages[0].content  # content stays with targets
