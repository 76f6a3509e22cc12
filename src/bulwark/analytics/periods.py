"""Reporting periods: a year, a quarter, a month or any range of days, in the platform's
time zone (a CERT's "January" is local January), as half-open UTC instants [start, end).
Pure apart from the time zone setting and the language of its error messages."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

MIN_YEAR, MAX_YEAR = 2000, 2100
_YEAR = re.compile(r"\A(\d{4})\Z")
_QUARTER = re.compile(r"\A(\d{4})-?Q([1-4])\Z", re.IGNORECASE)
_MONTH = re.compile(r"\A(\d{4})-(\d{2})\Z")


class BadPeriod(ValueError):
    """A period the user wrote that we cannot read; the message says what is expected."""


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class Period:
    """Local calendar days [first, last] (inclusive), with a label for tables."""

    first: date
    last: date
    label: str
    to_date: bool = False  # the default period: this year up to today

    @property
    def query(self) -> str:
        """URL parameters that name this period again (the label of the year to date,
        `2026 (to 2026-12-07)`, is for people and is not a period `parse` reads)."""
        if self.to_date:
            return ""
        if _YEAR.match(self.label) or _QUARTER.match(self.label) or _MONTH.match(self.label):
            return f"period={self.label}"
        return f"since={self.first.isoformat()}&until={self.last.isoformat()}"

    @property
    def start(self) -> datetime:
        return _local_midnight(self.first)

    @property
    def end(self) -> datetime:
        return _local_midnight(self.last + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def months(self) -> list[date]:
        """The first day of every calendar month the period touches."""
        out, cursor = [], self.first.replace(day=1)
        while cursor <= self.last:
            out.append(cursor)
            cursor = add_months(cursor, 1)
        return out

    def previous(self) -> "Period":
        """The period of the same length just before (quarter before a quarter, ...)."""
        if _is_whole_months(self):
            n = len(self.months())
            first = add_months(self.first, -n)
            return Period(first, self.first - timedelta(days=1), _label(first, n))
        first = self.first - timedelta(days=self.days)
        return Period(first, self.first - timedelta(days=1), f"{first}..{self.first}")

    def year_before(self) -> "Period":
        first, last = _shift_year(self.first, -1), _shift_year(self.last, -1)
        n = len(self.months()) if _is_whole_months(self) else 0
        return Period(first, last, _label(first, n) if n else f"{first}..{last}")


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=local_zone()).astimezone(UTC)


def add_months(day: date, n: int) -> date:
    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _shift_year(day: date, n: int) -> date:
    try:
        return day.replace(year=day.year + n)
    except ValueError:  # 29 February
        return day.replace(year=day.year + n, day=28)


def _is_whole_months(period: Period) -> bool:
    return period.first.day == 1 and (period.last + timedelta(days=1)).day == 1


def _label(first: date, n_months: int) -> str:
    if n_months == 12 and first.month == 1:
        return str(first.year)
    if n_months == 3 and first.month in (1, 4, 7, 10):
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    if n_months == 1:
        return f"{first.year}-{first.month:02d}"
    return f"{first}..{add_months(first, n_months) - timedelta(days=1)}"


def _check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadPeriod(
            _("year %(year)s is outside %(min)s-%(max)s")
            % {"year": year, "min": MIN_YEAR, "max": MAX_YEAR}
        )
    return year


def year(y: int) -> Period:
    _check_year(y)
    return Period(date(y, 1, 1), date(y, 12, 31), str(y))


def parse(text: str | None = None, since: str | None = None, until: str | None = None) -> Period:
    """`period=2025`, `2025-Q3`, `2025-07`, or `since=YYYY-MM-DD&until=YYYY-MM-DD`
    (inclusive days). Without any: the current year to date."""
    if since or until:
        if not (since and until):
            raise BadPeriod(_("give both since and until (YYYY-MM-DD), or a period"))
        try:
            first, last = date.fromisoformat(since[:10]), date.fromisoformat(until[:10])
        except ValueError:
            raise BadPeriod(_("since and until must be dates, YYYY-MM-DD")) from None
        _check_year(first.year)
        _check_year(last.year)
        if last < first:
            raise BadPeriod(_("until is before since"))
        return Period(first, last, f"{first}..{last}")
    if not text:
        today = datetime.now(local_zone()).date()
        return Period(date(today.year, 1, 1), today, f"{today.year} (to {today})", to_date=True)
    text = text.strip()[:20]
    if m := _YEAR.match(text):
        return year(int(m.group(1)))
    if m := _QUARTER.match(text):
        first = date(_check_year(int(m.group(1))), 3 * int(m.group(2)) - 2, 1)
        return Period(first, add_months(first, 3) - timedelta(days=1), _label(first, 3))
    if m := _MONTH.match(text):
        y, mo = _check_year(int(m.group(1))), int(m.group(2))
        if not 1 <= mo <= 12:
            raise BadPeriod(_("month %(month)s does not exist") % {"month": mo})
        first = date(y, mo, 1)
        return Period(first, add_months(first, 1) - timedelta(days=1), _label(first, 1))
    raise BadPeriod(_("period must be YYYY, YYYY-Qn or YYYY-MM (or since/until dates)"))
