"""Every figure the CERT reports, counted live in the database.

Each figure starts from `Model.objects.visible_to(user)` of the app that owns the rows,
narrows to the period, and groups in SQL (`GROUP BY` over indexed columns); only the
grouped rows (a few dozen) come back to Python, where RSIT values are folded into the
report's display categories. So a viewer's cells always add up to the records that
viewer can list, and a count never reveals a row the viewer could not open.

`compute(key, user, period)` answers any figure by its key (the API, the web page, the
annual report and the e-mailed summaries all use it).

The registry of dashboards is here; the figures live by subject in `sources` (the
annual report's five), `incidents`, `timeliness` and `flows`, with `common` helpers."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from bulwark.analytics.figure_table import Figure
from bulwark.analytics.figures.common import UnknownFigure, localised_name
from bulwark.analytics.figures.drills import drill_campaigns, drill_compliance, drill_exercises
from bulwark.analytics.figures.flows import advisory_response, case_flow, indicators, notifications
from bulwark.analytics.figures.incidents import (
    incident_breakdown,
    incidents_by_month,
    kind_label,
    level_label,
)
from bulwark.analytics.figures.sources import FIVE, FIVE_SOURCES, SOURCES, Source, five_figures
from bulwark.analytics.figures.timeliness import TIMELINESS_GROUPS, timeliness
from bulwark.analytics.periods import Period
from bulwark.core.permissions import Reader

# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Dashboard:
    key: str
    title: Any
    compute: Callable[..., Figure]
    group: Any


def _source_figure(source: Source) -> Callable[..., Figure]:
    def figure(user: Reader, period: Period, *, drills: bool = False) -> Figure:
        return source.figure(user, period, drills)

    return figure


def _timeliness_by(by: str) -> Callable[..., Figure]:
    def figure(user: Reader, period: Period, *, drills: bool = False) -> Figure:
        return timeliness(user, period, by, drills=drills)

    return figure


GROUP_REPORT = gettext_lazy("The annual report's figures")
GROUP_INCIDENTS = gettext_lazy("Incidents")
GROUP_TIMELINESS = gettext_lazy("Statutory timeliness")
GROUP_ACTIVITY = gettext_lazy("Activity")
GROUP_DRILLS = gettext_lazy("Drills & exercises")
DASHBOARDS: dict[str, Dashboard] = {
    d.key: d
    for d in (
        *(Dashboard(s.key, s.title, _source_figure(s), GROUP_REPORT) for s in FIVE_SOURCES),
        Dashboard(
            "incidents_by_level",
            gettext_lazy("Incidents by level"),
            incident_breakdown(
                "incidents_by_level",
                gettext_lazy("Incidents by level"),
                gettext_lazy("level"),
                ("level",),
                level_label,
            ),
            GROUP_INCIDENTS,
        ),
        Dashboard(
            "incidents_by_sector",
            gettext_lazy("Incidents by sector"),
            incident_breakdown(
                "incidents_by_sector",
                gettext_lazy("Incidents by sector"),
                gettext_lazy("sector"),
                ("organisation__sector__name", "organisation__sector__name_zh_hant"),
                lambda row: localised_name(row[0], row[1]),
            ),
            GROUP_INCIDENTS,
        ),
        Dashboard(
            "incidents_by_agency_type",
            gettext_lazy("Incidents by agency type"),
            incident_breakdown(
                "incidents_by_agency_type",
                gettext_lazy("Incidents by agency type"),
                gettext_lazy("agency type"),
                ("organisation__kind",),
                kind_label,
            ),
            GROUP_INCIDENTS,
        ),
        Dashboard(
            "incidents_by_month",
            gettext_lazy("Incidents by month"),
            incidents_by_month,
            GROUP_INCIDENTS,
        ),
        *(
            Dashboard(
                f"timeliness_by_{by}",
                format_lazy(gettext_lazy("Statutory timeliness by {}"), label),
                _timeliness_by(by),
                GROUP_TIMELINESS,
            )
            for by, (_fields, label) in TIMELINESS_GROUPS.items()
        ),
        Dashboard(
            "case_flow",
            gettext_lazy("Reports received, incidents and coordinated cases"),
            case_flow,
            GROUP_ACTIVITY,
        ),
        Dashboard(
            "notifications",
            gettext_lazy("Notifications sent and acknowledged"),
            notifications,
            GROUP_ACTIVITY,
        ),
        Dashboard(
            "advisory_response",
            gettext_lazy("Advisory acknowledgement and action"),
            advisory_response,
            GROUP_ACTIVITY,
        ),
        Dashboard(
            "indicators",
            gettext_lazy("Indicators shared, sighted and decayed"),
            indicators,
            GROUP_ACTIVITY,
        ),
        Dashboard(
            "drill_campaigns",
            gettext_lazy("Social-engineering campaigns"),
            drill_campaigns,
            GROUP_DRILLS,
        ),
        Dashboard(
            "drill_exercises",
            gettext_lazy("Exercises held and taken part in"),
            drill_exercises,
            GROUP_DRILLS,
        ),
        Dashboard(
            "drill_compliance",
            gettext_lazy("Agencies' statutory drills"),
            drill_compliance,
            GROUP_DRILLS,
        ),
    )
}
KEYS = tuple(DASHBOARDS)


def compute(key: str, user: Reader, period: Period, *, drills: bool = False) -> Figure:
    """The figure `key` for `period`, as `user` may see it."""
    dashboard = DASHBOARDS.get(key)
    if dashboard is None:
        raise UnknownFigure(key)
    return dashboard.compute(user, period, drills=drills)


__all__ = [
    "DASHBOARDS",
    "FIVE",
    "FIVE_SOURCES",
    "GROUP_ACTIVITY",
    "GROUP_DRILLS",
    "GROUP_INCIDENTS",
    "GROUP_REPORT",
    "GROUP_TIMELINESS",
    "KEYS",
    "SOURCES",
    "Dashboard",
    "Figure",
    "Source",
    "UnknownFigure",
    "compute",
    "five_figures",
    "timeliness",
]
