"""Reads shared by the training pages and API, each narrowing a `visible_to` queryset
(platform staff) or a learner's own rows.

Compliance is computed live for the year asked: each learner's hours per year and kind
come from `HoursTotal` (kept in the same transaction as every record), the requirements
from the agency's responsibility level in its jurisdiction profile (`engine/hours.py`)."""

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, overload

from django.db import connection
from django.db.models import Case, Count, F, FloatField, Q, QuerySet, Sum, Value, When
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


def course_enrolments(user: Reader, course: Course, params: Any = None) -> QuerySet[Enrolment]:
    """A course's enrolments of the learners the user sees (`?q=` name, e-mail or staff
    number; `?status=` active or withdrawn), the withdrawn last."""
    params = params or {}
    found = enrolments(user).filter(course=course).select_related("learner__organisation")
    status = str(params.get("status", ""))
    if status == "active":
        found = found.filter(withdrawn_at__isnull=True)
    elif status == "withdrawn":
        found = found.filter(withdrawn_at__isnull=False)
    q = str(params.get("q", "")).strip()[:200]
    if q:
        found = found.filter(
            Q(learner__name__icontains=q) | Q(learner__email__icontains=q)
            | Q(learner__staff_id=q)
        )  # fmt: skip
    return found.order_by(F("withdrawn_at").asc(nulls_first=True), "learner__name", "pk")


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
    return Enrolment.objects.filter(
        learner=learner, course__status="published", withdrawn_at__isnull=True
    ).select_related("course")


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
    people: Sequence[PersonStanding]
    overall: Summary
    by_org: dict[int, Summary]
    by_role: dict[str, Summary]
    organisations: dict[int, Organisation]


def compliance(user: Reader, year: int, org: Organisation | None = None) -> Compliance:
    """The standing of every learner `user` sees for `year`: per agency, per role and
    overall, and per person when one agency (`org`) is asked for. The database decides
    each learner's standing (`_Standings`: one row per learner, their totals joined by the
    unique index) and counts them per agency, role and standing; only the people of the
    page shown are read into Python, so 20,000 learners cost one GROUP BY."""
    people = Learner.objects.visible_to(user)
    if org is not None:
        people = people.filter(organisation=org)
    standings_sql = _Standings(people, year)
    rows = standings_sql.counts()
    overall = Summary()
    by_org: defaultdict[int, Summary] = defaultdict(Summary)
    by_role: defaultdict[str, Summary] = defaultdict(Summary)
    for (org_id, role, standing), n in rows.items():
        overall.counts[standing] += n
        by_org[org_id].counts[standing] += n
        by_role[role].counts[standing] += n
    orgs = Organisation.objects.in_bulk(list(by_org))
    found: Sequence[PersonStanding] = (
        PeoplePage(standings_sql, overall.total) if org is not None else []
    )
    return Compliance(year, found, overall, dict(by_org), dict(by_role), orgs)


# The order of the per-person list: those short of a requirement first, then those with
# no requirement, then those who met every one; each by learner id.
_SHORT, _NO_RULE, _MET = 0, 1, 2


class _Standings:
    """Each active learner of `people` with their standing for `year`, decided in SQL.

    Every (year, kind) total a requirement of the present rules spans is LEFT JOINed to
    the learner by `HoursTotal`'s unique index (learner, year, kind), and a CASE compares
    the sums with each (agency level, role)'s requirements. A learner's standing is then a
    column the database can count, sort and cut into pages. Hours are compared 0.01 h
    below the requirement: totals are kept to tenths, and SQLite sums them as floats
    (2.3 + 0.7 = 2.9999999999999996); the page's people are assessed again in Python from
    the same totals as exact decimals (`engine/hours.py`)."""

    def __init__(self, people: QuerySet[Learner], year: int) -> None:
        self.year = year
        self.learners = people.filter(is_active=True).order_by()
        # The rules of every profile in use, grouped by identical requirements; which of
        # them applies to a learner is decided in SQL from the agency's settings row.
        used = set(AgencyTraining.objects.values_list("profile", flat=True).distinct())
        self.groups: defaultdict[tuple[hours_engine.Requirement, ...], list[tuple[str, ...]]]
        self.groups = defaultdict(list)
        for code in sorted(used | {hours_engine.DEFAULT_PROFILE}):
            for level, per_role in hours_engine.load_profile(code).levels.items():
                for role, reqs in per_role.items():
                    if reqs:
                        self.groups[reqs].append((code, level, role))
        self.spans = sorted(
            {
                (y, req.kind)
                for reqs in self.groups
                for req in reqs
                for y in range(year - req.years + 1, year + 1)
            }
        )

    def _from(self) -> tuple[str, list[Any], str, list[Any]]:
        """The FROM clause and its parameters, the standing expression and its own."""
        q = connection.ops.quote_name
        sql, learner_params = self.learners.values(
            "id", "organisation_id", "role"
        ).query.sql_with_params()
        params: list[Any] = list(learner_params)
        joins = [
            f"LEFT JOIN {q(AgencyTraining._meta.db_table)} a ON a.{q('organisation_id')} = "
            f"l.{q('organisation_id')}"
        ]
        alias = {}
        for n, (y, kind) in enumerate(self.spans):
            alias[(y, kind)] = f"h{n}"
            joins.append(
                f"LEFT JOIN {q(HoursTotal._meta.db_table)} h{n} ON h{n}.{q('learner_id')} = "
                f"l.{q('id')} AND h{n}.{q('year')} = %s AND h{n}.{q('kind')} = %s"
            )
            params += [y, kind]
        met: list[str] = []
        ruled: list[str] = []
        met_params: list[Any] = []
        ruled_params: list[Any] = []
        rule_of = (
            f"(COALESCE(a.{q('profile')}, %s) = %s AND COALESCE(a.{q('level')}, %s) = %s "
            f"AND l.{q('role')} = %s)"
        )
        for reqs, keys in self.groups.items():
            who = " OR ".join(rule_of for _key in keys)
            who_params = [
                v
                for code, level, role in keys
                for v in (hours_engine.DEFAULT_PROFILE, code, "B", level, role)
            ]
            conditions = []
            cond_params: list[Any] = []
            for req in reqs:
                cols = [
                    f"COALESCE({alias[(y, req.kind)]}.{q('hours')}, 0)"
                    for y in range(self.year - req.years + 1, self.year + 1)
                ]
                conditions.append(f"({' + '.join(cols)}) >= %s")
                cond_params.append(float(req.hours) - 0.01)
            met.append(f"(({who}) AND {' AND '.join(conditions)})")
            met_params += who_params + cond_params
            ruled.append(f"({who})")
            ruled_params += who_params
        if met:
            standing = (
                f"CASE WHEN {' OR '.join(met)} THEN {_MET} "
                f"WHEN {' OR '.join(ruled)} THEN {_SHORT} ELSE {_NO_RULE} END"
            )
        else:
            standing = str(_NO_RULE)
        return f"({sql}) l {' '.join(joins)}", params, standing, met_params + ruled_params

    def counts(self) -> Counter[tuple[int, str, str]]:
        """(agency, role, standing) -> people."""
        result: Counter[tuple[int, str, str]] = Counter()
        q = connection.ops.quote_name
        source, params, standing, standing_params = self._from()
        short = Standing.BEHIND if self.year >= timezone.localdate().year else Standing.MISSED
        names = {_MET: str(Standing.MET), _SHORT: str(short), _NO_RULE: str(Standing.NO_RULE)}
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT l.{q('organisation_id')}, l.{q('role')}, {standing}, COUNT(*) "  # noqa: S608
                f"FROM {source} GROUP BY 1, 2, 3",
                standing_params + params,
            )
            for org_id, role, rank, n in cursor.fetchall():
                result[(int(org_id), str(role), names[int(rank)])] += int(n)
        return result

    def people(self, offset: int = 0, limit: int | None = None) -> list[PersonStanding]:
        """The learners in list order (short first, then no requirement, then met), each
        assessed from their totals."""
        q = connection.ops.quote_name
        source, params, standing, standing_params = self._from()
        columns = ", ".join(f"h{n}.{q('hours')}" for n in range(len(self.spans)))
        cut = ""
        cut_params: list[Any] = []
        if limit is not None:
            cut = " LIMIT %s OFFSET %s"
            cut_params = [limit, offset]
        elif offset:
            cut = " LIMIT -1 OFFSET %s" if connection.vendor == "sqlite" else " OFFSET %s"
            cut_params = [offset]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT l.{q('id')}, l.{q('organisation_id')}, l.{q('role')}, "  # noqa: S608
                f"{standing} AS standing{', ' + columns if columns else ''} FROM {source} "
                f"ORDER BY standing, l.{q('id')}{cut}",
                standing_params + params + cut_params,
            )
            fetched = cursor.fetchall()
        current = timezone.localdate().year
        levels = _levels({row[1] for row in fetched})
        found = []
        for pk, org_id, role, _rank, *hours in fetched:
            totals = {
                span: Decimal(f"{value:.1f}") if isinstance(value, float) else Decimal(value)
                for span, value in zip(self.spans, hours, strict=True)
                if value is not None
            }
            level, code = levels[org_id]
            reqs = hours_engine.load_profile(code).requirements(level, role)
            assessment = hours_engine.assess(reqs, totals, self.year, current)
            found.append(PersonStanding(pk, org_id, role, assessment))
        return found


class PeoplePage(Sequence[PersonStanding]):
    """The per-person list of an agency as a sequence the paginator cuts: its length is
    counted already, and a slice reads just those people from the database."""

    def __init__(self, standings_sql: _Standings, total: int) -> None:
        self.standings_sql = standings_sql
        self.total = total
        self._all: list[PersonStanding] | None = None

    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, index: int) -> PersonStanding: ...
    @overload
    def __getitem__(self, index: slice) -> list[PersonStanding]: ...
    def __getitem__(self, index: int | slice) -> PersonStanding | list[PersonStanding]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.total)
            if step != 1:
                return self._everyone()[index]
            return self.standings_sql.people(start, max(0, stop - start))
        return self._everyone()[index]

    def __iter__(self) -> Iterator[PersonStanding]:
        return iter(self._everyone())

    def _everyone(self) -> list[PersonStanding]:
        if self._all is None:
            self._all = self.standings_sql.people()
        return self._all


def behind(user: Reader, org: Organisation, year: int) -> list[Learner]:
    """The agency's learners behind (or past due) for `year`, for reminders."""
    people = Learner.objects.visible_to(user).filter(organisation=org)
    late = [
        p.learner_id
        for p in _Standings(people, year).people()
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


def agency_level(organisation_id: int) -> str | None:
    """The agency's responsibility level when one is recorded (`AgencyTraining`), else
    None: registered with findings (`findings.selectors.AGENCY_LEVEL`), which picks an
    engagement's checklist by it and may not import training."""
    level: str | None = (
        AgencyTraining.objects.filter(organisation_id=organisation_id)
        .values_list("level", flat=True)
        .first()
    )
    return level
