"""Every figure the CERT reports, counted live in the database.

Each figure starts from `Model.objects.visible_to(user)` of the app that owns the rows,
narrows to the period, and groups in SQL (`GROUP BY` over indexed columns); only the
grouped rows (a few dozen) come back to Python, where RSIT values are folded into the
report's display categories. So a viewer's cells always add up to the records that
viewer can list, and a count never reveals a row the viewer could not open.

`compute(key, user, period)` answers any figure by its key (the API, the web page, the
annual report and the e-mailed summaries all use it)."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _

from bulwark.analytics import categories
from bulwark.analytics.figure_table import Figure
from bulwark.analytics.periods import Period, local_zone
from bulwark.analytics.sql import AddMonths, Median, SecondsBetween

AGENCY_KINDS = ("government_agency", "authority")
# STIX objects that carry no shared information of their own.
NOT_SHARED_ITEMS = ("marking-definition", "identity", "extension-definition", "relationship")
MAX_GROUPS = 200  # rows in one table (organisations, CERTs); the rest are summed as "Other"


class UnknownFigure(KeyError):
    pass


# --------------------------------------------------------------------------- helpers


def _zh() -> bool:
    return (get_language() or "en").lower().startswith("zh")


def _name(en: str | None, zh: str | None) -> str:
    if _zh() and zh:
        return zh
    return en or _("Uncategorised")


def _in(field: str, start: datetime, end: datetime) -> Q:
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def _pct(part: float | None, whole: float | None) -> float | None:
    if not whole or part is None:
        return None
    return round(100.0 * part / whole, 1)


def _change(now: int, before: int) -> float | None:
    return None if not before else round(100.0 * (now - before) / before, 1)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600.0, 1)


def _cap(rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    if len(rows) <= MAX_GROUPS:
        return rows
    rest = sum(n for _label, n in rows[MAX_GROUPS - 1 :])
    return [*rows[: MAX_GROUPS - 1], (_("Other"), rest)]


def _share_figure(
    key: str, title: str, dimension: str, counted: list[tuple[str, int]], chart: str, note: str
) -> Figure:
    total = sum(n for _label, n in counted)
    return Figure(
        key=key,
        title=title,
        columns=(dimension, pgettext("statistics", "count"), _("share %")),
        rows=tuple((label, n, _pct(n, total)) for label, n in _cap(counted)),
        chart=chart,
        note=note,
    )


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
        self, user: Any, start: datetime, end: datetime, drills: bool
    ) -> list[tuple[str, int]]:
        grouped = (
            self.rows(user, drills)
            .filter(_in(self.date_field, start, end))
            .values_list(*self.group)
            .annotate(n=self.measure())
            .order_by()
        )
        return categories.fold((self.label(row[:-1]), row[-1]) for row in grouped)

    def monthly(
        self, user: Any, start: datetime, end: datetime, drills: bool
    ) -> dict[str, dict[date, int]]:
        month = TruncMonth(self.date_field, tzinfo=local_zone())
        grouped = (
            self.rows(user, drills)
            .filter(_in(self.date_field, start, end))
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

    def figure(self, user: Any, period: Period, drills: bool) -> Figure:
        return _share_figure(
            self.key,
            str(self.title),
            str(self.dimension),
            self.counts(user, period.start, period.end, drills),
            self.chart,
            str(self.note),
        )


def _incidents(user: Any, drills: bool) -> QuerySet[Any]:
    from bulwark.incidents.models import Incident

    rows = Incident.objects.visible_to(user)
    return rows if drills else rows.filter(is_drill=False)


def _agency_incidents(user: Any, drills: bool) -> QuerySet[Any]:
    return _incidents(user, drills).filter(organisation__kind__in=AGENCY_KINDS)


def _foreign_events(user: Any, drills: bool) -> QuerySet[Any]:
    from bulwark.exchange.models import Event

    # "Reports from foreign CERTs": events of reports that carry the sending CERT's ticket
    # (X-ARF, IODEF, a CERT's mail), flagged when the report was read.
    return Event.objects.visible_to(user).filter(from_foreign=True)


def _shared_items(user: Any, drills: bool) -> QuerySet[Any]:
    from bulwark.intel.models import Status, StixObject

    return (
        StixObject.objects.visible_to(user)
        .filter(is_latest=True, status=Status.PUBLISHED)
        .exclude(type__in=NOT_SHARED_ITEMS)
    )


def _sent_advisories(user: Any, drills: bool) -> QuerySet[Any]:
    from bulwark.advisories.models import Advisory, Status

    return Advisory.objects.visible_to(user).filter(status=Status.SENT)


def _to_foreign_certs(user: Any, drills: bool) -> QuerySet[Any]:
    from bulwark.constituency.models import OrganisationKind
    from bulwark.exchange.models import EventNotice

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
        label=lambda row: _name(row[0], row[1]),
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
        label=lambda row: _name(row[0], row[1]),
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


def five_figures(user: Any, period: Period, *, drills: bool = False) -> list[Figure]:
    """The annual report's five figures, in the report's order."""
    return [source.figure(user, period, drills) for source in FIVE_SOURCES]


# --------------------------------------------------------------------------- incidents


def _incident_breakdown(
    key: str,
    title: Any,
    dimension: Any,
    group: tuple[str, ...],
    label: Callable[[tuple[Any, ...]], str],
) -> Callable[..., Figure]:
    def figure(user: Any, period: Period, *, drills: bool = False) -> Figure:
        def counts(p: Period) -> dict[str, int]:
            grouped = (
                _incidents(user, drills)
                .filter(_in("reported_at", p.start, p.end))
                .values_list(*group)
                .annotate(n=Count("*"))
                .order_by()
            )
            return dict(categories.fold((label(row[:-1]), row[-1]) for row in grouped))

        now, before, year_before = period, period.previous(), period.year_before()
        current, previous = counts(now), counts(before)
        compare_year = year_before.first != before.first
        last_year = counts(year_before) if compare_year else previous
        total = sum(current.values())
        labels = sorted(
            set(current) | set(previous) | set(last_year), key=lambda k: (-current.get(k, 0), k)
        )
        columns: tuple[str, ...] = (
            str(dimension),
            now.label,
            _("share %"),
            before.label,
            _("change %"),
        )
        if compare_year:
            columns += (year_before.label, _("year-on-year %"))
        rows = []
        for item in labels:
            n, p = current.get(item, 0), previous.get(item, 0)
            row: tuple[Any, ...] = (item, n, _pct(n, total), p, _change(n, p))
            if compare_year:
                y = last_year.get(item, 0)
                row += (y, _change(n, y))
            rows.append(row)
        return Figure(
            key,
            str(title),
            columns,
            tuple(rows),
            chart="bar",
            note=_(
                "Compared with the period before and the same period a year earlier; "
                "drills excluded unless asked."
            ),
        )

    return figure


def _level_label(row: tuple[Any, ...]) -> str:
    return _("Level %(level)s") % {"level": row[0]}


def _kind_label(row: tuple[Any, ...]) -> str:
    from bulwark.constituency.models import OrganisationKind

    try:
        return str(OrganisationKind(row[0]).label)
    except ValueError:
        return str(row[0])


def incidents_by_month(user: Any, period: Period, *, drills: bool = False) -> Figure:
    """All incidents and each level, month by month over the period."""
    months = period.months()
    month = TruncMonth("reported_at", tzinfo=local_zone())
    grouped = (
        _incidents(user, drills)
        .filter(_in("reported_at", period.start, period.end))
        .annotate(month=month)
        .values_list("month", "level")
        .annotate(n=Count("*"))
        .order_by()
    )
    series: dict[str, dict[date, int]] = {}
    for first, level, n in grouped:
        day = first.astimezone(local_zone()).date() if isinstance(first, datetime) else first
        for label in (_("All incidents"), _level_label((level,))):
            cells = series.setdefault(label, {})
            cells[day] = cells.get(day, 0) + n
    return _series_figure("incidents_by_month", _("Incidents by month"), months, series)


def _series_figure(
    key: str, title: str, months: Sequence[date], series: dict[str, dict[date, int]]
) -> Figure:
    columns = (_("series"), *(f"{m.year}-{m.month:02d}" for m in months))
    order = sorted(series, key=lambda s: -sum(series[s].values()))
    rows = tuple((label, *(series[label].get(m, 0) for m in months)) for label in order)
    return Figure(key, title, columns, rows, chart="line")


def monthly(user: Any, key: str, period: Period, *, drills: bool = False) -> Figure:
    """One of the five figures month by month: a row per category over month columns."""
    source = SOURCES.get(key)
    if source is None:
        raise UnknownFigure(key)
    series = source.monthly(user, period.start, period.end, drills)
    return _series_figure(f"{key}_monthly", str(source.title), period.months(), series)


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
    from bulwark.incidents.clocks import available_profiles, load_profile

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


def timeliness(user: Any, period: Period, by: str = "authority", *, drills: bool = False) -> Figure:
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
    rows_qs = _incidents(user, drills).filter(_in("reported_at", period.start, period.end))
    if group:
        result: Iterable[dict[str, Any]] = rows_qs.values(*group).annotate(**aggregates).order_by()
    else:
        result = [rows_qs.aggregate(**aggregates)]
    rows = []
    for r in result:
        if not r["n"]:
            continue
        if by == "sector":
            label = _name(r[group[0]], r[group[1]])
        elif group:
            label = r[group[0]] or _("(none)")
        else:
            label = _("All incidents")
        shares = [_pct(r[f"{key}_ok"], r[f"{key}_due"]) for key, _label in TIMELINESS_CLOCKS]
        rows.append(
            (
                label,
                r["n"],
                *shares,
                _hours(r["report_s"]),
                _hours(r["review_s"]),
                _hours(r["recover_s"]),
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


# --------------------------------------------------------------------------- flows


def case_flow(user: Any, period: Period, *, drills: bool = False) -> Figure:
    """Reports received (exchange) vs incidents reported vs coordinated cases (incidents
    referred to another organisation), month by month."""
    from bulwark.exchange.models import Report
    from bulwark.incidents.models import Referral

    months = period.months()
    zone = local_zone()

    def by_month(rows: QuerySet[Any], field: str) -> dict[date, int]:
        grouped = (
            rows.filter(_in(field, period.start, period.end))
            .annotate(month=TruncMonth(field, tzinfo=zone))
            .values_list("month")
            .annotate(n=Count("*"))
            .order_by()
        )
        return {m.astimezone(zone).date() if isinstance(m, datetime) else m: n for m, n in grouped}

    incidents = _incidents(user, drills)
    referred = Referral.objects.filter(incident_id=OuterRef("pk"))
    series = {
        _("Reports received"): by_month(Report.objects.visible_to(user), "received_at"),
        _("Incidents reported"): by_month(incidents, "reported_at"),
        _("Coordinated cases"): by_month(incidents.filter(Exists(referred)), "reported_at"),
    }
    figure = _series_figure(
        "case_flow", _("Reports received, incidents and coordinated cases"), months, series
    )
    # Keep the three series in their natural order, zeros included.
    order = list(series)
    rows = tuple(sorted(figure.rows, key=lambda row: order.index(row[0])))
    return Figure(
        figure.key,
        figure.title,
        figure.columns,
        rows,
        chart="line",
        note=_(
            "Received reports are counted for CERT staff only "
            "(raw reports name other organisations)."
        ),
    )


def notifications(user: Any, period: Period, *, drills: bool = False) -> Figure:
    """Report-exchange notifications sent in the period by recipient type: sent, bounced,
    acknowledged (answered by the recipient)."""
    from bulwark.exchange.models import EventNotice, NotificationReply

    replied = Exists(
        NotificationReply.objects.filter(notification_id=OuterRef("pk"), is_bounce=False)
    )
    grouped = (
        EventNotice.objects.visible_to(user)
        .filter(_in("created_at", period.start, period.end))
        .annotate(replied=replied)
        .values_list("recipient__kind")
        .annotate(
            n=Count("*"),
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            bounced=Count("id", filter=Q(status=EventNotice.Status.BOUNCED)),
            failed=Count("id", filter=Q(status=EventNotice.Status.FAILED)),
            answered=Count("id", filter=Q(replied=True)),
        )
        .order_by()
    )
    rows = sorted(
        (
            (_kind_label((kind,)), n, sent, bounced, failed, answered, _pct(answered, sent))
            for kind, n, sent, bounced, failed, answered in grouped
        ),
        key=lambda row: (-row[1], row[0]),
    )
    columns = (
        _("recipient type"),
        _("notifications"),
        _("sent"),
        _("bounced"),
        _("failed"),
        _("acknowledged"),
        _("acknowledged %"),
    )
    return Figure(
        "notifications", _("Notifications sent and acknowledged"), columns, tuple(rows), chart="bar"
    )


def advisory_response(user: Any, period: Period, *, drills: bool = False) -> Figure:
    """For the advisories sent in the period, by category: how many recipients
    acknowledged and acted, and the median time to acknowledge."""
    from bulwark.advisories.models import Status, Target

    grouped = (
        Target.objects.visible_to(user)
        .filter(advisory__status=Status.SENT)
        .filter(_in("advisory__sent_at", period.start, period.end))
        .values_list("advisory__category__name", "advisory__category__name_zh_hant")
        .annotate(
            n=Count("*"),
            ack=Count("id", filter=Q(acknowledged_at__isnull=False)),
            acted=Count("id", filter=~Q(action="")),
            median=Median(SecondsBetween("acknowledged_at", "advisory__sent_at")),
        )
        .order_by()
    )
    merged: dict[str, list[Any]] = {}
    for name, name_zh, n, ack, acted, median in grouped:
        label = _name(name, name_zh)
        cell = merged.setdefault(label, [0, 0, 0, median])
        cell[0] += n
        cell[1] += ack
        cell[2] += acted
    rows = sorted(
        (
            (label, n, ack, _pct(ack, n), acted, _pct(acted, n), _hours(median))
            for label, (n, ack, acted, median) in merged.items()
        ),
        key=lambda row: (-row[1], row[0]),
    )
    columns = (
        _("category"),
        _("recipients"),
        _("acknowledged"),
        _("acknowledged %"),
        _("acted"),
        _("acted %"),
        _("median hours to acknowledge"),
    )
    return Figure(
        "advisory_response",
        _("Advisory acknowledgement and action"),
        columns,
        tuple(rows),
        chart="bar",
    )


def indicators(user: Any, period: Period, *, drills: bool = False) -> Figure:
    """Indicators shared in the period, values sighted in it, and indicators that
    decayed in it (their validity ended: valid_until, or the value type's lifetime since
    valid_from when the source set none), by value type."""
    from bulwark.intel.decay import DEFAULT_LIFETIME_DAYS, LIFETIME_DAYS
    from bulwark.intel.models import Indicator, Sighting

    visible = Indicator.objects.visible_to(user).filter(stix_object__is_latest=True)
    shared = dict(
        visible.filter(_in("stix_object__date_added", period.start, period.end))
        .values_list("kind")
        .annotate(n=Count("*"))
        .order_by()
    )
    sighted_rows = (
        Sighting.objects.visible_to(user)
        .filter(false_positive=False)
        .filter(_in("last_seen", period.start, period.end))
        .values_list("value__kind")
        .annotate(values=Count("value_id", distinct=True), n=Sum("count"))
        .order_by()
    )
    sighted = {kind: (values, n) for kind, values, n in sighted_rows}
    ended = Q(valid_until__isnull=False) & _in("valid_until", period.start, period.end)
    for kind, days in LIFETIME_DAYS.items():
        ended |= Q(valid_until__isnull=True, kind=kind) & _in(
            "valid_from", period.start - timedelta(days=days), period.end - timedelta(days=days)
        )
    ended |= (
        Q(valid_until__isnull=True)
        & ~Q(kind__in=list(LIFETIME_DAYS))
        & _in(
            "valid_from",
            period.start - timedelta(days=DEFAULT_LIFETIME_DAYS),
            period.end - timedelta(days=DEFAULT_LIFETIME_DAYS),
        )
    )
    decayed = dict(visible.filter(ended).values_list("kind").annotate(n=Count("*")).order_by())
    kinds = sorted(set(shared) | set(sighted) | set(decayed), key=lambda k: (-shared.get(k, 0), k))
    rows = tuple(
        (
            kind or _("(unknown)"),
            shared.get(kind, 0),
            *sighted.get(kind, (0, 0)),
            decayed.get(kind, 0),
        )
        for kind in kinds
    )
    columns = (
        _("value type"),
        _("indicators shared"),
        _("values sighted"),
        _("sightings"),
        _("indicators decayed"),
    )
    return Figure(
        "indicators", _("Indicators shared, sighted and decayed"), columns, rows, chart="bar"
    )


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Dashboard:
    key: str
    title: Any
    compute: Callable[..., Figure]
    group: Any


def _source_figure(source: Source) -> Callable[..., Figure]:
    def figure(user: Any, period: Period, *, drills: bool = False) -> Figure:
        return source.figure(user, period, drills)

    return figure


def _timeliness_by(by: str) -> Callable[..., Figure]:
    def figure(user: Any, period: Period, *, drills: bool = False) -> Figure:
        return timeliness(user, period, by, drills=drills)

    return figure


GROUP_REPORT = gettext_lazy("The annual report's figures")
GROUP_INCIDENTS = gettext_lazy("Incidents")
GROUP_TIMELINESS = gettext_lazy("Statutory timeliness")
GROUP_ACTIVITY = gettext_lazy("Activity")
DASHBOARDS: dict[str, Dashboard] = {
    d.key: d
    for d in (
        *(Dashboard(s.key, s.title, _source_figure(s), GROUP_REPORT) for s in FIVE_SOURCES),
        Dashboard(
            "incidents_by_level",
            gettext_lazy("Incidents by level"),
            _incident_breakdown(
                "incidents_by_level",
                gettext_lazy("Incidents by level"),
                gettext_lazy("level"),
                ("level",),
                _level_label,
            ),
            GROUP_INCIDENTS,
        ),
        Dashboard(
            "incidents_by_sector",
            gettext_lazy("Incidents by sector"),
            _incident_breakdown(
                "incidents_by_sector",
                gettext_lazy("Incidents by sector"),
                gettext_lazy("sector"),
                ("organisation__sector__name", "organisation__sector__name_zh_hant"),
                lambda row: _name(row[0], row[1]),
            ),
            GROUP_INCIDENTS,
        ),
        Dashboard(
            "incidents_by_agency_type",
            gettext_lazy("Incidents by agency type"),
            _incident_breakdown(
                "incidents_by_agency_type",
                gettext_lazy("Incidents by agency type"),
                gettext_lazy("agency type"),
                ("organisation__kind",),
                _kind_label,
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
    )
}
KEYS = tuple(DASHBOARDS)


def compute(key: str, user: Any, period: Period, *, drills: bool = False) -> Figure:
    """The figure `key` for `period`, as `user` may see it."""
    dashboard = DASHBOARDS.get(key)
    if dashboard is None:
        raise UnknownFigure(key)
    return dashboard.compute(user, period, drills=drills)
