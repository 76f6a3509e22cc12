"""What the incident services share: the timeline event, the workflow step, time checks,
the clocks and the next due time, indicators and case templates applied to a case."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import (
    OrganisationKind,
    User,
)
from bulwark.core.observables import InvalidIndicator
from bulwark.incidents import clocks, workflow
from bulwark.incidents import indicators as indicator_rules
from bulwark.incidents.models import (
    CaseTemplate,
    Incident,
    IncidentIndicator,
    ResponseTask,
    TimelineEntry,
)

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
