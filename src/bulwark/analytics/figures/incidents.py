"""Incident figures: breakdowns by category, level and organisation kind, and any
source's counts month by month."""

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from bulwark.analytics import categories
from bulwark.analytics.figure_table import Figure
from bulwark.analytics.figures.common import UnknownFigure, change_percent, in_period, percent_of
from bulwark.analytics.figures.sources import SOURCES, visible_incidents
from bulwark.analytics.periods import Period, local_zone
from bulwark.constituency.models import OrganisationKind
from bulwark.core.permissions import Reader

# --------------------------------------------------------------------------- incidents


def incident_breakdown(
    key: str,
    title: Any,
    dimension: Any,
    group: tuple[str, ...],
    label: Callable[[tuple[Any, ...]], str],
) -> Callable[..., Figure]:
    def figure(user: Reader, period: Period, *, drills: bool = False) -> Figure:
        def counts(p: Period) -> dict[str, int]:
            grouped = (
                visible_incidents(user, drills)
                .filter(in_period("reported_at", p.start, p.end))
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
            row: tuple[Any, ...] = (item, n, percent_of(n, total), p, change_percent(n, p))
            if compare_year:
                y = last_year.get(item, 0)
                row += (y, change_percent(n, y))
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


def level_label(row: tuple[Any, ...]) -> str:
    return _("Level %(level)s") % {"level": row[0]}


def kind_label(row: tuple[Any, ...]) -> str:

    try:
        return str(OrganisationKind(row[0]).label)
    except ValueError:
        return str(row[0])


def incidents_by_month(user: Reader, period: Period, *, drills: bool = False) -> Figure:
    """All incidents and each level, month by month over the period."""
    months = period.months()
    month = TruncMonth("reported_at", tzinfo=local_zone())
    grouped = (
        visible_incidents(user, drills)
        .filter(in_period("reported_at", period.start, period.end))
        .annotate(month=month)
        .values_list("month", "level")
        .annotate(n=Count("*"))
        .order_by()
    )
    series: dict[str, dict[date, int]] = {}
    for first, level, n in grouped:
        day = first.astimezone(local_zone()).date() if isinstance(first, datetime) else first
        for label in (_("All incidents"), level_label((level,))):
            cells = series.setdefault(label, {})
            cells[day] = cells.get(day, 0) + n
    return series_figure("incidents_by_month", _("Incidents by month"), months, series)


def series_figure(
    key: str, title: str, months: Sequence[date], series: dict[str, dict[date, int]]
) -> Figure:
    columns = (_("series"), *(f"{m.year}-{m.month:02d}" for m in months))
    order = sorted(series, key=lambda s: -sum(series[s].values()))
    rows = tuple((label, *(series[label].get(m, 0) for m in months)) for label in order)
    return Figure(key, title, columns, rows, chart="line")


def monthly(user: Reader, key: str, period: Period, *, drills: bool = False) -> Figure:
    """One of the five figures month by month: a row per category over month columns."""
    source = SOURCES.get(key)
    if source is None:
        raise UnknownFigure(key)
    series = source.monthly(user, period.start, period.end, drills)
    return series_figure(f"{key}_monthly", str(source.title), period.months(), series)
