"""Exam attempts: the seeded draw, answers saved as given, finishing and scoring, expiry."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
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
    changes nothing and reports what is kept."""
    now = now or timezone.now()
    attempt = Attempt.objects.filter(pk=attempt_id, learner=learner).first()
    if attempt is None:
        raise PermissionDenied(_("Not your attempt."))
    if attempt.finished_at is not None:
        raise TrainingError(_("This attempt is finished."))
    if not engine.on_time(attempt.deadline, now, ANSWER_GRACE):
        raise TrainingError(_("The time for this attempt is up."))
    if question_id not in attempt.question_ids:
        raise TrainingError(_("This question is not part of the attempt."))
    question = Question.objects.get(pk=question_id)
    try:
        picked = sorted(engine.check_answer(question_item(question), chosen))
    except engine.AnswerError as exc:
        raise TrainingError(str(exc)) from exc
    updated = Answer.objects.filter(
        attempt=attempt, question_id=question_id, revision__lt=revision
    ).update(chosen=picked, revision=revision, saved_at=now)
    if updated:
        return Saved(revision, picked, True)
    try:
        with transaction.atomic():
            Answer.objects.create(attempt=attempt, question_id=question_id, chosen=picked,
                                  revision=revision, saved_at=now)  # fmt: skip
        return Saved(revision, picked, True)
    except IntegrityError:
        kept = Answer.objects.get(attempt=attempt, question_id=question_id)
        if kept.revision < revision:  # a concurrent first save of an older revision won
            Answer.objects.filter(pk=kept.pk, revision__lt=revision).update(
                chosen=picked, revision=revision, saved_at=now
            )
            return Saved(revision, picked, True)
        return Saved(kept.revision, list(kept.chosen), False)


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
