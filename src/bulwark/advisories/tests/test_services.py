"""Writing, four-eyes approval, sending, revisions, attachments and their audit trail."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from bulwark.advisories import services
from bulwark.advisories.models import (
    MAX_ATTACHMENT_BYTES,
    MAX_BODY_CHARS,
    Delivery,
    Revision,
    Status,
)
from bulwark.advisories.rendering import markdown_to_html
from bulwark.advisories.tests.world import World
from bulwark.core import audit
from bulwark.core.models import AuditEntry


def actions_for(advisory_pk: int) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_type="advisories.advisory", object_id=str(advisory_pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


def test_the_author_cannot_approve_their_own_advisory(world: World) -> None:
    advisory = world.draft()
    services.submit(world.analyst, advisory)
    with pytest.raises(PermissionDenied):
        services.approve(world.analyst, advisory)
    advisory.refresh_from_db()
    assert advisory.status == Status.PENDING
    services.approve(world.duty, advisory)
    advisory.refresh_from_db()
    assert advisory.status == Status.APPROVED and advisory.approved_by == world.duty


def test_only_cert_staff_write_and_approve(world: World) -> None:
    with pytest.raises(PermissionDenied):
        services.create_advisory(
            world.bureau_admin,
            title="x",
            summary="x",
            body="x",
            category="early-warning",
            severity="low",
        )
    advisory = world.draft()
    services.submit(world.analyst, advisory)
    for outsider in (world.reviewer, world.bureau_admin):
        with pytest.raises(PermissionDenied):
            services.approve(outsider, advisory)


def test_unapproved_advisories_cannot_be_sent(world: World) -> None:
    advisory = world.draft(target_all=True)
    with pytest.raises(ValidationError):
        services.send(world.duty, advisory)
    services.submit(world.analyst, advisory)
    with pytest.raises(ValidationError):
        services.send(world.duty, advisory)
    assert advisory.targets.count() == 0


def test_an_edit_after_approval_needs_approval_again(world: World) -> None:
    advisory = world.draft(target_all=True)
    services.submit(world.analyst, advisory)
    services.approve(world.duty, advisory)
    services.update_advisory(world.analyst, advisory, title="Critical flaw, corrected")
    advisory.refresh_from_db()
    assert advisory.status == Status.DRAFT and advisory.approved_by is None
    with pytest.raises(ValidationError):
        services.send(world.duty, advisory)


def test_every_state_change_is_audited(world: World) -> None:
    advisory = world.sent(target_organisations=[world.bureau])
    services.update_advisory(
        world.analyst,
        advisory,
        note="Fixed version is 2.4.61.",
        recommended_actions="Upgrade to 2.4.61.",
    )
    services.approve_revision(world.duty, advisory.revisions.get())
    target = advisory.targets.get()
    services.acknowledge(world.bureau_reporter, target)
    services.report_action(world.bureau_reporter, target, action="patched", note="done")
    assert actions_for(advisory.pk) == [
        "advisory.created",
        "advisory.submitted",
        "advisory.approved",
        "advisory.sent",
        "advisory.revision_proposed",
        "advisory.revised",
        "advisory.acknowledged",
        "advisory.action_reported",
    ]
    assert audit.verify().ok


def test_a_revision_needs_a_second_person_keeps_history_and_says_what_changed(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    advisory = world.sent(target_organisations=[world.bureau])
    with pytest.raises(ValidationError):
        services.update_advisory(world.analyst, advisory, severity="high")  # no note
    new_deadline = timezone.now() + timedelta(days=7)
    services.update_advisory(
        world.analyst,
        advisory,
        note="Severity lowered; more time.",
        severity="high",
        response_deadline=new_deadline,
    )
    advisory.refresh_from_db()
    # Proposed only: the advisory and its recipients are unchanged until approval.
    assert (advisory.revision, advisory.severity) == (1, "critical")
    assert not Delivery.objects.filter(kind="revision").exists()
    revision = Revision.objects.get(advisory=advisory)
    with pytest.raises(ValidationError):
        services.update_advisory(world.analyst, advisory, note="again", severity="low")
    with pytest.raises(PermissionDenied):
        services.approve_revision(world.analyst, revision)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_revision(world.duty, revision)
    advisory.refresh_from_db()
    revision.refresh_from_db()
    assert (advisory.revision, advisory.severity) == (2, "high")
    assert advisory.response_deadline == new_deadline
    assert revision.number == 2 and revision.approved_by == world.duty
    assert revision.note == "Severity lowered; more time."
    assert revision.changes["severity"] == ["critical", "high"]
    assert Delivery.objects.filter(kind="revision", revision=2).count() == 2
    with pytest.raises(ValidationError):
        services.approve_revision(world.duty, revision)  # decided already
    with pytest.raises(ValidationError):
        services.update_advisory(
            world.analyst, advisory, note="more", target_organisations=[world.power]
        )
    services.update_advisory(world.analyst, advisory, note="Typo.", title="Typo fixed")
    services.reject_revision(world.duty, advisory.revisions.pending().get())
    advisory.refresh_from_db()
    assert advisory.title != "Typo fixed" and not advisory.revisions.pending().exists()


def test_oversized_body_is_refused_clearly(world: World) -> None:
    with pytest.raises(ValidationError) as caught:
        world.draft(body="x" * (MAX_BODY_CHARS + 1))
    assert "limit is 100000" in str(caught.value)


def test_oversized_and_too_many_attachments_are_refused(world: World) -> None:
    advisory = world.draft()
    with pytest.raises(ValidationError) as caught:
        services.add_attachment(
            world.analyst,
            advisory,
            name="big.bin",
            content_type="x",
            data=b"\0" * (MAX_ATTACHMENT_BYTES + 1),
        )
    assert "limit is" in str(caught.value)
    for n in range(5):
        services.add_attachment(
            world.analyst,
            advisory,
            name=f"../../etc/f{n}.txt",
            content_type="text/plain",
            data=b"ioc",
        )
    with pytest.raises(ValidationError):
        services.add_attachment(
            world.analyst, advisory, name="six.txt", content_type="text/plain", data=b"ioc"
        )
    assert sorted(advisory.attachments.values_list("name", flat=True))[0] == "f0.txt"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cves", [{"id": "CVE-26-1"}]),
        ("cves", [{"id": "CVE-2026-1234", "cvss_score": 11}]),
        ("cves", [{"id": "CVE-2026-1234", "cvss_vector": "CVSS:3.1/AV:X"}]),
        ("affected_products", [{"vendor": "x", "product": "y", "versions": "banana"}]),
        ("affected_products", ["cpe:2.3:a:x"]),
        ("tlp", "purple"),
        ("severity", "apocalyptic"),
    ],
)
def test_broken_content_is_refused_with_the_field(world: World, field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        world.draft(**{field: value})
    assert field in caught.value.message_dict


def test_only_clear_advisories_can_be_public(world: World) -> None:
    with pytest.raises(ValidationError) as caught:
        world.draft(tlp="green", publication="alert")
    assert "publication" in caught.value.message_dict


def test_a_required_response_needs_a_deadline(world: World) -> None:
    with pytest.raises(ValidationError):
        world.draft(response_deadline=None)
    assert world.draft(response_required="none", response_deadline=None).pk


def test_markdown_never_carries_script() -> None:
    hostile = (
        "<script>alert(1)</script>\n\n[click](javascript:alert(2))\n\n"
        '<img src=x onerror="alert(3)">\n\n<a href="x" onclick="alert(4)">a</a>'
    )
    html = markdown_to_html(hostile)
    assert "<script" not in html and 'href="javascript' not in html
    assert "<img" not in html and '<a href="x"' not in html  # shown as text, inert
    assert "<strong>b</strong>" in markdown_to_html("**b**")


def test_reference_numbers_follow_each_other(world: World) -> None:
    first, second = world.draft(), world.draft()
    year = timezone.now().year
    assert first.reference == f"BWA-{year}-0001" and second.reference == f"BWA-{year}-0002"


def test_deadline_in_the_past_makes_targets_overdue(world: World) -> None:
    advisory = world.sent(
        target_organisations=[world.bureau], response_deadline=timezone.now() + timedelta(hours=1)
    )
    target = advisory.targets.get()
    assert target.state() == "unread"
    assert target.state(timezone.now() + timedelta(hours=2)) == "overdue"


def test_each_four_eyes_step_tells_the_other_person(world: World) -> None:
    """Issue 18: approvers were never told an advisory awaited them."""
    from bulwark.core.models import Notification

    advisory = world.draft()
    services.submit(world.analyst, advisory)
    told = Notification.objects.filter(text__contains="awaits your approval")
    assert set(told.values_list("user__username", flat=True)) == {"duty"}  # not the author
    services.reject(world.duty, advisory, reason="Add the fixed version.")
    back = Notification.objects.get(user=world.analyst)
    assert "sent advisory" in back.text and "Add the fixed version." in back.text
    services.submit(world.analyst, advisory)
    services.approve(world.duty, advisory)
    assert Notification.objects.filter(user=world.analyst, text__contains="approved").count() == 1
