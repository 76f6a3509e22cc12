"""Statutory timeliness: how many reporting clocks were met, per authority, level or
organisation, and how long they took."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bulwark.analytics.figure_table import Figure
from bulwark.analytics.figures.common import (
    MAX_GROUPS,
    UnknownFigure,
    as_hours,
    in_period,
    localised_name,
    percent_of,
)
from bulwark.analytics.figures.sources import visible_incidents
from bulwark.analytics.periods import Period
from bulwark.analytics.sql import AddMonths, Median, SecondsBetween
from bulwark.core.permissions import Reader
from bulwark.incidents.clocks import available_profiles, load_profile

# --------------------------------------------------------------------------- timeliness

_ANCHORS = {
    "aware": "aware_at",
    "notified": "reported_at",
    "reported": "reported_at",
    "reviewed": "reviewed_at",
    "forwarded": "forwarded_at",
    "recovered": "recovered_at",
    "final_report": "final_report_at",
    "notification_report": "reported_at",
}  # the columns behind Incident.clock_events()
TIMELINESS_CLOCKS = (
    ("notification", gettext_lazy("reported in time %")),
    ("review", gettext_lazy("level reviewed in time %")),
    ("recovery", gettext_lazy("damage control in time %")),
    ("final_report", gettext_lazy("final report in time %")),
)
TIMELINESS_GROUPS = {
    "agency": (("organisation__name",), gettext_lazy("agency")),
    "authority": (("organisation__parent__name",), gettext_lazy("supervising authority")),
    "sector": (
        ("organisation__sector__name", "organisation__sector__name_zh_hant"),
        gettext_lazy("sector"),
    ),
    "all": ((), gettext_lazy("all incidents")),
}


def clock_conditions(clock_key: str, now: datetime) -> tuple[Q, Q]:
    """(on time, counted) for one statutory clock across every jurisdiction profile and
    level: counted = the clock applies and has been met or is already due; on time = met
    no later than its due time (for the final report: the approved extension, if any).
    The review clock is measured from the report (a level change restarts it in the
    clock engine; the statistics keep the first review)."""

    on_time, counted = Q(pk__in=[]), Q(pk__in=[])
    for code in available_profiles():
        for rule in load_profile(code).clocks:
            if rule.key != clock_key:
                continue
            start, met = _ANCHORS[rule.starts], _ANCHORS[rule.met_by]
            for level in sorted(set(rule.hours) | set(rule.months)):
                scope = Q(profile=code, level=level, **{f"{start}__isnull": False})
                if level in rule.hours:
                    span = timedelta(hours=rule.hours[level])
                    due: Any = F(start) + span
                    overdue = Q(**{f"{start}__lt": now - span})
                else:
                    due = AddMonths(F(start), rule.months[level])
                    overdue = Q(**{f"{start}__lt": now - timedelta(days=31 * rule.months[level])})
                if rule.extendable:
                    extended = Q(final_report_extended_to__isnull=False) & Q(
                        **{f"{met}__lte": F("final_report_extended_to")}
                    )
                else:
                    extended = Q(pk__in=[])
                in_time = Q(**{f"{met}__isnull": False}) & (Q(**{f"{met}__lte": due}) | extended)
                on_time |= scope & in_time
                counted |= scope & (Q(**{f"{met}__isnull": False}) | overdue)
    return on_time, counted


def timeliness(
    user: Reader, period: Period, by: str = "authority", *, drills: bool = False
) -> Figure:
    """Statutory timeliness of the incidents reported in the period, per group: the share
    of each clock met on time (among those met or already due) and median times."""
    if by not in TIMELINESS_GROUPS:
        raise UnknownFigure(f"timeliness by {by!r}")
    group, dimension = TIMELINESS_GROUPS[by]
    now = timezone.now()
    aggregates: dict[str, Any] = {"n": Count("*")}
    for key, _label in TIMELINESS_CLOCKS:
        on_time, counted = clock_conditions(key, now)
        aggregates[f"{key}_ok"] = Count("id", filter=on_time)
        aggregates[f"{key}_due"] = Count("id", filter=counted)
    aggregates["report_s"] = Median(SecondsBetween("reported_at", "aware_at"))
    aggregates["review_s"] = Median(SecondsBetween("reviewed_at", "reported_at"))
    aggregates["recover_s"] = Median(SecondsBetween("recovered_at", "aware_at"))
    rows_qs = visible_incidents(user, drills).filter(
        in_period("reported_at", period.start, period.end)
    )
    if group:
        result: Iterable[dict[str, Any]] = rows_qs.values(*group).annotate(**aggregates).order_by()
    else:
        result = [rows_qs.aggregate(**aggregates)]
    rows = []
    for r in result:
        if not r["n"]:
            continue
        if by == "sector":
            label = localised_name(r[group[0]], r[group[1]])
        elif group:
            label = r[group[0]] or _("(none)")
        else:
            label = _("All incidents")
        shares = [percent_of(r[f"{key}_ok"], r[f"{key}_due"]) for key, _label in TIMELINESS_CLOCKS]
        rows.append(
            (
                label,
                r["n"],
                *shares,
                as_hours(r["report_s"]),
                as_hours(r["review_s"]),
                as_hours(r["recover_s"]),
            )
        )
    rows.sort(key=lambda row: (-row[1], row[0]))
    columns = (
        str(dimension),
        _("incidents"),
        *(str(label) for _key, label in TIMELINESS_CLOCKS),
        _("median hours to report"),
        _("median hours to review"),
        _("median hours to recover"),
    )
    return Figure(
        f"timeliness_by_{by}",
        _("Statutory timeliness by %(group)s") % {"group": dimension},
        columns,
        tuple(rows[:MAX_GROUPS]),
        chart="none",
        note=_(
            "Share of each statutory clock met on time among the clocks met or already due; "
            "medians in hours. Drills excluded unless asked."
        ),
    )
