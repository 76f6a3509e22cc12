"""The sending plan of a campaign: when each message goes out (pure, no Django).

Messages go out in business hours in each agency's time zone (Monday to Friday, a
configurable day window), spread over a number of working days with a random jitter so
that no two agencies see the drill arrive at the same minute, and never more than a set
number of messages per mail domain per hour (a receiving gateway that sees 300 messages
from one sender in a minute quarantines them all, which tests the gateway, not people).
"""

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Window:
    start: datetime  # aware; the first day considered is this day in each zone
    days: int = 3  # working days to spread over
    day_start: time = time(9, 0)
    day_end: time = time(17, 0)
    per_domain_per_hour: int = 60
    seed: int = 0


@dataclass(frozen=True)
class Addressee:
    key: int
    email: str
    zone: str


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def working_days(first: date, count: int) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _slots(window: Window, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The (start, end) of each working day's window in UTC, from the window's start."""
    local_start = window.start.astimezone(zone)
    out: list[tuple[datetime, datetime]] = []
    for day in working_days(local_start.date(), max(window.days, 1) + 1):
        begin = datetime.combine(day, window.day_start, zone)
        end = datetime.combine(day, window.day_end, zone)
        begin = max(begin, local_start)
        if end > begin:
            out.append((begin.astimezone(UTC), end.astimezone(UTC)))
        if len(out) == max(window.days, 1):
            break
    return out


def plan(addressees: Iterable[Addressee], window: Window) -> dict[int, datetime]:
    """Each addressee's send time (UTC). Spread evenly over the working days' windows of
    the addressee's zone, jittered, then pushed to the next free hour of its mail domain
    (inside business hours) when that hour already holds `per_domain_per_hour`."""
    if window.day_end <= window.day_start:
        raise ValueError("the sending window must end after it starts")
    if window.per_domain_per_hour < 1:
        raise ValueError("at least one message per domain per hour")
    rng = random.Random(window.seed)  # noqa: S311  (jitter, not a secret)
    by_zone: dict[str, list[Addressee]] = defaultdict(list)
    for a in addressees:
        by_zone[a.zone].append(a)
    per_hour: dict[tuple[str, datetime], int] = defaultdict(int)
    out: dict[int, datetime] = {}
    for zone_name, people in sorted(by_zone.items()):
        zone = ZoneInfo(zone_name)
        slots = _slots(window, zone)
        total = sum((end - begin).total_seconds() for begin, end in slots)
        rng.shuffle(people)
        step = total / max(len(people), 1)
        for index, person in enumerate(people):
            offset = min(total - 1, index * step + rng.uniform(0, step))
            moment = _at(slots, offset)
            moment = _free_hour(moment, slots, domain_of(person.email), per_hour, window)
            out[person.key] = moment
    return out


def _at(slots: list[tuple[datetime, datetime]], offset: float) -> datetime:
    for begin, end in slots:
        length = (end - begin).total_seconds()
        if offset < length:
            return begin + timedelta(seconds=offset)
        offset -= length
    return slots[-1][1] - timedelta(seconds=1)


def _free_hour(
    moment: datetime,
    slots: list[tuple[datetime, datetime]],
    domain: str,
    per_hour: dict[tuple[str, datetime], int],
    window: Window,
) -> datetime:
    """`moment`, or the first later business-hour moment whose hour has room for
    `domain`. Past the last slot, the plan runs over into further hours of the last day's
    window pattern (the next days at the same hours): never outside business hours."""
    extra = 0
    while True:
        hour = moment.replace(minute=0, second=0, microsecond=0)
        if per_hour[(domain, hour)] < window.per_domain_per_hour:
            per_hour[(domain, hour)] += 1
            return moment
        moment = _next_business_moment(hour + timedelta(hours=1), slots, extra)
        extra += 1


def _next_business_moment(
    candidate: datetime, slots: list[tuple[datetime, datetime]], extra: int
) -> datetime:
    for begin, end in slots:
        if candidate < begin:
            return begin
        if begin <= candidate < end:
            return candidate
    # Beyond the planned days: the same hours on the following working days.
    begin, end = slots[-1]
    while True:
        begin, end = begin + timedelta(days=1), end + timedelta(days=1)
        if begin.weekday() >= 5 and end.weekday() >= 5:
            continue
        if candidate < begin:
            return begin
        if candidate < end:
            return candidate
