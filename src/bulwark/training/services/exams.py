"""Exam attempts: the seeded draw, answers saved as given, finishing and scoring, expiry."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.core import audit
from bulwark.training.engine import exam as engine
from bulwark.training.models import (
    Answer,
    Attempt,
    Enrolment,
    Exam,
    Learner,
    Question,
)
from bulwark.training.services.common import ANSWER_GRACE, TrainingError
from bulwark.training.services.courses import (
    complete_enrolment,
    enrolment_of,
    missing_prerequisites,
    question_item,
)


def _items(exam: Exam) -> dict[int, engine.Item]:
    return {q.pk: question_item(q) for q in Question.objects.filter(exam=exam)}


def start_attempt(learner: Learner, exam: Exam, now: datetime | None = None) -> Attempt:
    """A new attempt (its questions drawn from the bank with a fresh seed), or the open one
    when there is one on time."""
    now = now or timezone.now()
    enrolment_of(learner, exam.course)
    if missing_prerequisites(learner, exam.course):
        raise TrainingError(_("Complete the prerequisite courses first."))
    with transaction.atomic():
        # Serialise one learner's starts: two tabs never open two attempts.
        Learner.objects.select_for_update().filter(pk=learner.pk).first()
        past = list(Attempt.objects.filter(exam=exam, learner=learner))
        for attempt in past:
            if attempt.finished_at is None:
                if engine.on_time(attempt.deadline, now, timedelta(0)):
                    return attempt
                _finish(attempt, attempt.deadline or now)
        reason = engine.may_retake(
            [engine.PastAttempt(a.started_at, True, a.passed) for a in past],
            exam.max_attempts, timedelta(hours=exam.retake_wait_hours), now,
        )  # fmt: skip
        if reason is not None:
            raise TrainingError(_RETAKE_REASONS.get(reason, reason))
        items = [question_item(q) for q in Question.objects.filter(exam=exam, is_active=True)]
        seed = secrets.randbits(62)
        drawn = engine.draw(items, exam.questions_per_attempt, seed)
        limit = exam.time_limit_minutes
        attempt = Attempt.objects.create(
            exam=exam, learner=learner, number=len(past) + 1, seed=seed,
            drawn=[[d.item_id, list(d.option_order)] for d in drawn], started_at=now,
            deadline=now + timedelta(minutes=limit) if limit else None,
        )  # fmt: skip
        audit.record(None, "training.start_attempt", attempt,
                     organisation_id=learner.organisation_id,
                     object_label=f"{learner} / {exam.course.code} #{attempt.number}")  # fmt: skip
    return attempt


_RETAKE_REASONS = {
    "already passed": _("You have passed this exam already."),
    "no attempts left": _("You have no attempts left for this exam."),
    "too early for a retake": _("A retake is not open yet."),
}


@dataclass(frozen=True)
class Saved:
    revision: int
    chosen: list[str]
    applied: bool  # False: an older or repeated save, nothing changed


def save_answer(
    learner: Learner, attempt_id: int, question_id: int, chosen: list[str], revision: int,
    now: datetime | None = None,
) -> Saved:  # fmt: skip
    """Keep the learner's answer as given. Idempotent: the client numbers its saves per
    question, so a save repeated after a lost connection, or an older one arriving late,
    changes nothing and reports what is kept.

    The hot path of an exam (300 learners at once): two indexed reads and one statement
    that inserts the answer or replaces it only when its revision is higher, so the
    highest revision wins even between concurrent saves, without a transaction of its own
    (on SQLite the single statement waits for the write lock like any other)."""
    now = now or timezone.now()
    row = (
        Attempt.objects.filter(pk=attempt_id, learner=learner)
        .values_list("finished_at", "deadline", "drawn")
        .first()
    )
    if row is None:
        raise PermissionDenied(_("Not your attempt."))
    finished_at, deadline, drawn = row
    if finished_at is not None:
        raise TrainingError(_("This attempt is finished."))
    if not engine.on_time(deadline, now, ANSWER_GRACE):
        raise TrainingError(_("The time for this attempt is up."))
    if question_id not in {int(drawn_row[0]) for drawn_row in drawn}:
        raise TrainingError(_("This question is not part of the attempt."))
    kind, options = Question.objects.values_list("kind", "options").get(pk=question_id)
    item = question_item(Question(pk=question_id, kind=kind, options=options))
    try:
        picked = sorted(engine.check_answer(item, chosen))
    except engine.AnswerError as exc:
        raise TrainingError(str(exc)) from exc
    if _upsert_answer(attempt_id, question_id, picked, revision, now):
        return Saved(revision, picked, True)
    kept_revision, kept_chosen = Answer.objects.values_list("revision", "chosen").get(
        attempt_id=attempt_id, question_id=question_id
    )
    return Saved(kept_revision, list(kept_chosen), False)


def _upsert_answer(
    attempt_id: int, question_id: int, picked: list[str], revision: int, now: datetime
) -> bool:
    """Insert the answer, or replace the kept one when `revision` is higher; True when
    the row was written. One statement (SQLite >= 3.24 and PostgreSQL both have
    `ON CONFLICT ... DO UPDATE ... WHERE`; the ORM's upsert has no condition)."""
    meta = Answer._meta
    q = connection.ops.quote_name
    table = q(meta.db_table)
    sql = (
        f"INSERT INTO {table} ({q('attempt_id')}, {q('question_id')}, {q('chosen')}, "  # noqa: S608
        f"{q('revision')}, {q('saved_at')}) VALUES (%s, %s, %s, %s, %s) "
        f"ON CONFLICT ({q('attempt_id')}, {q('question_id')}) DO UPDATE SET "
        f"{q('chosen')} = excluded.{q('chosen')}, {q('revision')} = excluded.{q('revision')}, "
        f"{q('saved_at')} = excluded.{q('saved_at')} "
        f"WHERE {table}.{q('revision')} < excluded.{q('revision')}"
    )
    params = [
        attempt_id,
        question_id,
        meta.get_field("chosen").get_db_prep_save(picked, connection),
        revision,
        meta.get_field("saved_at").get_db_prep_save(now, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.rowcount)


def finish_attempt(learner: Learner, attempt: Attempt, now: datetime | None = None) -> Attempt:
    if attempt.learner_id != learner.pk:
        raise PermissionDenied(_("Not your attempt."))
    now = now or timezone.now()
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.finished_at is None:
            end = now
            if locked.deadline is not None and now > locked.deadline:
                end = locked.deadline
            _finish(locked, end)
    return Attempt.objects.get(pk=attempt.pk)


def _finish(attempt: Attempt, end: datetime) -> None:
    """Score an attempt from the answers kept (those saved in time) and, when it passes,
    complete the course: record the hours and issue the certificate."""
    exam = attempt.exam
    items = _items(exam)
    answers = {
        a.question_id: frozenset(a.chosen)
        for a in Answer.objects.filter(attempt=attempt, saved_at__lte=end + ANSWER_GRACE)
    }
    result = engine.score(items, attempt.question_ids, answers, exam.pass_mark)
    Attempt.objects.filter(pk=attempt.pk).update(
        finished_at=end, right=result.right, percent=Decimal(str(result.percent)),
        passed=result.passed,
    )  # fmt: skip
    audit.record(None, "training.finish_attempt", attempt,
                 organisation_id=attempt.learner.organisation_id,
                 object_label=f"{attempt.learner} / {exam.course.code} #{attempt.number}",
                 changes={"percent": result.percent, "passed": result.passed})  # fmt: skip
    if result.passed:
        attempt.refresh_from_db()
        enrolment = Enrolment.objects.get(course=exam.course, learner=attempt.learner)
        if enrolment.completed_at is None:
            complete_enrolment(enrolment, end, attempt)


def close_expired_attempts(now: datetime | None = None) -> int:
    """Finish every attempt whose time is up (the periodic task; a learner's next request
    does the same for their own)."""
    now = now or timezone.now()
    closed = 0
    for attempt in Attempt.objects.filter(finished_at__isnull=True, deadline__lt=now):
        with transaction.atomic():
            locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
            if locked.finished_at is None and locked.deadline is not None:
                _finish(locked, locked.deadline)
                closed += 1
    return closed
