"""Indicator scores: confidence decaying with age since last sighting (pure module).

    score = base x max(0, 1 - (age / lifetime) ^ (1 / speed)) x 0.5 ^ false_positives

- base: the indicator's confidence (0-100; 50 when the source gave none);
- age: time since the later of the indicator's valid_from and the value's last sighting;
- lifetime: per value type (addresses change hands in weeks, file hashes stay bad);
- speed: 0.5, so a score stays high for most of its life and then falls quickly;
- every false-positive sighting halves the score;
- after valid_until the score is 0. An indicator below THRESHOLD is decayed and leaves
  the detection exports unless they ask for decayed ones.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

LIFETIME_DAYS = {
    "ipv4": 30,
    "ipv6": 30,
    "cidr": 60,
    "url": 60,
    "domain": 90,
    "email": 180,
    "asn": 365,
    "md5": 365,
    "sha1": 365,
    "sha256": 365,
}
DEFAULT_LIFETIME_DAYS = 90
DEFAULT_CONFIDENCE = 50
SPEED = 0.5
FALSE_POSITIVE_FACTOR = 0.5
THRESHOLD = 20.0


@dataclass(frozen=True)
class Score:
    value: float
    base: int
    age_days: float
    lifetime_days: int
    false_positives: int
    expired: bool

    @property
    def decayed(self) -> bool:
        return self.expired or self.value < THRESHOLD


def score(
    *,
    kind: str,
    confidence: int | None,
    valid_from: datetime,
    valid_until: datetime | None,
    last_sighted_at: datetime | None,
    false_positives: int,
    now: datetime,
) -> Score:
    base = DEFAULT_CONFIDENCE if confidence is None else confidence
    lifetime = LIFETIME_DAYS.get(kind, DEFAULT_LIFETIME_DAYS)
    reference = max(valid_from, last_sighted_at) if last_sighted_at else valid_from
    age = max(timedelta(0), now - reference)
    age_days = age.total_seconds() / 86400
    expired = valid_until is not None and valid_until <= now
    if expired:
        return Score(0.0, base, age_days, lifetime, false_positives, True)
    remaining = max(0.0, 1 - (age_days / lifetime) ** (1 / SPEED))
    value = base * remaining * FALSE_POSITIVE_FACTOR**false_positives
    return Score(round(value, 1), base, age_days, lifetime, false_positives, False)
