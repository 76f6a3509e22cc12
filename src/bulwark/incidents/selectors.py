"""Reads of incident lists shared by the pages and the API: the filters of the queue and
its order. Every function narrows a queryset the caller got from `visible_to`."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from bulwark.core.params import id_param
from bulwark.core.permissions import Reader
from bulwark.core.views import date_param
from bulwark.incidents.models import Incident, IncidentTag, TimelineEntry

# A search word found in more notes than this is not a search; the title, description and
# reference still match in full.
MAX_NOTE_MATCHES = 10_000


def filter_incidents(
    incidents: QuerySet[Incident], params: Any, user: Reader = None
) -> QuerySet[Incident]:
    """Filters shared by the incident pages and the API (`assignee=me` needs the user)."""
    for field in ("status", "rsit_class", "rsit_type", "tlp"):
        if params.get(field):
            incidents = incidents.filter(**{field: str(params[field])[:40]})
    if (level := level_param(params)) is not None:
        incidents = incidents.filter(level=level)
    if (organisation := id_param(params, "organisation")) is not None:
        incidents = incidents.filter(organisation_id=organisation)
    if params.get("sector"):
        incidents = incidents.filter(organisation__sector__code=str(params["sector"])[:50])
    if params.get("drill") in ("0", "1"):
        incidents = incidents.filter(is_drill=params["drill"] == "1")
    if params.get("open") == "1":
        incidents = incidents.exclude(status="closed")
    if (authority := id_param(params, "authority")) is not None:
        incidents = incidents.filter(organisation__parent_id=authority)
    if params.get("tag"):
        tagged = IncidentTag.objects.filter(name=str(params["tag"])[:50].lower())
        incidents = incidents.filter(pk__in=tagged.values("incident_id"))
    if params.get("assignee") == "me" and user is not None:
        incidents = incidents.filter(assignee_id=user.pk)
    elif params.get("assignee") == "none":
        incidents = incidents.filter(assignee__isnull=True)
    elif (assignee := id_param(params, "assignee")) is not None:
        incidents = incidents.filter(assignee_id=assignee)
    if params.get("clock") == "overdue":
        incidents = incidents.filter(next_due_at__lt=timezone.now())
    elif params.get("clock") == "due_24h":
        now = timezone.now()
        incidents = incidents.filter(
            next_due_at__gte=now, next_due_at__lt=now + timedelta(hours=24)
        )
    # Days are local days; compared as instants so that an index on reported_at serves
    # them (`reported_at__date` would convert every row's time zone first).
    since, until = date_param(params.get("since")), date_param(params.get("until"))
    if since:
        incidents = incidents.filter(reported_at__gte=start_of_day(since))
    if until:
        incidents = incidents.filter(reported_at__lt=start_of_day(until, days_after=1))
    if params.get("q"):
        q = str(params["q"])[:200]
        # The notes' matches are fetched first: with `OR id IN (SELECT ...)` PostgreSQL
        # cannot combine the title, description and reference indexes (a full scan).
        # They are looked for among the incidents already chosen (what the viewer sees,
        # filtered): taking the first matches over every incident and then keeping the
        # visible ones could leave out an agency's own cases (issue 21).
        notes = TimelineEntry.objects.filter(text__icontains=q)
        if incidents.query.where:  # narrowed: by what the viewer sees, or by filters
            notes = notes.filter(incident__in=incidents.values("pk"))
        in_notes = list(notes.values_list("incident_id", flat=True).distinct()[:MAX_NOTE_MATCHES])
        incidents = incidents.filter(
            Q(title__icontains=q)
            | Q(description__icontains=q)
            | Q(reference__iexact=q)
            | Q(pk__in=in_notes)
        )
    return incidents


def level_param(params: Any) -> int | None:
    """The `level` filter (1-4); any other number matches no incident."""
    level = id_param(params, "level")
    return None if level is None else min(level, 99)


# The filters IncidentCount's columns answer exactly (any other filter counts rows).
SUMMARY_FILTERS = {"open", "drill", "tlp", "rsit_class", "level"}


def summary_answers(params: Any) -> bool:
    """True when every filter given is one the trigger-kept totals answer exactly."""
    given = {key for key in params if params.get(key)}
    return given <= SUMMARY_FILTERS and params.get("open") in (None, "", "1")


def start_of_day(day: date, days_after: int = 0) -> datetime:
    """Midnight at the start of `day` (plus `days_after`) in the current (display) time
    zone; days beyond any incident (year 1, year 9999) are clamped first, so no date or
    time-zone arithmetic overflows."""
    day = min(max(day, date(1900, 1, 1)), date(9000, 1, 1)) + timedelta(days=days_after)
    return timezone.make_aware(datetime.combine(day, time.min))


def queue_order(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """The duty officer's queue: nearest deadline first, cases without one last."""
    return incidents.order_by(F("next_due_at").asc(nulls_last=True), "-reported_at")


def home_figures(user: Reader) -> dict[str, Any]:
    """The home page's open incidents and open drills (drills are counted apart from real
    incidents everywhere); registered with core in `IncidentsConfig.ready`."""
    open_ones = Incident.objects.visible_to(user).exclude(status="closed")
    return {
        "counts": {
            "open_incidents": open_ones.filter(is_drill=False).count(),
            "open_drills": open_ones.filter(is_drill=True).count(),
        }
    }


# What apps above incidents show on an incident's page, by template name: the dotted path
# of a function (user, incident) -> value, registered from their AppConfig.ready (intel
# adds `correlations`), so incidents imports none of them (docs/architecture.md, "Layers").
DETAIL_PANELS: dict[str, str] = {}


def detail_panels(user: Reader, incident: Incident) -> dict[str, Any]:
    return {name: import_string(path)(user, incident) for name, path in DETAIL_PANELS.items()}
