"""Reads shared by the training pages and API, each narrowing a `visible_to` queryset
(platform staff) or a learner's own rows.

Compliance is computed live for the year asked: each learner's hours per year and kind
come from `HoursTotal` (kept in the same transaction as every record), the requirements
from the agency's responsibility level in its jurisdiction profile (`engine/hours.py`)."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Case, Count, FloatField, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, Role
from bulwark.core.permissions import Reader
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
    Lesson,
    Participant,
    PortalMapping,
    Question,
    TrainingRecord,
)


def courses(user: Reader, params: Any = None) -> QuerySet[Course]:
    found = Course.objects.visible_to(user).select_related("owner")
    q = (params or {}).get("q", "").strip()
    if q:
        found = found.filter(Q(title__icontains=q) | Q(title_zh_hant__icontains=q) | Q(code=q))
    return found


def learners(user: Reader, params: Any = None) -> QuerySet[Learner]:
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


def records(user: Reader) -> QuerySet[TrainingRecord]:
    return TrainingRecord.objects.visible_to(user).select_related("learner", "organisation")


def enrolments(user: Reader) -> QuerySet[Enrolment]:
    return Enrolment.objects.visible_to(user).select_related("learner", "course")


def attempts(user: Reader) -> QuerySet[Attempt]:
    return Attempt.objects.visible_to(user).select_related("learner", "exam__course")


def certificates(user: Reader) -> QuerySet[Certificate]:
    return Certificate.objects.visible_to(user).select_related("learner")


def mappings(user: Reader) -> QuerySet[PortalMapping]:
    """Saved CSV column mappings: an agency's admins their agency's, the CERT all."""
    return PortalMapping.objects.visible_to(user).select_related("organisation")


def authored_courses(user: Reader) -> QuerySet[Course]:
    """The courses the user may write (and so read the question banks of, right answers
    included): the CERT every course, an organisation's admins the courses it owns."""
    viewer = viewer_of(user)
    found = Course.objects.visible_to(user)
    if viewer.sees_everything:
        return found
    owned = [org for org, roles in viewer.roles.items() if Role.ORG_ADMIN in roles]
    return found.filter(owner_id__in=owned)


def lessons(user: Reader) -> QuerySet[Lesson]:
    """Lessons of the courses the user sees; retired ones only to those who may write."""
    return Lesson.objects.filter(
        Q(course__in=courses(user), is_active=True) | Q(course__in=authored_courses(user))
    ).select_related("course")


def questions(user: Reader) -> QuerySet[Question]:
    """Questions (with their right answers) of the courses the user may write."""
    return Question.objects.filter(exam__course__in=authored_courses(user)).select_related(
        "exam__course"
    )


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


def _sum(year: int, kind: str) -> Sum:
    return Sum(
        Case(
            When(year=year, kind=kind, then=Cast("hours", FloatField())),
            default=Value(0.0),
            output_field=FloatField(),
        ),
        output_field=FloatField(),
    )


def standings(people: QuerySet[Learner], year: int) -> list[PersonStanding]:
    """Each active learner's standing for `year`. The database sums each learner's hours
    of this year and the one before per kind (one row per learner, as floats: the views
    read 20,000 learners within their budget); the requirements come from the profile."""
    rows = list(people.filter(is_active=True).values_list("pk", "organisation_id", "role"))
    if not rows:
        return []
    levels = _levels({org for _pk, org, _role in rows})
    kept = HoursTotal.objects.filter(year__in=(year - 1, year))
    if len(rows) < 500:
        kept = kept.filter(learner_id__in=[pk for pk, _org, _role in rows])
    else:
        kept = kept.filter(organisation_id__in={org for _pk, org, _role in rows})
    sums = kept.values("learner_id").annotate(
        g=_sum(year, "general"), p=_sum(year, "professional"),
        g0=_sum(year - 1, "general"), p0=_sum(year - 1, "professional"),
    ).values_list("learner_id", "g", "p", "g0", "p0")  # fmt: skip
    totals: dict[int, dict[tuple[int, str], float]] = {
        pk: {(year, "general"): g or 0.0, (year, "professional"): p or 0.0,
             (year - 1, "general"): g0 or 0.0, (year - 1, "professional"): p0 or 0.0}
        for pk, g, p, g0, p0 in sums
    }  # fmt: skip
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


def compliance(user: Reader, year: int, org: Organisation | None = None) -> Compliance:
    """The standing of every learner `user` sees for `year`: per agency, per role and
    overall, and per person when one agency (`org`) is asked for. Without `org` (the
    authority's and the CERT's views) the database counts who met each requirement, so
    20,000 learners are never read into Python; with it, each person is assessed."""
    people = Learner.objects.visible_to(user)
    if org is not None:
        people = people.filter(organisation=org)
        found = standings(people, year)
        rows = Counter((p.organisation_id, p.role, str(p.assessment.standing)) for p in found)
    else:
        found, rows = [], _counted(people, year)
    overall = Summary()
    by_org: defaultdict[int, Summary] = defaultdict(Summary)
    by_role: defaultdict[str, Summary] = defaultdict(Summary)
    for (org_id, role, standing), n in rows.items():
        overall.counts[standing] += n
        by_org[org_id].counts[standing] += n
        by_role[role].counts[standing] += n
    orgs = Organisation.objects.in_bulk(list(by_org))
    return Compliance(year, found, overall, dict(by_org), dict(by_role), orgs)


def _counted(people: QuerySet[Learner], year: int) -> Counter[tuple[int, str, str]]:
    """(agency, role, standing) -> people, counted by the database: the active learners
    per agency and role, and among them those whose hours meet every requirement of their
    agency's level (one GROUP BY with the requirements as a HAVING clause)."""
    active = people.filter(is_active=True)
    groups = Counter(
        {(o, r): n for o, r, n in active.values_list("organisation_id", "role")
         .annotate(n=Count("pk")).order_by().values_list("organisation_id", "role", "n")}
    )  # fmt: skip
    result: Counter[tuple[int, str, str]] = Counter()
    if not groups:
        return result
    levels = _levels({o for o, _r in groups})
    current = timezone.localdate().year
    short = Standing.BEHIND if year >= current else Standing.MISSED
    # The requirements of each (profile, level, role) present, and the years they span.
    rules: dict[tuple[str, str, str], tuple[hours_engine.Requirement, ...]] = {}
    for (org_id, role), _n in groups.items():
        level, profile = levels[org_id]
        rules[(profile, level, role)] = hours_engine.load_profile(profile).requirements(level, role)
    span = max((r.years for reqs in rules.values() for r in reqs), default=1)
    met_q: Q | None = None
    totals: dict[str, Any] = {}
    for (profile, level, role), reqs in rules.items():
        if not reqs:
            continue
        org_ids = [o for o, lp in levels.items() if lp == (level, profile)]
        condition = Q(staff_role=role, agency__in=org_ids)
        for req in reqs:
            name = f"t_{req.kind}_{req.years}"
            totals[name] = _sum_years(year, req.years, req.kind)
            condition &= Q(**{f"{name}__gte": float(req.hours)})
        met_q = condition if met_q is None else met_q | condition
    met: Counter[tuple[int, str]] = Counter()
    if met_q is not None:
        per_learner = (
            HoursTotal.objects.filter(learner__in=active, year__gt=year - span, year__lte=year)
            .values("learner_id")
            .annotate(agency=Max("organisation_id"), staff_role=Max("learner__role"), **totals)
            .filter(met_q)
            .values_list("agency", "staff_role")
        )
        sql, params = per_learner.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT "agency", "staff_role", COUNT(*) FROM ({sql}) AS per_learner '  # noqa: S608
                'GROUP BY "agency", "staff_role"',
                params,
            )
            for org_id, role, n in cursor.fetchall():
                met[(int(org_id), str(role))] = int(n)
    for (org_id, role), n in groups.items():
        level, profile = levels[org_id]
        if not rules[(profile, level, role)]:
            result[(org_id, role, str(Standing.NO_RULE))] += n
            continue
        done = met[(org_id, role)]
        result[(org_id, role, str(Standing.MET))] += done
        result[(org_id, role, str(short))] += n - done
    return +result


def _sum_years(year: int, years: int, kind: str) -> Sum:
    """Hours of `kind` over the last `years` calendar years up to `year`, per learner."""
    return Sum(
        Case(
            When(year__gt=year - years, year__lte=year, kind=kind,
                 then=Cast("hours", FloatField())),
            default=Value(0.0),
            output_field=FloatField(),
        ),
        output_field=FloatField(),
    )  # fmt: skip


def behind(user: Reader, org: Organisation, year: int) -> list[Learner]:
    """The agency's learners behind (or past due) for `year`, for reminders."""
    people = Learner.objects.visible_to(user).filter(organisation=org)
    late = [
        p.learner_id
        for p in standings(people, year)
        if p.assessment.standing in (Standing.BEHIND, Standing.MISSED)
    ]
    return list(Learner.objects.filter(pk__in=late))


# --- Competitions -----------------------------------------------------------------------------


def competition_figures(user: Reader, competition: Competition) -> dict[str, list[tuple[str, int]]]:
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


def results(user: Reader, competition: Competition) -> QuerySet[CompetitionResult]:
    return CompetitionResult.objects.visible_to(user).filter(competition=competition)
