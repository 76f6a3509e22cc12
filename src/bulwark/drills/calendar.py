"""The statutory drills an agency owes in a year, from the jurisdiction profile's data
(`profiles/<code>.json`, like the incident clocks' profiles): for each responsibility
level, how often (in months) each kind of drill is due, and how long after a drill its
results must be reported. Due dates fall at the end of each period, in the platform's
zone; states are computed, never stored."""

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

PROFILES = Path(__file__).with_name("profiles")
DEFAULT_PROFILE = "tw"

DUE = "due"
DONE = "done"
LATE = "late"
MISSING = "missing"


@cache
def load(code: str = DEFAULT_PROFILE) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PROFILES / f"{code}.json").read_text(encoding="utf-8"))
    return data


def levels(code: str = DEFAULT_PROFILE) -> list[str]:
    return sorted(load(code)["levels"])


@dataclass(frozen=True)
class Duty:
    kind: str
    period_start: date
    due_at: datetime
    results_days: int


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def duties(level: str, year: int, code: str = DEFAULT_PROFILE) -> list[Duty]:
    profile = load(code)
    if level not in profile["levels"]:
        raise ValueError(f"unknown responsibility level {level!r}")
    zone = ZoneInfo(settings.TIME_ZONE)
    out = []
    for kind, months in sorted(profile["levels"][level].items()):
        start = date(year, 1, 1)
        while start.year == year:
            end = _add_months(start, int(months))
            due = datetime.combine(end - timedelta(days=1), time(23, 59, 59), zone)
            out.append(Duty(kind, start, due, int(profile["results_within_days"])))
            start = end
    return out


def state(
    due_at: datetime, held_at: datetime | None, results_at: datetime | None,
    results_days: int, now: datetime,
) -> str:  # fmt: skip
    """due: not held yet (or its results not yet reported) and not overdue; done: held
    by the due date and results reported in time; late: held (or results reported) after
    its date; missing: the due date (or the results' date) passed with nothing recorded."""
    if held_at is None:
        return MISSING if now > due_at else DUE
    results_due = held_at + timedelta(days=results_days)
    if results_at is None:
        return MISSING if now > results_due else (LATE if held_at > due_at else DUE)
    if held_at > due_at or results_at > results_due:
        return LATE
    return DONE
