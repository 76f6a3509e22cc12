"""Every write of exercises: building one (teams, injects, expectations), running it
(start, deliver injects by hand or when due, end), player responses, evaluator scores,
the after-action report and its improvement items. Each person's action is audited;
the periodic delivery of a due inject is audited as the system's."""

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.advisories.rendering import markdown_to_html
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Membership, Organisation, Role, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.core.services import notify
from bulwark.core.tasks import send_email
from bulwark.drills.models import (
    Exercise,
    ExerciseResponse,
    ExerciseScore,
    ExerciseTeam,
    Expectation,
    ImprovementItem,
    Inject,
)

MAX_OFFSET_MINUTES = 60 * 24 * 14  # an exercise's injects span at most two weeks


def _cert_people(people: Iterable[User], what: str) -> list[User]:
    chosen = list(people)
    for person in chosen:
        if not viewer_of(person).cert_staff:
            raise ValidationError(
                {what: _("%(u)s is not CERT staff.") % {"u": person.get_username()}}
            )
    return chosen


def _evaluators(people: Iterable[User], scope: str) -> list[User]:
    """CERT staff, and for an international exercise people of other organisations on
    the platform (a foreign CERT's staff): active users with a membership."""
    chosen = list(people)
    for person in chosen:
        if viewer_of(person).cert_staff:
            continue
        if scope != Exercise.Scope.INTERNATIONAL:
            raise ValidationError(
                {
                    "evaluators": _(
                        "%(u)s is not CERT staff: outside evaluators are for international "
                        "exercises only."
                    )
                    % {"u": person.get_username()}
                }
            )
        if not person.is_active or not Membership.objects.filter(user=person).exists():
            raise ValidationError(
                {
                    "evaluators": _("%(u)s belongs to no organisation on the platform.")
                    % {"u": person.get_username()}
                }
            )
    return chosen


@transaction.atomic
def create_exercise(
    actor: User, *, organisations: Iterable[Organisation], control_team: Iterable[User] = (),
    evaluators: Iterable[User] = (), **fields: Any,
) -> Exercise:  # fmt: skip
    """A draft exercise with a team per participating agency; the control team is CERT
    staff (the author joins it when it names none), the evaluators CERT staff or, for an
    international exercise, people of other organisations (outside evaluators)."""
    require(actor, "drill.run")
    exercise = Exercise(created_by=actor, state=Exercise.State.DRAFT, **fields)
    exercise.full_clean()
    control = _cert_people(control_team, "control_team") or [actor]
    judges = _evaluators(evaluators, exercise.scope)
    exercise.save()
    exercise.control_team.set(control)
    exercise.evaluators.set(judges)
    orgs = list(organisations)
    ExerciseTeam.objects.bulk_create(
        [ExerciseTeam(exercise=exercise, organisation=o) for o in orgs]
    )
    audit.record(
        actor, "drill.exercise_created", exercise,
        changes={"teams": sorted(o.pk for o in orgs)},
    )  # fmt: skip
    return exercise


@transaction.atomic
def add_team(actor: User, exercise: Exercise, organisation: Organisation) -> ExerciseTeam:
    require(actor, "exercise.control", exercise)
    if exercise.state != Exercise.State.DRAFT:
        raise ValidationError(_("Teams can only be added while the exercise is a draft."))
    team, _created = ExerciseTeam.objects.get_or_create(
        exercise=exercise, organisation=organisation
    )
    audit.record(actor, "drill.exercise_team_added", exercise, organisation_id=organisation.pk)
    return team


def _expectation_rows(expectations: Sequence[tuple[str, str, int]]) -> list[Expectation]:
    rows = []
    for kind, description, points in expectations:
        row = Expectation(kind=kind, description=description.strip(), points=points)
        if kind not in Expectation.Kind.values or not row.description or not 1 <= points <= 1000:
            raise ValidationError(
                {"expectations": _("Each expectation needs a kind, a text and 1-1000 points.")}
            )
        rows.append(row)
    return rows


@transaction.atomic
def add_inject(
    actor: User, exercise: Exercise, *, title: str, body_en: str, offset_minutes: int,
    channel: str = Inject.Channel.IN_APP, body_zh_hant: str = "",
    teams: Sequence[ExerciseTeam] | None = None,
    expectations: Sequence[tuple[str, str, int]] = (),
) -> Inject:  # fmt: skip
    """An inject `offset_minutes` after the start, to `teams` (all when none is named),
    with its expectations as (kind, description, points)."""
    require(actor, "exercise.control", exercise)
    exercise = Exercise.objects.get(pk=exercise.pk)
    if exercise.state not in (Exercise.State.DRAFT, Exercise.State.RUNNING):
        raise ValidationError(_("Injects can only be added before the exercise ends."))
    if not 0 <= offset_minutes <= MAX_OFFSET_MINUTES:
        raise ValidationError(
            {"offset_minutes": _("Between 0 and %(n)s minutes.") % {"n": MAX_OFFSET_MINUTES}}
        )
    inject = Inject(
        exercise=exercise, title=title.strip(), body_en=body_en.strip(),
        body_zh_hant=body_zh_hant.strip(), offset_minutes=offset_minutes, channel=channel,
    )  # fmt: skip
    inject.full_clean()
    chosen = list(teams) if teams else list(exercise.teams.all())
    if not chosen:
        raise ValidationError(_("The exercise has no team to send the inject to."))
    if any(t.exercise_id != exercise.pk for t in chosen):
        raise ValidationError({"teams": _("Choose teams of this exercise.")})
    rows = _expectation_rows(expectations)
    inject.save()
    inject.teams.set(chosen)
    for row in rows:
        row.inject = inject
    Expectation.objects.bulk_create(rows)
    audit.record(
        actor, "drill.inject_added", inject,
        changes={"offset_minutes": offset_minutes, "expectations": len(rows)},
    )  # fmt: skip
    return inject


def _pending(actor: User, inject: Inject) -> Inject:
    """The inject, locked, while it may still change: not delivered, exercise not ended."""
    require(actor, "exercise.control", inject.exercise)
    inject = Inject.objects.select_for_update().select_related("exercise").get(pk=inject.pk)
    if inject.delivered_at is not None:
        raise ValidationError(
            _(
                "This inject was delivered on %(when)s: a delivered inject cannot be changed "
                "or deleted (add a corrected one)."
            )
            % {"when": timezone.localtime(inject.delivered_at).strftime("%Y-%m-%d %H:%M")}
        )
    if inject.exercise.state not in (Exercise.State.DRAFT, Exercise.State.RUNNING):
        raise ValidationError(_("Injects can only be changed before the exercise ends."))
    return inject


@transaction.atomic
def update_inject(
    actor: User, inject: Inject, *, title: str, body_en: str, offset_minutes: int,
    channel: str = Inject.Channel.IN_APP, body_zh_hant: str = "",
    teams: Sequence[ExerciseTeam] | None = None,
    expectations: Sequence[tuple[str, str, int]] = (),
) -> Inject:  # fmt: skip
    """Change an inject not delivered yet (its text, offset, channel, teams, and its
    expectations, which replace the earlier ones); a delivered inject is immutable."""
    inject = _pending(actor, inject)
    if not 0 <= offset_minutes <= MAX_OFFSET_MINUTES:
        raise ValidationError(
            {"offset_minutes": _("Between 0 and %(n)s minutes.") % {"n": MAX_OFFSET_MINUTES}}
        )
    before = {
        "title": inject.title, "offset_minutes": inject.offset_minutes,
        "channel": inject.channel, "expectations": inject.expectations.count(),
    }  # fmt: skip
    inject.title, inject.body_en = title.strip(), body_en.strip()
    inject.body_zh_hant, inject.offset_minutes, inject.channel = (
        body_zh_hant.strip(), offset_minutes, channel,
    )  # fmt: skip
    inject.full_clean()
    exercise = inject.exercise
    chosen = list(teams) if teams else list(exercise.teams.all())
    if any(t.exercise_id != exercise.pk for t in chosen):
        raise ValidationError({"teams": _("Choose teams of this exercise.")})
    rows = _expectation_rows(expectations)
    inject.save()
    inject.teams.set(chosen)
    inject.expectations.all().delete()  # not delivered: no response or score names them
    for row in rows:
        row.inject = inject
    Expectation.objects.bulk_create(rows)
    after = {
        "title": inject.title, "offset_minutes": offset_minutes, "channel": channel,
        "expectations": len(rows),
    }  # fmt: skip
    audit.record(
        actor, "drill.inject_updated", inject,
        changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
    )  # fmt: skip
    return inject


@transaction.atomic
def delete_inject(actor: User, inject: Inject) -> None:
    """Delete an inject not delivered yet, with its expectations (audited)."""
    inject = _pending(actor, inject)
    exercise = inject.exercise
    audit.record(
        actor, "drill.inject_deleted", exercise,
        changes={"inject": inject.pk, "title": inject.title,
                 "offset_minutes": inject.offset_minutes},
    )  # fmt: skip
    inject.delete()


@transaction.atomic
def set_players(actor: User, team: ExerciseTeam, people: Iterable[User]) -> ExerciseTeam:
    """Name the players of a team (active members of the team's agency); an empty list
    goes back to the default: every member of the agency plays. Only they are told of an
    inject, by e-mail and in the platform, see its injects and respond."""
    exercise = Exercise.objects.get(pk=team.exercise_id)
    require(actor, "exercise.control", exercise)
    if exercise.state not in (Exercise.State.DRAFT, Exercise.State.RUNNING):
        raise ValidationError(_("Players can only be named before the exercise ends."))
    chosen = list(people)
    members = set(
        Membership.objects.filter(
            organisation_id=team.organisation_id, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    for person in chosen:
        if person.pk not in members:
            raise ValidationError(
                {
                    "players": _("%(u)s is not a member of %(o)s.")
                    % {"u": person.get_username(), "o": team.organisation.name}
                }
            )
    before = sorted(team.players.values_list("pk", flat=True))
    team.players.set(chosen)
    audit.record(
        actor, "drill.exercise_players", exercise,
        changes={"players": [before, sorted(p.pk for p in chosen)]},
        organisation_id=team.organisation_id,
    )  # fmt: skip
    return team


@transaction.atomic
def set_evaluators(actor: User, exercise: Exercise, people: Iterable[User]) -> Exercise:
    """Name the exercise's evaluators: CERT staff, and for an international exercise
    outside evaluators (who then see only this exercise's delivered injects, teams,
    responses and scores, and score them)."""
    require(actor, "exercise.control", exercise)
    exercise = Exercise.objects.select_for_update().get(pk=exercise.pk)
    if exercise.state == Exercise.State.REPORTED:
        raise ValidationError(_("The report is published: the evaluators are final."))
    chosen = _evaluators(people, exercise.scope)
    before = sorted(exercise.evaluators.values_list("pk", flat=True))
    exercise.evaluators.set(chosen)
    audit.record(
        actor, "drill.exercise_evaluators", exercise,
        changes={"evaluators": [before, sorted(p.pk for p in chosen)]},
    )  # fmt: skip
    return exercise


@transaction.atomic
def start(actor: User, exercise: Exercise) -> Exercise:
    """Draft -> running; the clock of every inject's offset starts now, and the injects
    due at once (offset 0) are delivered."""
    require(actor, "exercise.control", exercise)
    exercise = Exercise.objects.select_for_update().get(pk=exercise.pk)
    if exercise.state != Exercise.State.DRAFT:
        raise ValidationError(_("Only a draft exercise can be started."))
    if not exercise.teams.exists():
        raise ValidationError(_("Add a team before starting."))
    exercise.state = Exercise.State.RUNNING
    exercise.started_at = timezone.now()
    exercise.save(update_fields=["state", "started_at"])
    audit.record(actor, "drill.exercise_started", exercise, changes={"state": ["draft", "running"]})
    for inject in exercise.injects.filter(offset_minutes=0, delivered_at__isnull=True):
        _deliver(actor, inject, exercise.started_at)
    return exercise


def due_at(exercise: Exercise, inject: Inject) -> datetime:
    """When the inject is due: its offset from the start (the planned one before)."""
    return (exercise.started_at or exercise.planned_start) + timedelta(
        minutes=inject.offset_minutes
    )


def _players(inject: Inject) -> list[User]:
    """Who an inject goes to: per team, its named players, or every member of the
    team's agency when it names none."""
    named = ExerciseTeam.players.through.objects.filter(exerciseteam__in=inject.teams.all())
    listed = inject.teams.filter(pk__in=named.values("exerciseteam_id"))
    everyone = inject.teams.exclude(pk__in=listed.values("pk")).values("organisation_id")
    return list(
        User.objects.filter(
            Q(pk__in=Membership.objects.filter(organisation_id__in=everyone).values("user_id"))
            | Q(pk__in=named.values("user_id")),
            is_active=True,
        )
    )


def _deliver(actor: User | None, inject: Inject, now: datetime) -> Inject:
    inject.delivered_at = now
    inject.delivered_by = actor
    inject.save(update_fields=["delivered_at", "delivered_by"])
    exercise = inject.exercise
    url = f"/drills/exercises/{exercise.pk}/"
    people = _players(inject)
    text = _("Exercise %(x)s: new inject “%(t)s”.") % {"x": exercise.title, "t": inject.title}
    notify(people, "exercise_inject", text, url=url, subject=f"inject:{inject.pk}")
    emails = sorted({p.email for p in people if p.email})
    if inject.channel == Inject.Channel.EMAIL and emails:
        link = settings.SITE_URL.rstrip("/") + url
        subject = f"[{_('Exercise')}] {exercise.title}: {inject.title}"
        body = "\n\n".join(b for b in (inject.body_en, inject.body_zh_hant, link) if b)
        html = (
            "".join(markdown_to_html(b) for b in (inject.body_en, inject.body_zh_hant) if b)
            + f'<p><a href="{link}">{link}</a></p>'
        )
        transaction.on_commit(partial(send_email.enqueue, subject, body, emails, html))
    audit.record(
        actor, "drill.inject_delivered", inject,
        changes={"players": len(people), "channel": inject.channel},
    )  # fmt: skip
    return inject


@transaction.atomic
def deliver(actor: User, inject: Inject) -> Inject:
    """The control team sends an inject now (before or after it is due)."""
    require(actor, "exercise.control", inject.exercise)
    inject = Inject.objects.select_for_update().select_related("exercise").get(pk=inject.pk)
    if inject.exercise.state != Exercise.State.RUNNING:
        raise ValidationError(_("Injects are delivered while the exercise runs."))
    if inject.delivered_at is not None:
        raise ValidationError(_("This inject is already delivered."))
    return _deliver(actor, inject, timezone.now())


@transaction.atomic
def deliver_due(now: datetime | None = None, exercise: Exercise | None = None) -> int:
    """Every running exercise's injects whose time has come, delivered once each (the
    periodic task, every minute; the control team's "deliver due injects" button)."""
    now = now or timezone.now()
    pending = (
        Inject.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("exercise")
        .filter(exercise__state=Exercise.State.RUNNING, delivered_at__isnull=True)
    )
    if exercise is not None:
        pending = pending.filter(exercise=exercise)
    delivered = 0
    for inject in pending:
        if due_at(inject.exercise, inject) <= now:
            _deliver(None, inject, now)
            delivered += 1
    return delivered


@transaction.atomic
def deliver_due_now(actor: User, exercise: Exercise) -> int:
    require(actor, "exercise.control", exercise)
    return deliver_due(exercise=exercise)


def _state(expectation: Expectation) -> str:
    """The exercise's state as stored now (the caller's copy may be older)."""
    return str(
        Exercise.objects.filter(injects__expectations=expectation)
        .values_list("state", flat=True)
        .get()
    )


def _delivered_to(expectation: Expectation, team: ExerciseTeam) -> Inject:
    inject = Inject.objects.select_related("exercise").get(pk=expectation.inject_id)
    if team.exercise_id != inject.exercise_id or not inject.teams.filter(pk=team.pk).exists():
        raise ValidationError(_("This inject was not sent to this team."))
    if inject.delivered_at is None:
        raise ValidationError(_("This inject is not delivered yet."))
    return inject


@transaction.atomic
def respond(actor: User, expectation: Expectation, team: ExerciseTeam, *, text: str) -> Any:
    """A player's answer for their team (a later answer replaces the earlier one)."""
    require(actor, "exercise.play", team)
    _delivered_to(expectation, team)
    if _state(expectation) != Exercise.State.RUNNING:
        raise ValidationError(_("Responses are taken while the exercise runs."))
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write the team's response.")})
    row, created = ExerciseResponse.objects.update_or_create(
        expectation=expectation, team=team,
        defaults={"text": text, "submitted_by": actor, "submitted_at": timezone.now()},
    )  # fmt: skip
    audit.record(
        actor, "drill.exercise_response", row, changes={"replaced": not created},
        organisation_id=team.organisation_id,
    )  # fmt: skip
    return row


@transaction.atomic
def score(
    actor: User, expectation: Expectation, team: ExerciseTeam, *, points: int, comment: str = ""
) -> ExerciseScore:
    """An evaluator scores one expectation for one team (0 to its points); scoring again
    replaces the score, and the change is audited."""
    exercise = Exercise.objects.get(injects__expectations=expectation)
    require(actor, "exercise.evaluate", exercise)
    _delivered_to(expectation, team)
    if exercise.state not in (Exercise.State.RUNNING, Exercise.State.ENDED):
        raise ValidationError(_("Scores are given while the exercise runs or before its report."))
    if not 0 <= points <= expectation.points:
        raise ValidationError({"score": _("A score from 0 to %(n)s.") % {"n": expectation.points}})
    before = ExerciseScore.objects.filter(expectation=expectation, team=team).first()
    row, _created = ExerciseScore.objects.update_or_create(
        expectation=expectation, team=team,
        defaults={"score": points, "comment": comment.strip(), "evaluator": actor,
                  "scored_at": timezone.now()},
    )  # fmt: skip
    audit.record(
        actor, "drill.exercise_scored", row,
        changes={"score": [before.score if before else None, points]},
        organisation_id=team.organisation_id,
    )  # fmt: skip
    return row


@transaction.atomic
def end(actor: User, exercise: Exercise) -> Exercise:
    require(actor, "exercise.control", exercise)
    exercise = Exercise.objects.select_for_update().get(pk=exercise.pk)
    if exercise.state != Exercise.State.RUNNING:
        raise ValidationError(_("Only a running exercise can be ended."))
    exercise.state = Exercise.State.ENDED
    exercise.ended_at = timezone.now()
    exercise.save(update_fields=["state", "ended_at"])
    audit.record(actor, "drill.exercise_ended", exercise, changes={"state": ["running", "ended"]})
    return exercise


@transaction.atomic
def write_lessons(actor: User, exercise: Exercise, *, lessons: str) -> Exercise:
    """The after-action report's lessons learned (Markdown), once the exercise ended."""
    require(actor, "exercise.control", exercise)
    exercise = Exercise.objects.select_for_update().get(pk=exercise.pk)
    if exercise.state not in (Exercise.State.ENDED, Exercise.State.REPORTED):
        raise ValidationError(_("The after-action report is written once the exercise ends."))
    exercise.lessons = lessons.strip()
    exercise.full_clean()
    exercise.save(update_fields=["lessons"])
    audit.record(actor, "drill.exercise_lessons", exercise)
    return exercise


@transaction.atomic
def publish_report(actor: User, exercise: Exercise) -> Exercise:
    """Ended -> reported: the teams' agencies are told the report is out."""
    require(actor, "exercise.control", exercise)
    exercise = Exercise.objects.select_for_update().get(pk=exercise.pk)
    if exercise.state != Exercise.State.ENDED:
        raise ValidationError(_("Only an ended exercise's report can be published."))
    if not exercise.lessons.strip():
        raise ValidationError({"lessons": _("Write the lessons learned first.")})
    exercise.state = Exercise.State.REPORTED
    exercise.reported_at = timezone.now()
    exercise.save(update_fields=["state", "reported_at"])
    admins = User.objects.filter(
        memberships__organisation__in=exercise.teams.values("organisation_id"),
        memberships__role=Role.ORG_ADMIN, is_active=True,
    ).distinct()  # fmt: skip
    notify(
        admins, "exercise_report",
        _("After-action report of %(x)s.") % {"x": exercise.title},
        url=f"/drills/exercises/{exercise.pk}/report/",
    )  # fmt: skip
    audit.record(
        actor, "drill.exercise_reported", exercise, changes={"state": ["ended", "reported"]}
    )
    return exercise


@transaction.atomic
def add_item(
    actor: User, exercise: Exercise, *, organisation: Organisation, title: str, due_on: date,
    owner: User | None = None,
) -> ImprovementItem:  # fmt: skip
    """An improvement an agency owes after the exercise, with an owner (one of the
    agency's people, or none yet) and a due date."""
    require(actor, "exercise.control", exercise)
    exercise = Exercise.objects.get(pk=exercise.pk)
    if exercise.state not in (Exercise.State.ENDED, Exercise.State.REPORTED):
        raise ValidationError(_("Improvement items are added once the exercise ends."))
    if not exercise.teams.filter(organisation=organisation).exists():
        raise ValidationError({"organisation": _("This agency has no team in the exercise.")})
    if (
        owner is not None
        and not Membership.objects.filter(user=owner, organisation=organisation).exists()
    ):
        raise ValidationError({"owner": _("The owner must be one of the agency's people.")})
    item = ImprovementItem(
        exercise=exercise, organisation=organisation, title=title.strip(), owner=owner,
        due_on=due_on, created_by=actor,
    )  # fmt: skip
    item.full_clean()
    item.save()
    if owner is not None:
        notify(
            [owner], "exercise_item", _("Improvement item: %(t)s") % {"t": item.title},
            url=f"/drills/exercises/{exercise.pk}/report/",
        )  # fmt: skip
    audit.record(actor, "drill.improvement_item_added", item, organisation_id=organisation.pk)
    return item


@transaction.atomic
def update_item(actor: User, item: ImprovementItem, *, state: str, note: str = "") -> Any:
    """Move an item on (open, in progress, done), with a note of what was done."""
    require(actor, "exercise.item", item)
    if state not in ImprovementItem.State.values:
        raise ValidationError({"state": _("Choose open, in progress or done.")})
    item = ImprovementItem.objects.select_for_update().get(pk=item.pk)
    before = item.state
    item.state = state
    if note.strip():
        item.note = note.strip()
    item.done_at = (item.done_at or timezone.now()) if state == ImprovementItem.State.DONE else None
    item.full_clean()
    item.save()
    audit.record(
        actor, "drill.improvement_item_updated", item, changes={"state": [before, state]},
        organisation_id=item.organisation_id,
    )  # fmt: skip
    return item
