"""The only code that changes incidents: each function checks the actor's right and the
workflow, writes in one transaction, records the timeline and one audit entry, and
recomputes the incident's next due time."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import (
    CERT_STAFF_ROLES,
    Organisation,
    OrganisationKind,
    User,
)
from bulwark.constituency.timezones import zone_label
from bulwark.core import audit
from bulwark.core.observables import InvalidIndicator
from bulwark.core.permissions import can, require
from bulwark.incidents import clocks, workflow
from bulwark.incidents import indicators as indicator_rules
from bulwark.incidents.levels import Answers, propose_level
from bulwark.incidents.models import (
    CaseTemplate,
    FinalReport,
    Incident,
    IncidentIndicator,
    IncidentTag,
    LevelChange,
    ResponseTask,
    SavedFilter,
    TimelineEntry,
)
from bulwark.incidents.taxonomy import valid_pair

REPORTING_KINDS = {
    OrganisationKind.GOVERNMENT_AGENCY,
    OrganisationKind.CI_OPERATOR,
    OrganisationKind.AUTHORITY,
}
# How far ahead of "now" a reported time may lie, to absorb clock skew between machines.
CLOCK_SKEW = timedelta(minutes=5)
MAX_INDICATORS = 1000


def _add_indicators(incident: Incident, pairs: Iterable[tuple[str, str]]) -> None:
    rows, seen = [], set()
    for position, (kind, value) in enumerate(pairs, start=1):
        try:
            kind, normal = indicator_rules.normalised(kind, value)
        except InvalidIndicator as exc:
            raise ValidationError({"indicators": f"#{position}: {exc}"}) from None
        if (kind, normal) not in seen:
            seen.add((kind, normal))
            rows.append(IncidentIndicator(incident=incident, kind=kind, value=normal))
    if len(rows) > MAX_INDICATORS:
        raise ValidationError(
            {"indicators": _("At most %(n)d indicators.") % {"n": MAX_INDICATORS}}
        )
    IncidentIndicator.objects.bulk_create(rows)


def clock_states(incident: Incident, now: datetime | None = None) -> list[clocks.Clock]:
    history = [
        clocks.LevelChange(c.level, c.at, c.renotification) for c in incident.level_changes.all()
    ]
    extensions = (
        {"final_report": incident.final_report_extended_to}
        if incident.final_report_extended_to
        else {}
    )
    return clocks.compute(
        clocks.load_profile(incident.profile),
        incident.clock_events(),
        history,
        now=now or timezone.now(),
        extensions=extensions,
    )


def refresh_due(incident: Incident) -> None:
    incident.next_due_at = (
        None
        if incident.status == workflow.Status.CLOSED
        else clocks.nearest_due(clock_states(incident))
    )
    incident.save(update_fields=["next_due_at"])


def _transition(incident: Incident, action: str) -> None:
    try:
        incident.status = workflow.next_status(incident.status, action)
    except workflow.IllegalTransition as exc:
        raise ValidationError({"status": str(exc)}) from None


def _event(
    incident: Incident, actor: User | None, text: str, kind: str = TimelineEntry.Kind.EVENT
) -> None:
    TimelineEntry.objects.create(incident=incident, author=actor, kind=kind, text=text)


# No incident, recovery or report of this platform happened before this.
EARLIEST_TIME = datetime(1990, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)


def _check_time(
    name: str, moment: datetime, *, not_before: datetime | None = None, label: str = ""
) -> None:
    if moment > timezone.now() + CLOCK_SKEW:
        raise ValidationError({name: _("This time is in the future.")})
    if moment < EARLIEST_TIME:
        # Year 0001 in a zone east of UTC cannot even be stored (it overflows into year 0).
        raise ValidationError(
            {
                name: _("This time is before %(year)s: check the year.")
                % {"year": EARLIEST_TIME.year}
            }
        )
    if not_before is not None and moment < not_before:
        raise ValidationError({name: _("This time is before %(what)s.") % {"what": label}})


def _next_reference(now: datetime) -> str:
    prefix = f"INC-{now:%Y}-"
    last = Incident.objects.filter(reference__startswith=prefix).aggregate(m=Max("reference"))["m"]
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:06d}"


def _time_problem(
    moment: datetime, *, not_before: datetime | None = None, label: str = ""
) -> str | None:
    try:
        _check_time("t", moment, not_before=not_before, label=label)
    except ValidationError as exc:
        return str(exc.error_dict["t"][0].messages[0])
    return None


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


@transaction.atomic
def add_task(
    actor: User, incident: Incident, *, title: str, owner: User, due_at: datetime
) -> ResponseTask:
    require(actor, "incident.handle", incident)
    if incident.status == workflow.Status.CLOSED:
        raise ValidationError({"status": _("The case is closed.")})
    if not (can(owner, "incident.handle", incident) or can(owner, "incident.review", incident)):
        raise ValidationError({"owner": _("The owner must be able to see and work this incident.")})
    if not title.strip():
        raise ValidationError({"title": _("Say what must be done.")})
    if not EARLIEST_TIME <= due_at <= LATEST_TIME:
        raise ValidationError({"due_at": _("Check the year of this time.")})
    task = ResponseTask.objects.create(
        incident=incident, title=title.strip(), owner=owner, due_at=due_at, created_by=actor
    )
    _event(
        incident,
        actor,
        _("Task for %(who)s, due %(due)s: %(t)s")
        % {
            "who": owner,
            "due": f"{timezone.localtime(due_at):%Y-%m-%d %H:%M} ({zone_label(due_at)})",
            "t": task.title,
        },
        TimelineEntry.Kind.TASK,
    )
    audit.record(
        actor,
        "incident.task_added",
        incident,
        changes={"task": task.title, "owner": owner.username},
        organisation_id=incident.organisation_id,
    )
    return task


@transaction.atomic
def complete_task(actor: User, task: ResponseTask) -> ResponseTask:
    require(actor, "incident.complete_task", task)
    if task.done_at is None:
        task.done_at = timezone.now()
        task.save(update_fields=["done_at"])
        _event(
            task.incident, actor, _("Task done: %(t)s") % {"t": task.title}, TimelineEntry.Kind.TASK
        )
        audit.record(
            actor,
            "incident.task_done",
            task.incident,
            changes={"task": task.title},
            organisation_id=task.incident.organisation_id,
        )
    return task


# --- Case management: assignee, tags, bulk actions, saved filters, case templates --------


def cert_staff_users() -> Any:
    """Who a case may be assigned to: active duty officers and analysts of the CERT."""
    return (
        User.objects.filter(
            is_active=True,
            memberships__role__in=CERT_STAFF_ROLES,
            memberships__organisation__kind=OrganisationKind.NATIONAL_CERT,
        )
        .distinct()
        .order_by("username")
    )


@transaction.atomic
def assign_incident(actor: User, incident: Incident, assignee: User | None) -> Incident:
    """The CERT staff member who owns the case (None: nobody)."""
    require(actor, "incident.triage", incident)
    if assignee is not None and not (assignee.is_active and viewer_of(assignee).cert_staff):
        raise ValidationError({"assignee": _("Cases are assigned to active CERT staff.")})
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.status == workflow.Status.CLOSED:
        raise ValidationError({"status": _("The case is closed.")})
    before = incident.assignee
    if before == assignee:
        return incident
    incident.assignee = assignee
    incident.save(update_fields=["assignee"])
    _event(
        incident,
        actor,
        _("Assigned to %(who)s.") % {"who": assignee} if assignee else _("Unassigned."),
    )
    audit.record(
        actor,
        "incident.assigned",
        incident,
        changes={
            "assignee": [getattr(before, "username", None), getattr(assignee, "username", None)]
        },
        organisation_id=incident.organisation_id,
    )
    return incident


MAX_TAGS = 20


def parse_tags(text: str) -> list[str]:
    """'Ransomware, vpn  apt-41' -> ['apt-41', 'ransomware', 'vpn'] (commas or spaces)."""
    from django.utils.text import slugify

    names = {slugify(word, allow_unicode=True)[:50] for word in text.replace(",", " ").split()}
    names.discard("")
    return sorted(names)


@transaction.atomic
def set_tags(actor: User, incident: Incident, names: Iterable[str]) -> list[str]:
    require(actor, "incident.handle", incident)
    wanted = sorted(set(names))
    if len(wanted) > MAX_TAGS:
        raise ValidationError({"tags": _("At most %(n)d tags.") % {"n": MAX_TAGS}})
    before = sorted(incident.tags.values_list("name", flat=True))
    if before == wanted:
        return wanted
    incident.tags.exclude(name__in=wanted).delete()
    IncidentTag.objects.bulk_create(
        [IncidentTag(incident=incident, name=n) for n in wanted if n not in before]
    )
    audit.record(
        actor,
        "incident.tagged",
        incident,
        changes={"tags": [before, wanted]},
        organisation_id=incident.organisation_id,
    )
    return wanted


@transaction.atomic
def set_indicator_tags(
    actor: User, incident: Incident, indicator_id: int, names: Iterable[str]
) -> list[str]:
    """Tags on one observable of a case, by those who handle the case (as its own tags)."""
    require(actor, "incident.handle", incident)
    indicator = IncidentIndicator.objects.filter(incident=incident, pk=indicator_id).first()
    if indicator is None:
        raise ValidationError({"indicator": _("This case has no such observable.")})
    wanted = sorted(set(names))
    if len(wanted) > MAX_TAGS:
        raise ValidationError({"tags": _("At most %(n)d tags.") % {"n": MAX_TAGS}})
    before = indicator.tag_list
    if before == wanted:
        return wanted
    indicator.tags = " ".join(wanted)
    indicator.save(update_fields=["tags"])
    audit.record(
        actor,
        "incident.indicator_tagged",
        incident,
        changes={"indicator": str(indicator), "tags": [before, wanted]},
        organisation_id=incident.organisation_id,
    )
    return wanted


BULK_ACTIONS = ("assign", "respond")
MAX_BULK = 200


def bulk_act(
    actor: User, incident_ids: Iterable[int], action: str, *, assignee: User | None = None
) -> tuple[list[str], dict[str, str]]:
    """Apply one action to many cases, each through its own service and permission check
    (one transaction per case). Ids the actor cannot see are reported as not found, never
    acted on. Returns the references done and, by reference or id, why the others were
    refused."""
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("Unknown bulk action.")})
    ids = list(dict.fromkeys(int(i) for i in incident_ids))[: MAX_BULK + 1]
    if len(ids) > MAX_BULK:
        raise ValidationError({"action": _("At most %(n)d cases at once.") % {"n": MAX_BULK}})
    visible = {i.pk: i for i in Incident.objects.visible_to(actor).filter(pk__in=ids)}
    done: list[str] = []
    refused: dict[str, str] = {}
    for pk in ids:
        incident = visible.get(pk)
        if incident is None:
            refused[f"#{pk}"] = _("No such incident.")
            continue
        try:
            if action == "assign":
                assign_incident(actor, incident, assignee)
            else:
                start_response(actor, incident)
        except (PermissionDenied, ValidationError) as exc:
            refused[incident.reference] = " ".join(
                getattr(exc, "messages", None) or [str(exc) or _("Not allowed.")]
            )
        else:
            done.append(incident.reference)
    return done, refused


@transaction.atomic
def save_filter(actor: User, name: str, query: str) -> SavedFilter:
    """A person's named queue filter; the same name again replaces it."""
    from django.http import QueryDict

    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Name the filter.")})
    params = QueryDict(query, mutable=True)
    for transient in ("page", "format", "csrfmiddlewaretoken"):
        params.pop(transient, None)
    saved, _created = SavedFilter.objects.update_or_create(
        user=actor, name=name[:100], defaults={"query": params.urlencode()[:1000]}
    )
    audit.record(actor, "incident.filter_saved", saved, changes={"query": saved.query})
    return saved


@transaction.atomic
def delete_filter(actor: User, saved: SavedFilter) -> None:
    require(actor, "incident.delete_filter", saved)
    audit.record(actor, "incident.filter_deleted", saved, changes={"name": saved.name})
    saved.delete()


def parse_template_tasks(text: str) -> list[tuple[int, str]]:
    """'<hours> | <task>' per line -> [(hours, task)]; a line without hours is due in 24 h."""
    tasks = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        hours_text, bar, title = line.partition("|")
        if not bar:
            hours_text, title = "24", line
        try:
            hours = int(hours_text.strip())
        except ValueError:
            raise ValidationError(
                {
                    "tasks": _("Line %(n)d: start with the hours, e.g. '4 | Isolate the host'.")
                    % {"n": number}
                }
            ) from None
        if not 0 < hours <= 24 * 365 or not title.strip():
            raise ValidationError(
                {"tasks": _("Line %(n)d: hours between 1 and 8760, then the task.") % {"n": number}}
            )
        tasks.append((hours, title.strip()[:300]))
    return tasks


@transaction.atomic
def save_case_template(actor: User, rsit_class: str, tasks: str) -> CaseTemplate | None:
    """The CERT keeps one task list per incident class; an empty list removes it."""
    require(actor, "incident.coordinate")
    if rsit_class not in dict(Incident._meta.get_field("rsit_class").choices or []):
        raise ValidationError({"rsit_class": _("Unknown class.")})
    parse_template_tasks(tasks)
    if not tasks.strip():
        CaseTemplate.objects.filter(rsit_class=rsit_class).delete()
        audit.record(
            actor,
            "incident.template_removed",
            None,
            object_type="case_template",
            object_id=rsit_class,
        )
        return None
    template, _created = CaseTemplate.objects.update_or_create(
        rsit_class=rsit_class, defaults={"tasks": tasks.strip(), "updated_by": actor}
    )
    audit.record(actor, "incident.template_saved", template, changes={"tasks": template.tasks})
    return template


def _apply_case_template(actor: User, incident: Incident) -> None:
    template = CaseTemplate.objects.filter(rsit_class=incident.rsit_class).first()
    if template is None:
        return
    now = timezone.now()
    owner = incident.assignee or actor
    tasks = [
        ResponseTask(
            incident=incident,
            title=title,
            owner=owner,
            due_at=now + timedelta(hours=hours),
            created_by=actor,
        )
        for hours, title in parse_template_tasks(template.tasks)
    ]
    ResponseTask.objects.bulk_create(tasks)
    _event(
        incident,
        actor,
        _("%(n)d task(s) added from the %(c)s case template.")
        % {"n": len(tasks), "c": incident.rsit_class},
        TimelineEntry.Kind.TASK,
    )
