"""The statutory workflow of a case: report, review, level changes, notes, response,
recovery, the final report and its decision, extensions."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import (
    Organisation,
    User,
)
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.incidents import clocks
from bulwark.incidents.levels import Answers, propose_level
from bulwark.incidents.models import (
    FinalReport,
    Incident,
    LevelChange,
    TimelineEntry,
)
from bulwark.incidents.services.common import (
    LATEST_TIME,
    REPORTING_KINDS,
    _add_indicators,
    _apply_case_template,
    _check_time,
    _event,
    _next_reference,
    _time_problem,
    _transition,
    refresh_due,
)
from bulwark.incidents.taxonomy import valid_pair


def report_problems(
    *,
    organisation: Organisation | None,
    rsit_class: str | None,
    rsit_type: str | None,
    aware_at: datetime | None,
    reported_at: datetime | None,
    backfill_reason: str,
    answers: Answers | None,
    level: int | None,
    level_reason: str,
    profile: str = clocks.DEFAULT_PROFILE,
) -> dict[str, str]:
    """Every rule a report breaks, by field, all at once (the form shows them together
    instead of one per submit). Values the form could not read arrive as None and are
    not judged again."""
    problems: dict[str, str] = {}
    if organisation is not None and organisation.kind not in REPORTING_KINDS:
        problems["organisation"] = _("Only agencies and CI operators report incidents.")
    if reported_at is not None and not backfill_reason.strip():
        problems["backfill_reason"] = _("Say how and why it was reported another way.")
    if aware_at is not None and (problem := _time_problem(aware_at)):
        problems["aware_at"] = problem
    if reported_at is not None and (
        problem := _time_problem(
            reported_at,
            not_before=aware_at if "aware_at" not in problems else None,
            label=_("the time of awareness"),
        )
    ):
        problems["reported_at"] = problem
    if rsit_class and rsit_type and not valid_pair(rsit_class, rsit_type):
        problems["rsit_type"] = _("%(t)s is not a type of %(c)s.") % {
            "t": rsit_type,
            "c": rsit_class,
        }
    try:
        profile_data = clocks.load_profile(profile)
    except KeyError:
        problems["profile"] = _("Unknown jurisdiction profile.")
        return problems
    if answers is None:
        return problems
    proposed = propose_level(answers)[0] if profile == "tw" else min(profile_data.levels)
    chosen = level or proposed
    if chosen not in profile_data.levels:
        problems["level"] = _("This jurisdiction has no level %(n)s.") % {"n": chosen}
    elif chosen != proposed and not level_reason.strip():
        problems["level_reason"] = _("Explain why you chose another level than the proposed one.")
    return problems


@transaction.atomic
def report_incident(
    actor: User,
    organisation: Organisation,
    *,
    title: str,
    description: str,
    rsit_class: str,
    rsit_type: str,
    aware_at: datetime,
    answers: Answers,
    level: int | None = None,
    level_reason: str = "",
    reported_at: datetime | None = None,
    backfill_reason: str = "",
    profile: str = clocks.DEFAULT_PROFILE,
    indicators: Iterable[tuple[str, str]] = (),
    **details: Any,
) -> Incident:
    """File a notification. `reported_at` (with `backfill_reason`) records a report made
    through another channel while the platform was unreachable: clocks use that real time."""
    require(actor, "incident.report", organisation)
    now = timezone.now()
    problems = report_problems(
        organisation=organisation,
        rsit_class=rsit_class,
        rsit_type=rsit_type,
        aware_at=aware_at,
        reported_at=reported_at,
        backfill_reason=backfill_reason,
        answers=answers,
        level=level,
        level_reason=level_reason,
        profile=profile,
    )
    if problems:
        raise ValidationError(problems)
    reported_at = reported_at or now
    profile_data = clocks.load_profile(profile)
    proposed = propose_level(answers)[0] if profile == "tw" else min(profile_data.levels)
    chosen = level or proposed
    incident = Incident(
        reference=_next_reference(now),
        organisation=organisation,
        reported_by=actor,
        title=title,
        description=description,
        profile=profile,
        level=chosen,
        proposed_level=proposed,
        level_reason=level_reason,
        rsit_class=rsit_class,
        rsit_type=rsit_type,
        confidentiality=answers.confidentiality,
        integrity=answers.integrity,
        availability=answers.availability,
        core_system=answers.core_system,
        critical_infrastructure=answers.critical_infrastructure,
        restored_in_time=answers.restored_in_time,
        secret=answers.secret,
        aware_at=aware_at,
        reported_at=reported_at,
        backfill_reason=backfill_reason,
        **details,
    )
    incident.full_clean()
    incident.save()
    LevelChange.objects.create(
        incident=incident, level=chosen, at=reported_at, by=actor, renotification=True
    )
    _add_indicators(incident, indicators)
    _event(incident, actor, _("Reported at level %(n)s.") % {"n": chosen})
    audit.record(
        actor, "incident.reported", incident,
        changes={"level": chosen, "proposed_level": proposed, "backfilled": bool(backfill_reason)},
        organisation_id=organisation.pk,
    )  # fmt: skip
    refresh_due(incident)
    return incident


@transaction.atomic
def review_incident(actor: User, incident: Incident, *, level: int, comment: str = "") -> Incident:
    """The supervising authority confirms or changes the level. L3-L4 reviews are
    forwarded to the national CERT at once."""
    require(actor, "incident.review", incident)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if level not in clocks.load_profile(incident.profile).levels:
        raise ValidationError({"level": _("This jurisdiction has no level %(n)s.") % {"n": level}})
    before = incident.level
    _transition(incident, "review")
    if level != before and not comment.strip():
        message = _("Say why the level changes from L%(a)s to L%(b)s.")
        raise ValidationError({"comment": message % {"a": before, "b": level}})
    now = timezone.now()
    incident.level, incident.reviewed_at, incident.reviewed_by = level, now, actor
    forwarded = level >= 3 and any(
        r.key == "forwarding" and r.applies(level)
        for r in clocks.load_profile(incident.profile).clocks
    )
    if forwarded:
        incident.forwarded_at = now
    incident.save()
    if level != before:
        LevelChange.objects.create(
            incident=incident, level=level, at=now, by=actor, renotification=False, reason=comment
        )
    text = _("Level %(n)s confirmed by the supervising authority.") % {"n": level}
    if forwarded:
        text += " " + _("Forwarded to the national CERT.")
    _event(incident, actor, text + (f" {comment}" if comment else ""))
    audit.record(
        actor,
        "incident.reviewed",
        incident,
        changes={"level": [before, level], "forwarded": forwarded},
        organisation_id=incident.organisation_id,
    )
    refresh_due(incident)
    return incident


@transaction.atomic
def change_level(actor: User, incident: Incident, *, level: int, reason: str) -> Incident:
    """A new notification at another level: every clock is recomputed and the authority
    reviews again."""
    require(actor, "incident.handle", incident)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not reason.strip():
        raise ValidationError({"comment": _("Say why the level changes.")})
    if level == incident.level or level not in clocks.load_profile(incident.profile).levels:
        raise ValidationError({"level": _("Choose a different, valid level.")})
    before = incident.level
    _transition(incident, "change_level")
    incident.level = level
    incident.save()
    LevelChange.objects.create(
        incident=incident,
        level=level,
        at=timezone.now(),
        by=actor,
        renotification=True,
        reason=reason,
    )
    _event(
        incident,
        actor,
        _("Level changed from %(a)s to %(b)s: %(why)s") % {"a": before, "b": level, "why": reason},
    )
    audit.record(
        actor,
        "incident.level_changed",
        incident,
        changes={"level": [before, level], "reason": reason},
        organisation_id=incident.organisation_id,
    )
    refresh_due(incident)
    return incident


@transaction.atomic
def add_note(actor: User, incident: Incident, *, kind: str, text: str) -> TimelineEntry:
    require(actor, "incident.handle", incident)
    if kind == TimelineEntry.Kind.GUIDANCE:
        require(actor, "incident.guide", incident)
    if kind not in TimelineEntry.Kind.values or kind == TimelineEntry.Kind.EVENT:
        raise ValidationError({"kind": _("Choose note, guidance, action or CISO meeting.")})
    if not text.strip():
        raise ValidationError({"text": _("Write something.")})
    _transition(incident, "note")  # refused on a closed case
    entry = TimelineEntry.objects.create(incident=incident, author=actor, kind=kind, text=text)
    audit.record(
        actor,
        "incident.note_added",
        incident,
        changes={"kind": kind},
        organisation_id=incident.organisation_id,
    )
    return entry


@transaction.atomic
def start_response(actor: User, incident: Incident) -> Incident:
    require(actor, "incident.triage", incident)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    _transition(incident, "respond")
    if incident.assignee_id is None:
        incident.assignee = actor
    incident.save()
    _event(incident, actor, _("The national CERT is handling the response."))
    _apply_case_template(actor, incident)
    audit.record(
        actor, "incident.response_started", incident, organisation_id=incident.organisation_id
    )
    return incident


@transaction.atomic
def report_recovery(
    actor: User, incident: Incident, *, completed_at: datetime, summary: str
) -> Incident:
    require(actor, "incident.handle", incident)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    _check_time(
        "completed_at", completed_at, not_before=incident.aware_at, label=_("the time of awareness")
    )
    if not summary.strip():
        raise ValidationError({"summary": _("Describe the damage control and recovery.")})
    _transition(incident, "recover")
    incident.recovered_at = completed_at
    incident.save()
    _event(
        incident,
        actor,
        _("Damage control / recovery completed: %(s)s") % {"s": summary},
        TimelineEntry.Kind.ACTION,
    )
    audit.record(
        actor,
        "incident.recovered",
        incident,
        changes={"completed_at": completed_at},
        organisation_id=incident.organisation_id,
    )
    refresh_due(incident)
    return incident


@transaction.atomic
def submit_final_report(actor: User, incident: Incident, **items: str) -> FinalReport:
    require(actor, "incident.handle", incident)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    missing = [f for f in FinalReport.ITEMS if not str(items.get(f, "")).strip()]
    if missing:
        raise ValidationError({f: _("The regulation requires this item.") for f in missing})
    unknown = set(items) - set(FinalReport.ITEMS)
    if unknown:
        raise ValidationError({f: _("Unknown item.") for f in sorted(unknown)})
    _transition(incident, "submit_final_report")
    meeting = incident.timeline.filter(kind=TimelineEntry.Kind.CISO_MEETING).exists()
    if incident.profile == "tw" and incident.level >= 3 and not meeting:
        raise ValidationError(
            {"status": _("Level 3-4 incidents need the record of the CISO's meeting first.")}
        )
    report = FinalReport(incident=incident, submitted_by=actor, **items)
    report.full_clean()
    report.save()
    if incident.final_report_at is None:
        incident.final_report_at = report.submitted_at
    incident.save()
    _event(incident, actor, _("Final report submitted."))
    audit.record(
        actor, "incident.final_report_submitted", incident, organisation_id=incident.organisation_id
    )
    refresh_due(incident)
    return report


@transaction.atomic
def decide_final_report(
    actor: User,
    incident: Incident,
    *,
    approve: bool,
    comment: str = "",
    close_with_open_tasks: bool = False,
) -> Incident:
    """Approving closes the case; with tasks still open only when the CERT confirms it
    (a case used to close over open tasks without a word)."""
    require(actor, "incident.coordinate", incident)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not approve and not comment.strip():
        raise ValidationError({"comment": _("Say what must be revised.")})
    open_tasks = list(incident.tasks.filter(done_at__isnull=True).values_list("title", flat=True))
    if approve and open_tasks and not close_with_open_tasks:
        raise ValidationError(
            {
                "close_with_open_tasks": _(
                    "%(n)d task(s) are still open: %(titles)s. Confirm to close anyway."
                )
                % {"n": len(open_tasks), "titles": "; ".join(open_tasks)}
            }
        )
    _transition(incident, "approve_final_report" if approve else "request_revision")
    report = incident.final_reports.first()
    if report is not None and comment:
        report.review_comment = comment
        report.save(update_fields=["review_comment"])
    if approve:
        incident.closed_at = timezone.now()
    incident.save()
    _event(
        incident,
        actor,
        (
            _("Final report approved; case closed.")
            if approve
            else _("Revision required: %(c)s") % {"c": comment}
        ),
    )
    audit.record(
        actor,
        "incident.closed" if approve else "incident.revision_required",
        incident,
        changes={"comment": comment, "open_tasks": open_tasks if approve else []},
        organisation_id=incident.organisation_id,
    )
    refresh_due(incident)
    return incident


@transaction.atomic
def grant_extension(actor: User, incident: Incident, *, until: datetime, reason: str) -> Incident:
    require(actor, "incident.coordinate", incident)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    _transition(incident, "grant_extension")
    if until <= timezone.now():
        raise ValidationError({"until": _("An extension ends in the future.")})
    if until > LATEST_TIME:
        raise ValidationError(
            {
                "until": _("This time is after %(year)s: check the year.")
                % {"year": LATEST_TIME.year}
            }
        )
    if not reason.strip():
        raise ValidationError({"reason": _("Record the approved reason.")})
    incident.final_report_extended_to = until
    incident.save()
    _event(
        incident,
        actor,
        _("Final report deadline extended to %(d)s: %(r)s") % {"d": until.isoformat(), "r": reason},
    )
    audit.record(
        actor,
        "incident.extension_granted",
        incident,
        changes={"until": until, "reason": reason},
        organisation_id=incident.organisation_id,
    )
    refresh_due(incident)
    return incident
