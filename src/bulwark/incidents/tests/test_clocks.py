"""The clock table: each row is an incident's recorded times and the state every clock
must be in. Times are UTC; the expectations come from the regulation (DOMAIN.md s.2)."""

from datetime import UTC, datetime, timedelta

import pytest

from bulwark.incidents.clocks import (
    ClockState,
    LevelChange,
    add_months,
    available_profiles,
    compute,
    load_profile,
    nearest_due,
)

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # awareness
H = timedelta(hours=1)
S = ClockState


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def states(events: dict, levels: list[LevelChange], now: datetime, **kw: object) -> dict[str, S]:
    clocks = compute(load_profile("tw"), events, levels, now=now, **kw)  # type: ignore[arg-type]
    return {c.key: c.state for c in clocks}


CASES = [
    # (name, events in hours after awareness, level history [(level, hours)], now, expected)
    (
        "L1 reported in 40 min, nothing else yet",
        {"aware": 0, "reported": 0.67},
        [(1, 0.67)],
        2,
        {
            "notification": S.MET,
            "review": S.RUNNING,
            "forwarding": S.NOT_APPLICABLE,
            "recovery": S.RUNNING,
            "final_report": S.PENDING,
        },
    ),
    (
        "L1 reported after 90 min is late",
        {"aware": 0, "reported": 1.5},
        [(1, 1.5)],
        2,
        {"notification": S.MET_LATE},
    ),
    (
        "not reported after 2 h is overdue",
        {"aware": 0},
        [(2, 0)],
        2,
        {"notification": S.OVERDUE, "review": S.PENDING},
    ),
    (
        "L2 review within 8 h is met, L2 has no forwarding clock",
        {"aware": 0, "reported": 0.5, "reviewed": 8.4},
        [(2, 0.5)],
        9,
        {"review": S.MET, "forwarding": S.NOT_APPLICABLE},
    ),
    (
        "L3 review must come within 2 h",
        {"aware": 0, "reported": 0.5, "reviewed": 3},
        [(3, 0.5)],
        4.5,
        {"review": S.MET_LATE, "forwarding": S.OVERDUE},
    ),
    (
        "L3 forwarding within 1 h of the review",
        {"aware": 0, "reported": 0.5, "reviewed": 2, "forwarded": 2.9},
        [(3, 0.5)],
        4,
        {"review": S.MET, "forwarding": S.MET},
    ),
    (
        "L1 recovery within 72 h",
        {"aware": 0, "reported": 0.5, "reviewed": 1, "recovered": 71},
        [(1, 0.5)],
        100,
        {"recovery": S.MET, "final_report": S.RUNNING},
    ),
    (
        "L4 recovery allows only 36 h",
        {"aware": 0, "reported": 0.5, "reviewed": 1, "forwarded": 1.5, "recovered": 40},
        [(4, 0.5)],
        100,
        {"recovery": S.MET_LATE},
    ),
    (
        "upgrade from L1 to L3 re-notifies: the review restarts and recovery shrinks to 36 h",
        {"aware": 0, "reported": 0.5, "reviewed": 1},
        [(1, 0.5), (3, 10)],
        11,
        {"review": S.RUNNING, "recovery": S.RUNNING, "forwarding": S.PENDING},
    ),
    (
        "after the upgrade, recovery at 50 h is late for L3",
        {"aware": 0, "reported": 0.5, "reviewed": 11, "forwarded": 11.5, "recovered": 50},
        [(1, 0.5), (3, 10)],
        60,
        {"review": S.MET, "recovery": S.MET_LATE, "forwarding": S.MET},
    ),
    (
        "a reviewer's own level change is the review, not a new notification",
        {"aware": 0, "reported": 0.5, "reviewed": 1.5},
        [(2, 0.5), LevelChange(3, T0 + 1.5 * H, renotification=False)],
        2,
        {"review": S.MET, "forwarding": S.RUNNING},
    ),
    (
        "back-filled report: judged on the real report time, not when it was typed in",
        {"aware": 0, "reported": 0.9},  # typed in at hour 30, reported by phone at 0.9
        [(2, 0.9)],
        30,
        {"notification": S.MET},
    ),
    (
        "final report due one month after recovery",
        {"aware": 0, "reported": 0.5, "reviewed": 1, "recovered": 24},
        [(2, 0.5)],
        24 + 24 * 32,
        {"final_report": S.OVERDUE},
    ),
]


@pytest.mark.parametrize(
    ("name", "events", "levels", "now", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_clock_table(name: str, events: dict, levels: list, now: float, expected: dict) -> None:
    history = [c if isinstance(c, LevelChange) else LevelChange(c[0], at(c[1])) for c in levels]
    got = states({k: at(v) for k, v in events.items()}, history, at(now))
    assert {k: got[k] for k in expected} == expected


def test_extension_moves_the_final_report_due_date() -> None:
    events = {"aware": T0, "reported": at(0.5), "reviewed": at(1), "recovered": at(24)}
    levels = [LevelChange(2, at(0.5))]
    late = at(24 + 24 * 40)
    plain = {c.key: c for c in compute(load_profile("tw"), events, levels, now=late)}
    assert plain["final_report"].state == S.OVERDUE
    extended = {
        c.key: c
        for c in compute(
            load_profile("tw"),
            events,
            levels,
            now=late,
            extensions={"final_report": at(24 + 24 * 60)},
        )
    }
    assert extended["final_report"].state == S.RUNNING and extended["final_report"].extended
    # Extensions apply only to extendable clocks.
    other = compute(load_profile("tw"), events, levels, now=late, extensions={"recovery": at(1000)})
    assert {c.key: c.extended for c in other}["recovery"] is False


def test_due_times_are_exact_utc_arithmetic() -> None:
    events = {"aware": T0, "reported": at(0.5)}
    clocks = {
        c.key: c for c in compute(load_profile("tw"), events, [LevelChange(3, at(0.5))], now=at(1))
    }
    assert clocks["notification"].due_at == T0 + H
    assert clocks["review"].due_at == at(0.5) + 2 * H
    assert clocks["recovery"].due_at == T0 + 36 * H
    assert clocks["review"].remaining(at(1)) == timedelta(minutes=90)
    assert nearest_due(list(clocks.values())) == at(2.5)


def test_local_times_are_converted_not_trusted() -> None:
    from zoneinfo import ZoneInfo

    taipei = ZoneInfo("Asia/Taipei")
    aware_local = T0.astimezone(taipei)  # 10:00 in Taipei is 02:00 UTC
    clocks = compute(load_profile("tw"), {"aware": aware_local}, [LevelChange(1, T0)], now=at(0.5))
    assert clocks[0].due_at == T0 + H and clocks[0].due_at.tzinfo == UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        compute(load_profile("tw"), {"aware": T0.replace(tzinfo=None)}, [], now=T0)


@pytest.mark.parametrize(
    ("start", "months", "due"),
    [
        (datetime(2026, 1, 31, 5, tzinfo=UTC), 1, datetime(2026, 2, 28, 5, tzinfo=UTC)),
        (datetime(2028, 1, 31, 5, tzinfo=UTC), 1, datetime(2028, 2, 29, 5, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), 1, datetime(2027, 1, 15, tzinfo=UTC)),
        (datetime(2026, 3, 29, 1, tzinfo=UTC), 1, datetime(2026, 4, 29, 1, tzinfo=UTC)),
    ],
)
def test_calendar_months(start: datetime, months: int, due: datetime) -> None:
    assert add_months(start, months) == due


def test_nis2_profile_shows_the_model_is_general() -> None:
    profile = load_profile("eu-nis2")
    events = {"aware": T0, "reported": at(20), "notification_report": at(80)}
    clocks = {c.key: c for c in compute(profile, events, [LevelChange(1, at(20))], now=at(100))}
    assert clocks["early_warning"].state == S.MET
    assert clocks["notification"].state == S.MET_LATE
    assert clocks["final_report"].due_at == add_months(at(80), 1)
    assert set(available_profiles()) >= {"tw", "eu-nis2"}


@pytest.mark.parametrize("code", ["../../etc/passwd", "xx", ""])
def test_unknown_profiles_are_refused(code: str) -> None:
    with pytest.raises(KeyError):
        load_profile(code)
