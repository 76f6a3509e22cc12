"""The remediation workflow: assign, start, fixed with evidence, retest, close; false
positives, comments, risk acceptance decided by a second person."""

from collections.abc import Iterable
from datetime import date
from typing import IO

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Role, User
from bulwark.core import audit
from bulwark.core.models import NotificationKind
from bulwark.core.permissions import require
from bulwark.core.services import notify
from bulwark.findings.models import (
    ACTIVE_STATUSES,
    OPEN_STATUSES,
    EventKind,
    Finding,
    FindingStatus,
    RemediationEvent,
    RiskAcceptance,
    RiskAcceptanceState,
)
from bulwark.findings.services.common import (
    MAX_EVIDENCE_BYTES,
    agency_people,
    display_name,
    keep_file,
)
from bulwark.findings.services.history import record_status_changes


# --- Remediation workflow ---------------------------------------------------------------
def _locked(finding: Finding) -> Finding:
    return Finding.objects.select_for_update().get(pk=finding.pk)


def _event(
    finding: Finding,
    kind: str,
    actor: User | None,
    note: str = "",
    evidence: tuple[str, str, int] | None = None,
) -> RemediationEvent:
    sha, name, size = evidence or ("", "", None)
    return RemediationEvent.objects.create(
        finding=finding,
        kind=kind,
        actor=actor,
        note=note.strip(),
        evidence_sha256=sha,
        evidence_name=name,
        evidence_size=size,
    )


def _step(actor: User, finding: Finding, allowed: Iterable[str], message: str) -> Finding:
    current = _locked(finding)
    if current.status not in tuple(allowed):
        raise ValidationError({"status": message % {"status": current.get_status_display()}})
    return current


def assign(actor: User, finding: Finding, assignee: User, note: str = "") -> Finding:
    """Give a finding to someone of the agency (or the CERT) to remediate."""
    require(actor, "findings.work", finding)
    assignee_viewer = viewer_of(assignee)
    if not (assignee_viewer.cert_staff or finding.organisation_id in assignee_viewer.own_org_ids):
        raise ValidationError({"assignee": _("The assignee must belong to the agency.")})
    with transaction.atomic():
        current = _step(
            actor, finding, OPEN_STATUSES, _("A finding that is %(status)s is not assigned.")
        )
        previous = current.status
        current.assignee = assignee
        if current.status == FindingStatus.OPEN:
            current.status = FindingStatus.ASSIGNED
        current.save(update_fields=["assignee", "status"])
        record_status_changes(
            [(current.pk, previous, current.status, current.deadline)], actor_id=actor.pk
        )
        _event(current, EventKind.ASSIGNED, actor, note or assignee.get_username())
        audit.record(
            actor,
            "findings.assigned",
            current,
            organisation_id=current.organisation_id,
            changes={"assignee": assignee.get_username(), "status": [previous, current.status]},
        )
    if assignee.pk != actor.pk:
        notify(
            [assignee],
            NotificationKind.OTHER,
            _("Finding F-%(id)d was assigned to you.") % {"id": current.pk},
            reverse("findings-finding", args=[current.pk]),
        )
    return current


def start(actor: User, finding: Finding, note: str = "") -> Finding:
    require(actor, "findings.work", finding)
    with transaction.atomic():
        current = _step(
            actor,
            finding,
            (FindingStatus.OPEN, FindingStatus.ASSIGNED),
            _("A finding that is %(status)s cannot be started."),
        )
        previous = current.status
        current.status = FindingStatus.IN_PROGRESS
        if current.assignee_id is None:
            current.assignee = actor
        current.save(update_fields=["status", "assignee"])
        record_status_changes(
            [(current.pk, previous, current.status, current.deadline)], actor_id=actor.pk
        )
        _event(current, EventKind.STARTED, actor, note)
        audit.record(
            actor,
            "findings.started",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, current.status]},
        )
    return current


def mark_fixed(
    actor: User,
    finding: Finding,
    note: str,
    evidence: IO[bytes] | None = None,
    evidence_name: str = "",
) -> Finding:
    """The agency says it is fixed and shows how (a note, and a file when it has one: a
    screenshot, a configuration extract, a patch report); the CERT retests."""
    require(actor, "findings.work", finding)
    if not note.strip() and evidence is None:
        raise ValidationError({"note": _("Say how it was fixed, or attach the evidence.")})
    kept: tuple[str, str, int] | None = None
    if evidence is not None:
        sha, size = keep_file(evidence, MAX_EVIDENCE_BYTES)
        kept = (sha, display_name(evidence_name or "evidence"), size)
    with transaction.atomic():
        current = _step(
            actor, finding, OPEN_STATUSES, _("A finding that is %(status)s cannot be fixed.")
        )
        previous = current.status
        current.status = FindingStatus.FIXED
        current.fixed_at = timezone.now()
        current.save(update_fields=["status", "fixed_at"])
        record_status_changes(
            [(current.pk, previous, current.status, current.deadline)], actor_id=actor.pk
        )
        _event(current, EventKind.FIXED, actor, note, kept)
        audit.record(
            actor,
            "findings.fixed",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, current.status], "evidence": kept[0] if kept else ""},
        )
    return current


def retest(actor: User, finding: Finding, *, passed: bool, note: str = "") -> Finding:
    """The CERT checks a fixed finding: closed when the fix holds, back to work if not."""
    require(actor, "findings.retest", finding)
    if not passed and not note.strip():
        raise ValidationError({"note": _("Say what the retest still found.")})
    with transaction.atomic():
        current = _step(
            actor,
            finding,
            (FindingStatus.FIXED,),
            _("Only a fixed finding is retested; this one is %(status)s."),
        )
        previous = current.status
        if passed:
            current.status = FindingStatus.CLOSED
            current.closed_at = timezone.now()
        else:
            current.status = FindingStatus.IN_PROGRESS
            current.fixed_at = None
        current.save(update_fields=["status", "closed_at", "fixed_at"])
        record_status_changes(
            [(current.pk, previous, current.status, current.deadline)], actor_id=actor.pk
        )
        _event(current, EventKind.RETEST_PASSED if passed else EventKind.RETEST_FAILED, actor, note)
        audit.record(
            actor,
            "findings.retested",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, current.status], "passed": passed},
        )
    return current


def mark_false_positive(actor: User, finding: Finding, reason: str) -> Finding:
    require(actor, "findings.false_positive", finding)
    if not reason.strip():
        raise ValidationError({"reason": _("Say why this is a false positive.")})
    with transaction.atomic():
        current = _step(
            actor,
            finding,
            ACTIVE_STATUSES,
            _("A finding that is %(status)s cannot be marked a false positive."),
        )
        previous = current.status
        current.status = FindingStatus.FALSE_POSITIVE
        current.false_positive_reason = reason.strip()
        current.save(update_fields=["status", "false_positive_reason"])
        record_status_changes(
            [(current.pk, previous, current.status, current.deadline)], actor_id=actor.pk
        )
        _event(current, EventKind.FALSE_POSITIVE, actor, reason)
        audit.record(
            actor,
            "findings.false_positive",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, current.status], "reason": reason.strip()[:300]},
        )
    return current


def comment(actor: User, finding: Finding, note: str) -> RemediationEvent:
    require(actor, "findings.work", finding)
    if not note.strip():
        raise ValidationError({"note": _("The comment is empty.")})
    with transaction.atomic():
        event = _event(finding, EventKind.COMMENT, actor, note)
        audit.record(actor, "findings.comment", finding, organisation_id=finding.organisation_id)
    return event


def request_risk_acceptance(
    actor: User, finding: Finding, *, reason: str, expires_on: date
) -> RiskAcceptance:
    """Ask to live with a finding until a date; a second person decides."""
    require(actor, "findings.request_acceptance", finding)
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the risk is acceptable.")})
    if expires_on <= timezone.localdate():
        raise ValidationError({"expires_on": _("The acceptance must end in the future.")})
    with transaction.atomic():
        current = _step(
            actor,
            finding,
            OPEN_STATUSES,
            _("A finding that is %(status)s cannot have its risk accepted."),
        )
        if current.acceptances.filter(state=RiskAcceptanceState.PENDING).exists():
            raise ValidationError({"reason": _("A request is already waiting for a decision.")})
        acceptance = RiskAcceptance.objects.create(
            finding=current,
            reason=reason.strip(),
            expires_on=expires_on,
            requested_by=actor,
            previous_status=current.status,
        )
        _event(current, EventKind.RISK_REQUESTED, actor, reason)
        audit.record(
            actor,
            "findings.risk_requested",
            current,
            organisation_id=current.organisation_id,
            changes={"expires_on": expires_on.isoformat()},
        )
    approvers = [
        u for u in agency_people(current.organisation_id, [Role.ORG_ADMIN]) if u != actor.pk
    ]
    notify(
        approvers,
        NotificationKind.OTHER,
        _("A risk acceptance for finding F-%(id)d awaits your decision.") % {"id": current.pk},
        reverse("findings-finding", args=[current.pk]),
        subject=f"findings-risk:{acceptance.pk}",
    )
    return acceptance


def decide_risk_acceptance(
    actor: User, acceptance: RiskAcceptance, *, approve: bool, note: str = ""
) -> RiskAcceptance:
    """The second person approves (the finding is risk-accepted until the date) or refuses."""
    acceptance = RiskAcceptance.objects.select_related("finding").get(pk=acceptance.pk)
    require(actor, "findings.approve_acceptance", acceptance)
    with transaction.atomic():
        locked: RiskAcceptance = RiskAcceptance.objects.select_for_update().get(pk=acceptance.pk)
        if locked.state != RiskAcceptanceState.PENDING:
            raise ValidationError({"state": _("This request was already decided.")})
        finding = _locked(acceptance.finding)
        locked.state = RiskAcceptanceState.APPROVED if approve else RiskAcceptanceState.REJECTED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["state", "decided_by", "decided_at"])
        if approve:
            if finding.status not in OPEN_STATUSES:
                raise ValidationError(
                    {"state": _("The finding is no longer open; nothing to accept.")}
                )
            locked.previous_status = finding.status
            locked.save(update_fields=["previous_status"])
            finding.status = FindingStatus.RISK_ACCEPTED
            finding.save(update_fields=["status"])
            record_status_changes(
                [(finding.pk, locked.previous_status, finding.status, finding.deadline)],
                actor_id=actor.pk,
            )
        _event(
            finding,
            EventKind.RISK_APPROVED if approve else EventKind.RISK_REJECTED,
            actor,
            note,
        )
        audit.record(
            actor,
            "findings.risk_decided",
            finding,
            organisation_id=finding.organisation_id,
            changes={"approved": approve, "expires_on": locked.expires_on.isoformat()},
        )
    return locked


def expire_risk_acceptances(today: date | None = None) -> int:
    """Accepted risks whose date has passed are open again (the system acts)."""
    today = today or timezone.localdate()
    done = 0
    for acceptance in RiskAcceptance.objects.filter(
        state=RiskAcceptanceState.APPROVED, expires_on__lt=today
    ).select_related("finding"):
        with transaction.atomic():
            finding = _locked(acceptance.finding)
            RiskAcceptance.objects.filter(pk=acceptance.pk).update(
                state=RiskAcceptanceState.EXPIRED
            )
            if finding.status == FindingStatus.RISK_ACCEPTED:
                finding.status = acceptance.previous_status or FindingStatus.OPEN
                finding.save(update_fields=["status"])
                record_status_changes(
                    [(finding.pk, FindingStatus.RISK_ACCEPTED, finding.status, finding.deadline)]
                )
            _event(finding, EventKind.RISK_EXPIRED, None)
            audit.record(
                None,
                "findings.risk_expired",
                finding,
                organisation_id=finding.organisation_id,
            )
            done += 1
    return done
