"""Statutory training hours (pure, no Django): the rules per responsibility level and role
as jurisdiction data (`training/profiles/<code>.json`, like the incident clocks), and each
person's standing for a year from their hours per year and kind.

A requirement is "at least H hours of kind K over the last N calendar years, this one
included" (N = 1: this year; N = 2: this year and the one before, the "every two years"
rule). Professional hours never count as general ones: each kind is summed apart.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path

PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"
DEFAULT_PROFILE = "tw"
KINDS = ("general", "professional")


class Standing(StrEnum):
    MET = "met"  # every requirement met for the year
    BEHIND = "behind"  # the year is still running and a requirement is not met yet
    MISSED = "missed"  # the year is over and a requirement was not met
    NO_RULE = "no_rule"  # the profile has no requirement for this level and role


@dataclass(frozen=True)
class Requirement:
    kind: str
    hours: Decimal
    years: int

    def label(self) -> str:
        span = "a year" if self.years == 1 else f"every {self.years} years"
        return f">= {self.hours} h {self.kind} {span}"


@dataclass(frozen=True)
class Profile:
    code: str
    name: str
    roles: Mapping[str, str]
    levels: Mapping[str, Mapping[str, tuple[Requirement, ...]]]

    def requirements(self, level: str, role: str) -> tuple[Requirement, ...]:
        return self.levels.get(level, {}).get(role, ())


class ProfileError(ValueError):
    pass


@cache
def load_profile(code: str = DEFAULT_PROFILE) -> Profile:
    if not code.isalnum():
        raise ProfileError(f"no training-hours profile {code!r}")
    path = PROFILE_DIR / f"{code}.json"
    if not path.is_file():
        raise ProfileError(f"no training-hours profile {code!r}")
    data = json.loads(path.read_text(encoding="utf-8"))
    roles = dict(data["roles"])
    levels: dict[str, dict[str, tuple[Requirement, ...]]] = {}
    for level, per_role in data["levels"].items():
        levels[level] = {}
        for role, rules in per_role.items():
            if role not in roles:
                raise ProfileError(f"{code}: level {level} names an unknown role {role!r}")
            reqs = []
            for rule in rules:
                if rule["kind"] not in KINDS or int(rule["years"]) < 1:
                    raise ProfileError(f"{code}: bad requirement {rule!r}")
                reqs.append(Requirement(rule["kind"], Decimal(str(rule["hours"])),
                                        int(rule["years"])))  # fmt: skip
            levels[level][role] = tuple(reqs)
    return Profile(data["code"], data["name"], roles, levels)


@dataclass(frozen=True)
class Progress:
    requirement: Requirement
    earned: Decimal | float  # float when summed by the database (compliance views)

    @property
    def missing(self) -> Decimal:
        earned = self.earned if isinstance(self.earned, Decimal) else Decimal(f"{self.earned:.1f}")
        return max(Decimal(0), self.requirement.hours - earned)

    @property
    def met(self) -> bool:
        return self.earned >= self.requirement.hours


@dataclass(frozen=True)
class Assessment:
    standing: Standing
    progress: tuple[Progress, ...]

    @property
    def missing(self) -> dict[str, Decimal]:
        """Hours still missing per kind (the largest gap when two rules ask for a kind)."""
        gaps: dict[str, Decimal] = {}
        for item in self.progress:
            kind = item.requirement.kind
            gaps[kind] = max(gaps.get(kind, Decimal(0)), item.missing)
        return {kind: gap for kind, gap in gaps.items() if gap}


def assess(
    requirements: tuple[Requirement, ...],
    totals: Mapping[tuple[int, str], Decimal | float],
    year: int,
    current_year: int,
) -> Assessment:
    """A person's standing for `year` from their hours per (year, kind); `current_year`
    tells whether the year is still running (BEHIND) or over (MISSED)."""
    if not requirements:
        return Assessment(Standing.NO_RULE, ())
    progress = tuple(
        Progress(req, sum(totals.get((y, req.kind), 0)
                          for y in range(year - req.years + 1, year + 1)))
        for req in requirements
    )  # fmt: skip
    if all(item.met for item in progress):
        standing = Standing.MET
    else:
        standing = Standing.BEHIND if year >= current_year else Standing.MISSED
    return Assessment(standing, progress)
