"""Statutory clocks: a pure engine (no Django) that turns an incident's recorded
timestamps, level history and jurisdiction profile into the state of every clock.

All arithmetic is in UTC. A clock starts at an anchor event ("aware", "reported",
"reviewed", ...), runs for the duration its profile gives for the incident's current
level (hours, or calendar months), and is met by another event. A change of level is a
new notification: the review clock restarts from it and every duration follows the new
level. An approved extension replaces a clock's due time.
"""

import calendar
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

PROFILE_DIR = Path(__file__).with_name("profiles")
DEFAULT_PROFILE = "tw"


class ClockState(StrEnum):
    PENDING = "pending"  # its starting event has not happened yet
    RUNNING = "running"  # started, not met, not yet due
    MET = "met"  # met on time
    MET_LATE = "met_late"
    OVERDUE = "overdue"
    NOT_APPLICABLE = "not_applicable"  # the profile has no such clock at this level


@dataclass(frozen=True)
class ClockRule:
    key: str
    label: str
    starts: str
    met_by: str
    hours: Mapping[int, float] = field(default_factory=dict)
    months: Mapping[int, int] = field(default_factory=dict)
    extendable: bool = False

    def applies(self, level: int) -> bool:
        return level in self.hours or level in self.months

    def due(self, start: datetime, level: int) -> datetime:
        if level in self.hours:
            return start + timedelta(hours=self.hours[level])
        return add_months(start, self.months[level])


@dataclass(frozen=True)
class Profile:
    code: str
    name: str
    levels: Mapping[int, str]
    clocks: tuple[ClockRule, ...]


@dataclass(frozen=True)
class Clock:
    key: str
    label: str
    state: ClockState
    starts_at: datetime | None = None
    due_at: datetime | None = None
    met_at: datetime | None = None
    extended: bool = False

    def remaining(self, now: datetime) -> timedelta | None:
        """Time left (negative when overdue) for a clock that is still open."""
        if self.due_at is None or self.met_at is not None:
            return None
        return self.due_at - now

    @property
    def is_open(self) -> bool:
        return self.state in (ClockState.RUNNING, ClockState.OVERDUE)


def add_months(moment: datetime, months: int) -> datetime:
    """Same day of the month `months` later, clamped to that month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@cache
def load_profile(code: str = DEFAULT_PROFILE) -> Profile:
    path = PROFILE_DIR / f"{code}.json"
    if not code.replace("-", "").isalnum() or not path.is_file():
        raise KeyError(f"unknown jurisdiction profile {code!r}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    clocks = tuple(
        ClockRule(
            key=c["key"],
            label=c["label"],
            starts=c["starts"],
            met_by=c["met_by"],
            hours={int(k): float(v) for k, v in c.get("hours", {}).items()},
            months={int(k): int(v) for k, v in c.get("months", {}).items()},
            extendable=bool(c.get("extendable", False)),
        )
        for c in raw["clocks"]
    )
    return Profile(raw["code"], raw["name"], {int(k): v for k, v in raw["levels"].items()}, clocks)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


@dataclass(frozen=True)
class LevelChange:
    level: int
    at: datetime
    renotification: bool = True  # False when the reviewer set it as part of the review


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("clock times must be timezone-aware")
    return moment.astimezone(UTC)


def compute(
    profile: Profile,
    events: Mapping[str, datetime | None],
    levels: list[LevelChange],
    *,
    now: datetime,
    extensions: Mapping[str, datetime] | None = None,
) -> list[Clock]:
    """Every clock of the profile for an incident.

    `events` maps event names ("aware", "reported", "reviewed", "forwarded", "recovered",
    "final_report", ...) to when they happened. `levels` is the level history, oldest
    first; the newest entry is the current level. A review only counts as meeting the
    review clock if it came after the latest re-notification.
    """
    now = _utc(now) or now
    ext = {k: _utc(v) for k, v in (extensions or {}).items()}
    history = sorted(levels, key=lambda change: change.at)
    level = history[-1].level if history else min(profile.levels)
    moments = {k: _utc(v) for k, v in events.items()}
    renotified = [c.at for c in history[1:] if c.renotification]
    # A level change is a new notification: the review restarts from the latest one.
    notified = max([moments.get("reported"), *map(_utc, renotified)], default=None, key=_key)
    moments["notified"] = notified
    reviewed = moments.get("reviewed")
    if reviewed is not None and notified is not None and reviewed < notified:
        moments["reviewed"] = None
    clocks = []
    for rule in profile.clocks:
        if not rule.applies(level):
            clocks.append(Clock(rule.key, rule.label, ClockState.NOT_APPLICABLE))
            continue
        start = moments.get(rule.starts)
        met = moments.get(rule.met_by)
        if start is None:
            clocks.append(Clock(rule.key, rule.label, ClockState.PENDING, met_at=met))
            continue
        due = rule.due(start, level)
        extension = ext.get(rule.key) if rule.extendable else None
        extended = extension is not None
        if extension is not None:
            due = max(due, extension)
        if met is not None:
            state = ClockState.MET if met <= due else ClockState.MET_LATE
        else:
            state = ClockState.OVERDUE if now > due else ClockState.RUNNING
        clocks.append(Clock(rule.key, rule.label, state, start, due, met, extended))
    return clocks


def _key(moment: datetime | None) -> datetime:
    return moment or datetime.min.replace(tzinfo=UTC)


def nearest_due(clocks: list[Clock]) -> datetime | None:
    """The earliest due time among open clocks: what sorts the duty officer's queue."""
    open_dues = [c.due_at for c in clocks if c.is_open and c.due_at is not None]
    return min(open_dues) if open_dues else None
