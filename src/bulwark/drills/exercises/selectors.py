"""Reads of exercises shared by the pages and the API, each narrowing a `visible_to`
queryset: the exercises, teams and injects a reader may see, the live timeline, each
team's scores, the improvement items, and the annual report's figures."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from bulwark.constituency.access import viewer_of
from bulwark.core.permissions import Reader
from bulwark.drills.exercises.services import due_at
from bulwark.drills.models import (
    Exercise,
    ExerciseResponse,
    ExerciseScore,
    ExerciseTeam,
    Expectation,
    ImprovementItem,
    Inject,
)


def exercises(user: Reader, params: Any = None) -> QuerySet[Exercise]:
    qs = Exercise.objects.visible_to(user)
    state = (params or {}).get("state", "")
    if state in Exercise.State.values:
        qs = qs.filter(state=state)
    return qs


def teams(exercise: Exercise, user: Reader) -> QuerySet[ExerciseTeam]:
    return (
        ExerciseTeam.objects.visible_to(user)
        .filter(exercise=exercise)
        .select_related("organisation")
    )


def injects(exercise: Exercise, user: Reader) -> QuerySet[Inject]:
    """The injects the reader may see (delivered to a team of theirs; all for the CERT),
    with their expectations."""
    return (
        Inject.objects.visible_to(user)
        .filter(exercise=exercise)
        .prefetch_related("expectations", "teams__organisation")
        .order_by("offset_minutes", "pk")
    )


def expectations(exercise: Exercise, user: Reader) -> QuerySet[Expectation]:
    """The expectations of the injects the reader may see: what a response or a score
    may name (the pages and the API look them up here, never by bare id)."""
    return Expectation.objects.select_related("inject__exercise").filter(
        inject__in=injects(exercise, user)
    )


def responses(user: Reader) -> QuerySet[ExerciseResponse]:
    return ExerciseResponse.objects.visible_to(user).select_related(
        "team__organisation", "expectation__inject", "submitted_by"
    )


def scores(user: Reader) -> QuerySet[ExerciseScore]:
    return ExerciseScore.objects.visible_to(user).select_related(
        "team__organisation", "expectation__inject", "evaluator"
    )


def items(user: Reader) -> QuerySet[ImprovementItem]:
    return ImprovementItem.objects.visible_to(user).select_related(
        "exercise", "organisation", "owner"
    )


@dataclass
class Cell:
    """One expectation for one team: the team's response and the evaluator's score."""

    expectation: Expectation
    team: ExerciseTeam
    response: ExerciseResponse | None = None
    score: ExerciseScore | None = None


@dataclass
class InjectRow:
    inject: Inject
    due_at: datetime
    overdue: bool  # due and not delivered
    cells: list[Cell] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(1 for c in self.cells if c.response is not None)

    @property
    def scored(self) -> int:
        return sum(1 for c in self.cells if c.score is not None)

    @property
    def needs_attention(self) -> bool:
        """Overdue, or delivered with a cell not scored yet: the timeline shows it open
        (the others folded, so a phone's page stays short)."""
        if self.overdue:
            return True
        return self.inject.delivered_at is not None and self.scored < len(self.cells)


def timeline(exercise: Exercise, user: Reader, now: datetime | None = None) -> list[InjectRow]:
    """The injects in order with when each is due and was delivered, and per expectation
    and team the response and the score, over the teams the reader may see."""
    now = now or timezone.now()
    visible = {t.pk: t for t in teams(exercise, user)}
    answered = {
        (r.expectation_id, r.team_id): r
        for r in ExerciseResponse.objects.filter(team_id__in=visible).select_related("submitted_by")
    }
    scored = {
        (s.expectation_id, s.team_id): s
        for s in ExerciseScore.objects.filter(team_id__in=visible).select_related("evaluator")
    }
    rows = []
    for inject in injects(exercise, user):
        due = due_at(exercise, inject)
        row = InjectRow(
            inject, due, inject.delivered_at is None and exercise.started_at is not None
            and due <= now,
        )  # fmt: skip
        targets = [visible[t.pk] for t in inject.teams.all() if t.pk in visible]
        for expectation in inject.expectations.all():
            for team in targets:
                key = (expectation.pk, team.pk)
                row.cells.append(Cell(expectation, team, answered.get(key), scored.get(key)))
        rows.append(row)
    return rows


@dataclass
class TeamScore:
    team: ExerciseTeam
    scored: int = 0
    possible: int = 0
    responses: int = 0

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.scored / self.possible, 1) if self.possible else None


def team_scores(exercise: Exercise, user: Reader) -> list[TeamScore]:
    """Per visible team: points scored over the points of the expectations scored so
    far (an expectation not scored yet counts neither way), and responses given."""
    out = {t.pk: TeamScore(t) for t in teams(exercise, user)}
    for team_id, got, possible in (
        ExerciseScore.objects.filter(team_id__in=out)
        .values_list("team_id")
        .annotate(got=Sum("score"), possible=Sum("expectation__points"))
        .order_by()
    ):
        out[team_id].scored, out[team_id].possible = got or 0, possible or 0
    for team_id, n in (
        ExerciseResponse.objects.filter(team_id__in=out)
        .values_list("team_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        out[team_id].responses = n
    return list(out.values())


def exercise_figures(
    reader: Reader, year: int, *, between: tuple[datetime, datetime] | None = None
) -> dict[str, Any]:
    """The annual report's exercise figures for `year` (by planned start; or planned to
    start in `between`, [start, end), for the statistics page's periods), over what the
    reader may see, drafts left out: exercises held by the CERT and taken part in (by
    kind and scope), agencies participating, the mean score (points scored over points
    possible, in %), and the improvement items open, in progress and done."""
    shown = Exercise.objects.visible_to(reader).exclude(state=Exercise.State.DRAFT)
    if between is not None:
        shown = shown.filter(planned_start__gte=between[0], planned_start__lt=between[1])
    else:
        shown = shown.filter(planned_start__year=year)
    held: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    total = {Exercise.Role.HELD.value: 0, Exercise.Role.TOOK_PART.value: 0}
    by_kind: dict[str, dict[str, int]] = {}
    for role, kind, scope, n in (
        shown.values_list("role", "kind", "scope").annotate(n=Count("pk", distinct=True)).order_by()
    ):
        total[role] += n
        held[role][f"{kind}_{scope}"] += n
    for role in total:
        by_kind[role] = {
            f"{k}_{s}": held[role][f"{k}_{s}"]
            for k in Exercise.Kind.values
            for s in Exercise.Scope.values
        }
    team_rows = ExerciseTeam.objects.visible_to(reader).filter(exercise__in=shown)
    agencies = team_rows.values("organisation_id").distinct().count()
    totals = (
        ExerciseScore.objects.visible_to(reader)
        .filter(team__exercise__in=shown)
        .aggregate(got=Sum("score"), possible=Sum("expectation__points"))
    )
    got, possible = totals["got"] or 0, totals["possible"] or 0
    item_counts = dict(
        ImprovementItem.objects.visible_to(reader)
        .filter(exercise__in=shown)
        .values_list("state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    viewer = viewer_of(reader)
    return {
        "year": year,
        "complete": viewer.sees_everything,
        "held": total[Exercise.Role.HELD],
        "took_part": total[Exercise.Role.TOOK_PART],
        "by_kind_and_scope": by_kind,
        "agencies": agencies,
        "mean_score": round(100.0 * got / possible, 1) if possible else None,
        "items": {s: item_counts.get(s, 0) for s in ImprovementItem.State.values},
    }
