"""What the figures share: the organisation kinds counted as agencies, the cap on a
table's rows, and the small helpers (periods as filters, percentages, changes, names
in the reader's language)."""

from datetime import datetime

from django.db.models import Q
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _

from bulwark.analytics.figure_table import Figure

AGENCY_KINDS = ("government_agency", "authority")
# STIX objects that carry no shared information of their own.
NOT_SHARED_ITEMS = ("marking-definition", "identity", "extension-definition", "relationship")
MAX_GROUPS = 200  # rows in one table (organisations, CERTs); the rest are summed as "Other"


class UnknownFigure(KeyError):
    pass


# --------------------------------------------------------------------------- helpers


def _zh() -> bool:
    return (get_language() or "en").lower().startswith("zh")


def localised_name(en: str | None, zh: str | None) -> str:
    if _zh() and zh:
        return zh
    return en or _("Uncategorised")


def in_period(field: str, start: datetime, end: datetime) -> Q:
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def percent_of(part: float | None, whole: float | None) -> float | None:
    if not whole or part is None:
        return None
    return round(100.0 * part / whole, 1)


def change_percent(now: int, before: int) -> float | None:
    return None if not before else round(100.0 * (now - before) / before, 1)


def as_hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600.0, 1)


def _cap(rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    if len(rows) <= MAX_GROUPS:
        return rows
    rest = sum(n for _label, n in rows[MAX_GROUPS - 1 :])
    return [*rows[: MAX_GROUPS - 1], (_("Other"), rest)]


def share_figure(
    key: str, title: str, dimension: str, counted: list[tuple[str, int]], chart: str, note: str
) -> Figure:
    total = sum(n for _label, n in counted)
    return Figure(
        key=key,
        title=title,
        columns=(dimension, pgettext("statistics", "count"), _("share %")),
        rows=tuple((label, n, percent_of(n, total)) for label, n in _cap(counted)),
        chart=chart,
        note=note,
    )
