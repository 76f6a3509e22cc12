"""Remediation deadlines per severity: a pure engine (no Django) over profiles kept as
data in `profiles/*.json`, like the incident clocks (incidents/clocks.py).

A profile gives the days an agency has to remediate a finding of each severity (null: no
deadline), the days before the deadline a reminder goes out, and the days after it the
finding is escalated to the agency's authority.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

PROFILE_DIR = Path(__file__).with_name("profiles")
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class DeadlineProfile:
    code: str
    name: str
    days: Mapping[str, int | None]
    remind_days_before: tuple[int, ...]
    escalate_days_after: int

    def due(self, severity: str, start: datetime) -> datetime | None:
        """When a finding of `severity` first seen at `start` must be remediated."""
        days = self.days.get(severity)
        return None if days is None else start + timedelta(days=days)

    def reminder_due(self, deadline: datetime, now: datetime, last_sent: int | None) -> int | None:
        """The reminder (days before the deadline) to send now, or None: the smallest
        threshold reached and not yet sent (`last_sent` is the last one sent)."""
        left = (deadline - now).total_seconds() / 86400
        if left < 0:
            return None
        reached = [d for d in self.remind_days_before if left <= d]
        if not reached:
            return None
        threshold = min(reached)
        if last_sent is not None and last_sent <= threshold:
            return None
        return threshold

    def escalation_due(self, deadline: datetime, now: datetime) -> bool:
        return now >= deadline + timedelta(days=self.escalate_days_after)


def _load(path: Path) -> DeadlineProfile:
    data = json.loads(path.read_text(encoding="utf-8"))
    return DeadlineProfile(
        code=data["code"],
        name=data["name"],
        days={k: (None if v is None else int(v)) for k, v in data["days"].items()},
        remind_days_before=tuple(sorted(int(d) for d in data.get("remind_days_before", ()))),
        escalate_days_after=int(data.get("escalate_days_after", 0)),
    )


@cache
def profiles() -> dict[str, DeadlineProfile]:
    found = (_load(p) for p in sorted(PROFILE_DIR.glob("*.json")))
    return {p.code: p for p in found}


def profile(code: str) -> DeadlineProfile:
    """The profile of that code, or the default one when unknown."""
    known = profiles()
    return known.get(code) or known[DEFAULT_PROFILE]
