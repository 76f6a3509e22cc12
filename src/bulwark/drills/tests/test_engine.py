"""The pure parts: the sending plan and the human-or-automated classifier."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bulwark.drills.engine import classify as c
from bulwark.drills.engine import schedule as s

TAIPEI = ZoneInfo("Asia/Taipei")
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"


def test_sending_stays_in_business_hours_of_each_zone_on_working_days() -> None:
    # Friday 2026-12-04 15:00 in Taipei: the rest of Friday, then Monday and Tuesday.
    start = datetime(2026, 12, 4, 15, 0, tzinfo=TAIPEI)
    people = [s.Addressee(i, f"p{i}@agency{i % 7}.gov.tw", "Asia/Taipei") for i in range(500)]
    people += [s.Addressee(1000 + i, f"q{i}@nhs.example.uk", "Europe/London") for i in range(50)]
    plan = s.plan(people, s.Window(start=start, days=3, seed=7))
    assert len(plan) == 550
    for key, at in plan.items():
        zone = TAIPEI if key < 1000 else ZoneInfo("Europe/London")
        local = at.astimezone(zone)
        assert local.weekday() < 5, local
        assert time(9) <= local.time() < time(17), local
        assert at >= start
    days = {at.astimezone(TAIPEI).date() for k, at in plan.items() if k < 1000}
    assert days == {datetime(2026, 12, d).date() for d in (4, 7, 8)}  # spread, no weekend
    # Jitter: people are not sent at the same instant.
    assert len(set(plan.values())) == 550
    # The same campaign plans the same way (seeded), another seed differently.
    assert s.plan(people, s.Window(start=start, days=3, seed=7)) == plan
    assert s.plan(people, s.Window(start=start, days=3, seed=8)) != plan


def test_at_most_n_messages_per_domain_per_hour() -> None:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=TAIPEI)  # a Monday
    people = [s.Addressee(i, f"p{i}@big.gov.tw", "Asia/Taipei") for i in range(300)]
    plan = s.plan(people, s.Window(start=start, days=1, per_domain_per_hour=20, seed=1))
    per_hour: dict[datetime, int] = {}
    for at in plan.values():
        hour = at.replace(minute=0, second=0, microsecond=0)
        per_hour[hour] = per_hour.get(hour, 0) + 1
        local = at.astimezone(TAIPEI)
        assert local.weekday() < 5 and time(9) <= local.time() < time(17), local
    assert max(per_hour.values()) <= 20
    # 300 at 20 an hour over 8 h a day: runs over into the next working days' hours.
    assert len({at.astimezone(TAIPEI).date() for at in plan.values()}) >= 2


def test_bad_windows_are_refused() -> None:
    start = datetime(2026, 12, 7, tzinfo=UTC)
    with pytest.raises(ValueError):
        s.plan([], s.Window(start=start, day_start=time(17), day_end=time(9)))
    with pytest.raises(ValueError):
        s.plan([], s.Window(start=start, per_domain_per_hour=0))


SENT = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


LATER, SOON = SENT + timedelta(minutes=5), SENT + timedelta(seconds=3)
HOME = "203.0.113.9"


@pytest.mark.parametrize(
    ("hit", "reason"),
    [
        (c.Hit("clicked", LATER, "HEAD", HOME, BROWSER), c.HEAD_REQUEST),
        (c.Hit("opened", LATER, "GET", HOME, ""), c.NO_AGENT),
        (c.Hit("clicked", LATER, agent="python-requests/2.32"), c.SCANNER_AGENT),
        (c.Hit("clicked", LATER, agent="Mimecast URL protect"), c.SCANNER_AGENT),
        (c.Hit("clicked", LATER, ip="40.107.1.2", agent=BROWSER), c.SCANNER_RANGE),
        (c.Hit("clicked", SOON, ip=HOME, agent=BROWSER, sent_at=SENT), c.TOO_SOON),
        (c.Hit("clicked", LATER, ip=HOME, agent=BROWSER, sent_at=SENT), ""),
        (c.Hit("opened", LATER, ip="2001:db8::1", agent=BROWSER, sent_at=SENT), ""),
    ],
)  # fmt: skip
def test_classification(hit: c.Hit, reason: str) -> None:
    assert c.classify(hit) == reason


def test_many_links_at_once_is_a_machine() -> None:
    at = SENT + timedelta(minutes=10)
    hit = c.Hit("clicked", at, agent=BROWSER, ip=HOME, sent_at=SENT)
    assert c.classify(hit, [at - timedelta(seconds=1)]) == ""
    assert c.classify(hit, [at - timedelta(seconds=1), at - timedelta(milliseconds=300)]) == c.BURST
    assert c.classify(hit, [at - timedelta(minutes=1), at - timedelta(minutes=2)]) == ""
    # The landing page's image and its submit follow a click at once: not links at once.
    page = c.Hit("page", at, agent=BROWSER, ip="203.0.113.9", sent_at=SENT)
    assert c.classify(page, [at - timedelta(seconds=1), at - timedelta(milliseconds=300)]) == ""


def test_scanner_data_is_data() -> None:
    data = c.known()
    assert "proofpoint" in data.agents
    assert c.scanner_range("148.163.130.1") == "Proofpoint"
    assert c.scanner_range("not an address") == ""
