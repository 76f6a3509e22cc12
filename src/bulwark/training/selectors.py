"""Reads shared by the training pages and API, each narrowing a `visible_to` queryset
(platform staff) or a learner's own rows.

Compliance is computed live for the year asked: each learner's hours per year and kind
come from `HoursTotal` (kept in the same transaction as every record), the requirements
from the agency's responsibility level in its jurisdiction profile (`engine/hours.py`)."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from bulwark.constituency.models import Organisation
from bulwark.training.engine import hours as hours_engine
from bulwark.training.engine.hours import Standing
from bulwark.training.models import (
    AgencyTraining,
    Attempt,
    Certificate,
    Competition,
    CompetitionResult,
    Course,
    Enrolment,
    HoursTotal,
    Learner,
    Participant,
    TrainingRecord,
)


def courses(user: Any, params: Any = None) -> QuerySet[Course]:
    found = Course.objects.visible_to(user).select_related("owner")
    q = (params or {}).get("q", "").strip()
    if q:
        found = found.filter(Q(title__icontains=q) | Q(title_zh_hant__icontains=q) | Q(code=q))
    return found


def learners(user: Any, params: Any = None) -> QuerySet[Learner]:
    found = Learner.objects.visible_to(user).select_related("organisation")
    params = params or {}
    org = str(params.get("organisation", "")).strip()
    if org.isdigit():
        found = found.filter(organisation_id=int(org))
    role = str(params.get("role", "")).strip()
    if role:
        found = found.filter(role=role)
    q = str(params.get("q", "")).strip()
    if q:
        found = found.filter(Q(name__icontains=q) | Q(email__icontains=q) | Q(staff_id=q))
    return found


def records(user: Any) -> QuerySet[TrainingRecord]:
    return TrainingRecord.objects.visible_to(user).select_related("learner", "organisation")


def enrolments(user: Any) -> QuerySet[Enrolment]:
    return Enrolment.objects.visible_to(user).select_related("learner", "course")


def attempts(user: Any) -> QuerySet[Attempt]:
    return Attempt.objects.visible_to(user).select_related("learner", "exam__course")


def certificates(user: Any) -> QuerySet[Certificate]:
    return Certificate.objects.visible_to(user).select_related("learner")


# --- A learner's own rows -------------------------------------------------------------------


def own_enrolments(learner: Learner) -> QuerySet[Enrolment]:
    return Enrolment.objects.filter(learner=learner, course__status="published").select_related(
        "course"
    )


def own_records(learner: Learner) -> QuerySet[TrainingRecord]:
    return TrainingRecord.objects.filter(learner=learner)


def own_certificates(learner: Learner) -> QuerySet[Certificate]:
    return Certificate.objects.filter(learner=learner, revoked_at__isnull=True)


# --- Compliance -------------------------------------------------------------------------------


@dataclass
class PersonStanding:
    learner_id: int
    organisation_id: int
    role: str
    assessment: hours_engine.Assessment


@dataclass
class Summary:
    """Counts of people per standing, for an agency, a role, or everyone."""

    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def assessed(self) -> int:
        return self.total - self.counts[Standing.NO_RULE]

    @property
    def met_percent(self) -> float | None:
        return round(100 * self.counts[Standing.MET] / self.assessed, 1) if self.assessed else None


def _levels(org_ids: set[int]) -> dict[int, tuple[str, str]]:
    found = {
        org_id: (level, profile)
        for org_id, level, profile in AgencyTraining.objects.filter(
            organisation_id__in=org_ids
        ).values_list("organisation_id", "level", "profile")
    }
    return {org_id: found.get(org_id, ("B", hours_engine.DEFAULT_PROFILE)) for org_id in org_ids}


def standings(people: QuerySet[Learner], year: int) -> list[PersonStanding]:
    """Each active learner's standing for `year` (the totals of that year and the one
    before, for the two-year rule)."""
    rows = list(people.filter(is_active=True).values_list("pk", "organisation_id", "role"))
    if not rows:
        return []
    levels = _levels({org for _pk, org, _role in rows})
    totals: dict[int, dict[tuple[int, str], Decimal]] = defaultdict(dict)
    learner_ids = [pk for pk, _org, _role in rows]
    org_ids = list({org for _pk, org, _role in rows})
    kept = HoursTotal.objects.filter(year__in=(year - 1, year), organisation_id__in=org_ids)
    if len(learner_ids) < 500:
        kept = kept.filter(learner_id__in=learner_ids)
    for learner_id, y, kind, hours in kept.values_list("learner_id", "year", "kind", "hours"):
        totals[learner_id][(y, kind)] = hours
    current = timezone.localdate().year
    cache: dict[tuple[str, str, str], tuple[hours_engine.Requirement, ...]] = {}
    found = []
    for pk, org_id, role in rows:
        level, profile = levels[org_id]
        key = (profile, level, role)
        if key not in cache:
            cache[key] = hours_engine.load_profile(profile).requirements(level, role)
        assessment = hours_engine.assess(cache[key], totals.get(pk, {}), year, current)
        found.append(PersonStanding(pk, org_id, role, assessment))
    return found


@dataclass
class Compliance:
    year: int
    people: list[PersonStanding]
    overall: Summary
    by_org: dict[int, Summary]
    by_role: dict[str, Summary]
    organisations: dict[int, Organisation]


def compliance(user: Any, year: int, org: Organisation | None = None) -> Compliance:
    """The standing of every learner `user` sees (one agency's when `org` is given):
    per person, per agency, per role and overall."""
    people = Learner.objects.visible_to(user)
    if org is not None:
        people = people.filter(organisation=org)
    found = standings(people, year)
    overall = Summary()
    by_org: defaultdict[int, Summary] = defaultdict(Summary)
    by_role: defaultdict[str, Summary] = defaultdict(Summary)
    for person in found:
        standing = str(person.assessment.standing)
        overall.counts[standing] += 1
        by_org[person.organisation_id].counts[standing] += 1
        by_role[person.role].counts[standing] += 1
    orgs = Organisation.objects.in_bulk(list(by_org))
    return Compliance(year, found, overall, dict(by_org), dict(by_role), orgs)


def behind(user: Any, org: Organisation, year: int) -> list[Learner]:
    """The agency's learners behind (or past due) for `year`, for reminders."""
    people = Learner.objects.visible_to(user).filter(organisation=org)
    late = [
        p.learner_id
        for p in standings(people, year)
        if p.assessment.standing in (Standing.BEHIND, Standing.MISSED)
    ]
    return list(Learner.objects.filter(pk__in=late))


# --- Competitions -----------------------------------------------------------------------------


def competition_figures(user: Any, competition: Competition) -> dict[str, list[tuple[str, int]]]:
    """Participants by category, region, school and sector, over the registrations the
    user sees (the CERT: all; an agency: its own people)."""
    people = Participant.objects.visible_to(user).filter(competition=competition)

    def count(field_name: str) -> list[tuple[str, int]]:
        rows = people.values_list(field_name).annotate(n=Count("pk")).order_by("-n", field_name)
        return [(str(value or "—"), n) for value, n in rows]

    return {
        "category": count("category"),
        "region": count("region"),
        "school": [(k, n) for k, n in count("school") if k != "—"],
        "sector": count("organisation__sector__name"),
    }


def results(user: Any, competition: Competition) -> QuerySet[CompetitionResult]:
    return CompetitionResult.objects.visible_to(user).filter(competition=competition)
