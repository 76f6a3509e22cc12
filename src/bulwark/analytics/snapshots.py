"""Materialised figures: what the pages and the API read.

Counting a year of a million incidents takes the database a second or more; a dashboard
must answer in a fraction of that. So a figure, once counted, is kept as a `Snapshot` for
its scope, period and language, and read while fresh (FRESH_SECONDS). The scheduler's
`refresh_snapshots` task recounts the CERT's common periods before they go stale, so the
CERT never waits; any other period or viewer is counted on first request.

Scopes keep visibility exact: every CERT staff member sees the same rows of every figure
except shared intelligence (TLP:RED reaches named people only, even inside the CERT), so
the CERT shares one scope for all other figures; anyone else has a scope of their own.
Each snapshot is counted through `figures.compute`, i.e. through `visible_to`."""

import logging
import time
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import get_language

from bulwark.analytics import figures, services, trends
from bulwark.analytics.figure_table import Figure
from bulwark.analytics.models import Snapshot
from bulwark.analytics.periods import Period, add_months, local_zone, parse
from bulwark.constituency.access import Viewer, viewer_of
from bulwark.constituency.models import Membership, OrganisationKind, Role
from bulwark.core.permissions import Reader

log = logging.getLogger(__name__)

FRESH_SECONDS = 15 * 60
REFRESH_AFTER_SECONDS = 10 * 60  # the task recounts a CERT snapshot older than this
KEEP_SECONDS = 24 * 3600  # snapshots nobody asked for again are deleted after a day
PER_USER_KEYS = frozenset({"isac_sharing_by_category", "indicators"})


def scope_of(user: Reader, key: str) -> str:
    viewer = viewer_of(user)
    if viewer.sees_everything and key not in PER_USER_KEYS:
        return "cert"
    return personal_scope(viewer)


def personal_scope(viewer: Viewer) -> str:
    """A person's own scope, keyed by what decides their visibility: once a membership or
    role changes (or the hierarchy around them), the figures counted before are never read
    again; they are recounted as the viewer now sees the rows."""
    return f"user:{viewer.user_id}:{viewer.fingerprint}"


def period_id(period: Period) -> str:
    return f"{period.first.isoformat()}..{period.last.isoformat()}"


def _language() -> str:
    return (get_language() or settings.LANGUAGE_CODE).lower()


def _to_json(figure: Figure) -> dict[str, Any]:
    return {
        "key": figure.key,
        "title": figure.title,
        "columns": list(figure.columns),
        "rows": [list(row) for row in figure.rows],
        "chart": figure.chart,
        "note": figure.note,
        "extra": figure.extra,
    }


def _from_json(data: dict[str, Any]) -> Figure:
    return Figure(
        key=data["key"],
        title=data["title"],
        columns=tuple(data["columns"]),
        rows=tuple(tuple(row) for row in data["rows"]),
        chart=data["chart"],
        note=data["note"],
        extra=data.get("extra") or {},
    )


def _count(
    scope: str, key: str, user: Reader, period: Period, drills: bool
) -> tuple[Figure, datetime]:
    started, now = time.perf_counter(), timezone.now()
    figure = figures.compute(key, user, period, drills=drills)
    took = int((time.perf_counter() - started) * 1000)
    ident = {
        "scope": scope,
        "key": key,
        "period": period_id(period),
        "drills": drills,
        "language": _language(),
    }
    services.keep_snapshot(ident, _to_json(figure), now, took)
    return figure, now


def compute(
    key: str, user: Reader, period: Period, *, drills: bool = False
) -> tuple[Figure, datetime]:
    """The figure and when it was counted: a fresh snapshot when there is one, otherwise
    counted now (and kept)."""
    if key not in figures.DASHBOARDS:
        raise figures.UnknownFigure(key)
    scope = scope_of(user, key)
    fresh_after = timezone.now() - timedelta(seconds=FRESH_SECONDS)
    found = (
        Snapshot.objects.visible_to(user)
        .filter(scope=scope, key=key, period=period_id(period), drills=drills, language=_language())
        .filter(computed_at__gte=fresh_after)
        .values_list("figure", "computed_at")
        .first()
    )
    if found is not None:
        return _from_json(found[0]), found[1]
    return _count(scope, key, user, period, drills)


def trend(
    key: str, user: Reader, *, until: date | None, horizon: int, drills: bool = False
) -> tuple[trends.Trend, datetime]:
    """A trend with its forecasts, from a fresh snapshot or counted and fitted now."""
    if key not in figures.SOURCES:
        raise figures.UnknownFigure(key)
    last = min((until or trends.last_full_month()).replace(day=1), trends.last_full_month())
    ident: dict[str, Any] = {
        "scope": scope_of(user, key),
        "key": f"trend:{key}:{horizon}",
        "period": f"..{last.isoformat()}",
        "drills": drills,
        "language": _language(),
    }
    fresh_after = timezone.now() - timedelta(seconds=FRESH_SECONDS)
    found = (
        Snapshot.objects.visible_to(user)
        .filter(**ident, computed_at__gte=fresh_after)
        .values_list("figure", "computed_at")
        .first()
    )
    if found is not None:
        return trends.from_json(found[0]), found[1]
    started, now = time.perf_counter(), timezone.now()
    result = trends.trend(user, key, until=last, horizon=horizon, drills=drills)
    took = int((time.perf_counter() - started) * 1000)
    services.keep_snapshot(ident, trends.to_json(result), now, took)
    return result, now


def common_periods(today: date | None = None) -> list[Period]:
    """The periods the CERT looks at most, as the pages name them: the default (this
    year so far), this and last year, this and last quarter, this and last month."""
    today = today or datetime.now(local_zone()).date()
    quarter = (today.month - 1) // 3 + 1
    last_quarter = add_months(date(today.year, 3 * quarter - 2, 1), -3)
    last_month = add_months(today.replace(day=1), -1)
    return [
        parse(),
        parse(str(today.year)),
        parse(str(today.year - 1)),
        parse(f"{today.year}-Q{quarter}"),
        parse(f"{last_quarter.year}-Q{(last_quarter.month - 1) // 3 + 1}"),
        parse(f"{today.year}-{today.month:02d}"),
        parse(f"{last_month.year}-{last_month.month:02d}"),
    ]


def refresh(today: date | None = None, *, force: bool = False) -> int:
    """Recount the CERT's shared snapshots of the common periods that are older than
    REFRESH_AFTER_SECONDS (all of them with `force`), in the platform's default language,
    and delete snapshots nobody read for a day. Returns the number recounted."""

    staff = (
        Membership.objects.filter(
            organisation__kind=OrganisationKind.NATIONAL_CERT,
            organisation__is_active=True,
            user__is_active=True,
            role__in=[Role.DUTY_OFFICER, Role.ANALYST, Role.PLATFORM_ADMIN],
        )
        .select_related("user")
        .first()
    )
    # Old snapshots go first, whether or not there is a CERT to recount for.
    services.prune_snapshots(timezone.now() - timedelta(seconds=KEEP_SECONDS))
    if staff is None:
        return 0
    user = staff.user
    cutoff = timezone.now() - timedelta(seconds=REFRESH_AFTER_SECONDS)
    recounted = 0
    with translation.override(settings.LANGUAGE_CODE):
        language = _language()
        current = {
            (key, period): at
            for key, period, at in Snapshot.objects.filter(
                scope="cert", language=language, drills=False
            ).values_list("key", "period", "computed_at")
        }
        for period in common_periods(today):
            for key in figures.DASHBOARDS:
                if key in PER_USER_KEYS:
                    continue
                at = current.get((key, period_id(period)))
                if not force and at is not None and at >= cutoff:
                    continue
                _count("cert", key, user, period, False)
                recounted += 1
    return recounted
