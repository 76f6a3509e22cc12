"""The annual report's five figures, each a `Source`: a visible, filtered queryset, the
date column that places a row in a period, its grouping and labels."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext_lazy

from bulwark.advisories.models import Advisory
from bulwark.advisories.models import Status as AdvisoryStatus
from bulwark.analytics import categories
from bulwark.analytics.figure_table import Figure
from bulwark.analytics.figures.common import (
    AGENCY_KINDS,
    NOT_SHARED_ITEMS,
    in_period,
    localised_name,
    share_figure,
)
from bulwark.analytics.periods import Period, local_zone
from bulwark.constituency.models import OrganisationKind
from bulwark.core.permissions import Reader
from bulwark.exchange.models import Event, EventNotice
from bulwark.incidents.models import Incident
from bulwark.intel.models import Status as IntelStatus
from bulwark.intel.models import StixObject

# --------------------------------------------------------------------------- sources
# A source is a visible, filtered queryset with the date column that places a row in a
# period, the columns it is grouped by, how a group is labelled and what is summed.


@dataclass(frozen=True)
class Source:
    key: str
    title: Any  # lazy translation
    dimension: Any
    rows: Callable[[Any, bool], QuerySet[Any]]
    date_field: str
    group: tuple[str, ...]
    label: Callable[[tuple[Any, ...]], str]
    measure: Callable[[], Any] = lambda: Count("*")
    chart: str = "pie"
    note: Any = ""

    def counts(
        self, user: Reader, start: datetime, end: datetime, drills: bool
    ) -> list[tuple[str, int]]:
        grouped = (
            self.rows(user, drills)
            .filter(in_period(self.date_field, start, end))
            .values_list(*self.group)
            .annotate(n=self.measure())
            .order_by()
        )
        return categories.fold((self.label(row[:-1]), row[-1]) for row in grouped)

    def monthly(
        self, user: Reader, start: datetime, end: datetime, drills: bool
    ) -> dict[str, dict[date, int]]:
        month = TruncMonth(self.date_field, tzinfo=local_zone())
        grouped = (
            self.rows(user, drills)
            .filter(in_period(self.date_field, start, end))
            .annotate(month=month)
            .values_list("month", *self.group)
            .annotate(n=self.measure())
            .order_by()
        )
        series: dict[str, dict[date, int]] = {}
        for row in grouped:
            first = (
                row[0].astimezone(local_zone()).date() if isinstance(row[0], datetime) else row[0]
            )
            cells = series.setdefault(self.label(row[1:-1]), {})
            cells[first] = cells.get(first, 0) + int(row[-1] or 0)
        return series

    def figure(self, user: Reader, period: Period, drills: bool) -> Figure:
        return share_figure(
            self.key,
            str(self.title),
            str(self.dimension),
            self.counts(user, period.start, period.end, drills),
            self.chart,
            str(self.note),
        )


def visible_incidents(user: Reader, drills: bool) -> QuerySet[Any]:

    rows = Incident.objects.visible_to(user)
    return rows if drills else rows.filter(is_drill=False)


def _agency_incidents(user: Reader, drills: bool) -> QuerySet[Any]:
    return visible_incidents(user, drills).filter(organisation__kind__in=AGENCY_KINDS)


def _foreign_events(user: Reader, drills: bool) -> QuerySet[Any]:

    # "Reports from foreign CERTs": events of reports that carry the sending CERT's ticket
    # (X-ARF, IODEF, a CERT's mail), flagged when the report was read.
    return Event.objects.visible_to(user).filter(from_foreign=True)


def _shared_items(user: Reader, drills: bool) -> QuerySet[Any]:

    return (
        StixObject.objects.visible_to(user)
        .filter(is_latest=True, status=IntelStatus.PUBLISHED)
        .exclude(type__in=NOT_SHARED_ITEMS)
    )


def _sent_advisories(user: Reader, drills: bool) -> QuerySet[Any]:

    return Advisory.objects.visible_to(user).filter(status=AdvisoryStatus.SENT)


def _to_foreign_certs(user: Reader, drills: bool) -> QuerySet[Any]:

    return EventNotice.objects.visible_to(user).filter(
        recipient__kind=OrganisationKind.FOREIGN_CERT, sent_at__isnull=False
    )


def _cert_label(row: tuple[Any, ...]) -> str:
    name, country = row
    return f"{name} ({country})" if country else str(name)


FIVE_SOURCES: tuple[Source, ...] = (
    Source(
        key="incidents_by_category",
        title=gettext_lazy("Security incidents from government agencies"),
        dimension=gettext_lazy("category"),
        rows=_agency_incidents,
        date_field="reported_at",
        group=("rsit_class",),
        label=lambda row: categories.incident_category(row[0]),
        note=gettext_lazy(
            "Incidents reported by government agencies and authorities; drills excluded."
        ),
    ),
    Source(
        key="foreign_reports_by_category",
        title=gettext_lazy("Category of international incident reports"),
        dimension=gettext_lazy("category"),
        rows=_foreign_events,
        date_field="time_observation",
        group=("classification_type",),
        label=lambda row: categories.event_category(row[0]),
        note=gettext_lazy("Events in reports received from foreign CERTs, by the time received."),
    ),
    Source(
        key="isac_sharing_by_category",
        title=gettext_lazy("Distribution of ISAC information sharing"),
        dimension=gettext_lazy("category"),
        rows=_shared_items,
        date_field="date_added",
        group=("category__name", "category__name_zh_hant"),
        label=lambda row: localised_name(row[0], row[1]),
        note=gettext_lazy(
            "Published STIX objects shared by members and the CERT (latest versions)."
        ),
    ),
    Source(
        key="advisories_by_category",
        title=gettext_lazy("Distribution of government notice advisories"),
        dimension=gettext_lazy("category"),
        rows=_sent_advisories,
        date_field="sent_at",
        group=("category__name", "category__name_zh_hant"),
        label=lambda row: localised_name(row[0], row[1]),
        note=gettext_lazy("Advisories sent to agencies, by the time sent."),
    ),
    Source(
        key="shared_with_foreign_certs",
        title=gettext_lazy("International incident report sharing"),
        dimension=gettext_lazy("CERT"),
        rows=_to_foreign_certs,
        date_field="sent_at",
        group=("recipient__name", "recipient__country"),
        label=_cert_label,
        measure=lambda: Sum("event_count"),
        chart="barh",
        note=gettext_lazy("Incident reports (events) sent to foreign CERTs, by the time sent."),
    ),
)
FIVE = tuple(source.key for source in FIVE_SOURCES)
SOURCES = {source.key: source for source in FIVE_SOURCES}


def five_figures(user: Reader, period: Period, *, drills: bool = False) -> list[Figure]:
    """The annual report's five figures, in the report's order."""
    return [source.figure(user, period, drills) for source in FIVE_SOURCES]
