"""Every write of the training app: verbs, one transaction each, an audit entry for what
an agency or the CERT would ask about later.

Learners act without being platform users: their verbs take the signed-in `Learner` and
check that the row is theirs. An answer save is not audited (300 learners saving at once
would queue on the audit chain's head; the answer row itself records when it was saved
and its revision); starting and finishing an attempt are.
"""

import csv
import hashlib
import io
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency import throttle
from bulwark.constituency.models import Organisation
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.core.tasks import send_email
from bulwark.training.engine import ctfd, xapi
from bulwark.training.engine import exam as engine
from bulwark.training.engine import hours as hours_engine
from bulwark.training.models import (
    AgencyTraining,
    Answer,
    Attempt,
    Category,
    Certificate,
    Competition,
    CompetitionResult,
    CompetitionTeam,
    Course,
    CourseStatus,
    Enrolment,
    Exam,
    HoursKind,
    HoursTotal,
    Learner,
    LearnerGroup,
    Lesson,
    LessonProgress,
    Participant,
    Question,
    RecordSource,
    ResponsibilityLevel,
    SignInLink,
    TrainingRecord,
    TrainingRole,
)

# A save sent just before the deadline may arrive a little after it.
ANSWER_GRACE = timedelta(seconds=15)
LINK_LIFETIME = timedelta(days=7)
MAX_IMPORT_ROWS = 50_000


class TrainingError(ValueError):
    """A request the training app refuses, with the reason for the person."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- Agencies and learners --------------------------------------------------------------


def set_agency_level(actor: Any, org: Organisation, level: str, profile: str = "tw") -> None:
    require(actor, "training.manage_learners", org)
    if level not in ResponsibilityLevel.values:
        raise TrainingError(_("Unknown responsibility level."))
    try:
        hours_engine.load_profile(profile)
    except hours_engine.ProfileError as exc:
        raise TrainingError(str(exc)) from exc
    with transaction.atomic():
        AgencyTraining.objects.update_or_create(
            organisation=org, defaults={"level": level, "profile": profile}
        )
        audit.record(actor, "training.agency_level", org, changes={"level": level},
                     organisation_id=org.pk)  # fmt: skip


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


LEARNER_COLUMNS = ("staff_id", "name", "email", "role")
ROLE_ALIASES = {
    **{value: value for value in TrainingRole.values},
    "security": "security_staff", "資安專職人員": "security_staff",
    "it": "it_staff", "資訊人員": "it_staff",
    "user": "general", "一般使用者": "general",
    "主管": "supervisor",
}  # fmt: skip


def _rows(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    rows = []
    for row in reader:
        clean = {
            (key or "").strip().lower(): (value or "").strip()
            for key, value in row.items()
            if isinstance(value, str)
        }
        rows.append((reader.line_num, clean))
        if len(rows) > MAX_IMPORT_ROWS:
            raise TrainingError(_("At most %(n)d rows per file.") % {"n": MAX_IMPORT_ROWS})
    return header, rows


def import_learners(actor: Any, org: Organisation, text: str) -> ImportResult:
    """Create or update an agency's learners from CSV (columns staff_id, name, email,
    role, and optionally unit, language, groups separated by ';'). A row with an error is
    reported with its line and reason and changes nothing; the other rows are kept."""
    require(actor, "training.manage_learners", org)
    header, rows = _rows(text)
    missing = [column for column in LEARNER_COLUMNS if column not in header]
    if missing:
        raise TrainingError(_("Missing columns: %(cols)s.") % {"cols": ", ".join(missing)})
    result = ImportResult()
    with transaction.atomic():
        for line, row in rows:
            try:
                created = _import_learner(org, row)
            except (ValidationError, TrainingError) as exc:
                result.errors.append((line, " ".join(getattr(exc, "messages", [str(exc)]))))
                continue
            if created:
                result.created += 1
            else:
                result.updated += 1
        audit.record(actor, "training.import_learners", org, organisation_id=org.pk,
                     changes={"created": result.created, "updated": result.updated,
                              "errors": len(result.errors)})  # fmt: skip
    return result


def _import_learner(org: Organisation, row: Mapping[str, str]) -> bool:
    staff_id, name, email = row.get("staff_id", ""), row.get("name", ""), row.get("email", "")
    if not staff_id or not name:
        raise TrainingError(_("staff_id and name are required."))
    if len(staff_id) > 64 or len(name) > 200:
        raise TrainingError(_("staff_id or name is too long."))
    try:
        validate_email(email)
    except ValidationError as exc:
        raise TrainingError(_("%(email)s is not an e-mail address.") % {"email": email}) from exc
    role = ROLE_ALIASES.get(row.get("role", "").lower())
    if role is None:
        raise TrainingError(
            _("Unknown role %(role)s (one of %(roles)s).")
            % {"role": row.get("role", ""), "roles": ", ".join(TrainingRole.values)}
        )
    email = email.lower()
    other = Learner.objects.filter(email=email).exclude(organisation=org, staff_id=staff_id)
    if other.exists():
        raise TrainingError(_("%(email)s belongs to another learner.") % {"email": email})
    language = row.get("language") or "zh-hant"
    with transaction.atomic():
        learner, created = Learner.objects.update_or_create(
            organisation=org,
            staff_id=staff_id,
            defaults={"name": name, "email": email, "role": role,
                      "unit": row.get("unit", "")[:200], "preferred_language": language[:10],
                      "is_active": True},
        )  # fmt: skip
        for group_name in filter(None, (g.strip() for g in row.get("groups", "").split(";"))):
            group, _created = LearnerGroup.objects.get_or_create(
                organisation=org, name=group_name[:100]
            )
            group.learners.add(learner)
    return created


def add_learner(
    actor: Any, org: Organisation, *, staff_id: str, name: str, email: str, role: str,
    unit: str = "", password: str | None = None,
) -> Learner:  # fmt: skip
    require(actor, "training.manage_learners", org)
    with transaction.atomic():
        _import_learner(org, {"staff_id": staff_id, "name": name, "email": email,
                              "role": role, "unit": unit})  # fmt: skip
        learner = Learner.objects.get(organisation=org, staff_id=staff_id)
        if password:
            learner.set_password(password)
            learner.save(update_fields=["password"])
        audit.record(actor, "training.add_learner", learner, organisation_id=org.pk)
    return learner


def deactivate_learner(actor: Any, learner: Learner) -> None:
    require(actor, "training.manage_learners", learner.organisation)
    with transaction.atomic():
        Learner.objects.filter(pk=learner.pk).update(is_active=False)
        SignInLink.objects.filter(learner=learner, used_at__isnull=True).delete()
        audit.record(actor, "training.deactivate_learner", learner,
                     organisation_id=learner.organisation_id)  # fmt: skip


def issue_sign_in_link(actor: Any, learner: Learner, base_url: str, *, mail: bool = True) -> str:
    """A one-time sign-in link (valid 7 days), e-mailed to the learner; returns the URL."""
    require(actor, "training.manage_learners", learner.organisation)
    if not learner.is_active:
        raise TrainingError(_("This learner is deactivated."))
    secret = secrets.token_urlsafe(32)
    url = f"{base_url.rstrip('/')}/training/learn/link/{secret}/"
    with transaction.atomic():
        SignInLink.objects.create(
            learner=learner, digest=_digest(secret), expires_at=timezone.now() + LINK_LIFETIME
        )
        audit.record(actor, "training.sign_in_link", learner,
                     organisation_id=learner.organisation_id)  # fmt: skip
        if mail:
            subject = _("Your sign-in link for security training")
            body = _(
                "Open this link to sign in to your security training (valid for 7 days, "
                "once):\n\n%(url)s\n"
            ) % {"url": url}
            emails = [learner.email]
            transaction.on_commit(lambda: send_email.enqueue(subject, body, emails))
    return url


def redeem_sign_in_link(secret: str) -> Learner | None:
    """The learner of an unused, unexpired link (the link is used up), or None."""
    with transaction.atomic():
        link = (
            SignInLink.objects.select_for_update()
            .select_related("learner")
            .filter(digest=_digest(secret), used_at__isnull=True, expires_at__gt=timezone.now())
            .first()
        )
        if link is None or not link.learner.is_active:
            return None
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
        Learner.objects.filter(pk=link.learner_id).update(last_login=link.used_at)
        return link.learner


def authenticate_learner(email: str, password: str, ip: str | None) -> Learner | None:
    """The active learner with this e-mail and password, or None; failures are throttled
    like the platform's own sign-in (per e-mail and per address)."""
    key = f"learner:{email.strip().lower()}"
    if throttle.is_blocked(key, ip):
        raise TrainingError(_("Too many failed sign-ins. Try again later."))
    learner = Learner.objects.filter(email=email.strip().lower(), is_active=True).first()
    if learner is None or not learner.check_password(password):
        throttle.record_failure(key, ip)
        return None
    Learner.objects.filter(pk=learner.pk).update(last_login=timezone.now())
    return learner


def set_own_password(learner: Learner, password: str) -> None:
    if len(password) < 10:
        raise TrainingError(_("Use at least 10 characters."))
    learner.set_password(password)
    learner.save(update_fields=["password"])


# --- Courses ------------------------------------------------------------------------------


def create_course(actor: Any, owner: Organisation, **fields: Any) -> Course:
    require(actor, "training.author", None)
    prerequisites = fields.pop("prerequisites", [])
    with transaction.atomic():
        course = Course(owner=owner, **fields)
        course.full_clean()
        course.save()
        course.prerequisites.set(prerequisites)
        require(actor, "training.author", course)
        audit.record(actor, "training.create_course", course, organisation_id=owner.pk)
    return course


def add_lesson(actor: Any, course: Course, **fields: Any) -> Lesson:
    require(actor, "training.author", course)
    with transaction.atomic():
        lesson = Lesson(course=course, **fields)
        lesson.full_clean()
        lesson.save()
        audit.record(actor, "training.add_lesson", course, changes={"lesson": lesson.title})
    return lesson


def set_exam(actor: Any, course: Course, **fields: Any) -> Exam:
    require(actor, "training.author", course)
    with transaction.atomic():
        exam, _created = Exam.objects.update_or_create(course=course, defaults=fields)
        audit.record(actor, "training.set_exam", course, changes=fields)
    return exam


def question_item(question: Question) -> engine.Item:
    options = question.options if isinstance(question.options, list) else []
    return engine.Item(
        id=question.pk,
        kind=engine.Kind(question.kind),
        options=tuple(str(o.get("id", "")) for o in options if isinstance(o, dict)),
        correct=frozenset(
            str(o.get("id", "")) for o in options if isinstance(o, dict) and o.get("correct")
        ),
    )


def add_question(
    actor: Any, exam: Exam, *, kind: str, text: str, options: list[dict[str, Any]],
    text_zh_hant: str = "",
) -> Question:  # fmt: skip
    """Add a question to the bank; options are {"id", "text", "text_zh_hant", "correct"}
    (a true/false question's ids are "true" and "false")."""
    require(actor, "training.author", exam.course)
    question = Question(exam=exam, kind=kind, text=text, text_zh_hant=text_zh_hant,
                        options=options)  # fmt: skip
    problems = question_item(question).problems()
    if problems:
        raise TrainingError("; ".join(problems))
    with transaction.atomic():
        question.full_clean()
        question.save()
        audit.record(actor, "training.add_question", exam.course, changes={"question": text[:80]})
    return question


def publish_course(actor: Any, course: Course) -> None:
    require(actor, "training.author", course)
    exam = Exam.objects.filter(course=course).first()
    if exam is not None:
        bank = exam.questions.filter(is_active=True).count()
        if bank < exam.questions_per_attempt:
            raise TrainingError(
                _("The exam draws %(n)d questions but its bank holds %(bank)d.")
                % {"n": exam.questions_per_attempt, "bank": bank}
            )
    with transaction.atomic():
        Course.objects.filter(pk=course.pk).update(status=CourseStatus.PUBLISHED)
        audit.record(actor, "training.publish_course", course)
    course.status = CourseStatus.PUBLISHED


# --- Enrolment and progress ---------------------------------------------------------------


def enrol(
    actor: Any, course: Course, org: Organisation, *, learners: Iterable[Learner] = (),
    role: str | None = None, group: LearnerGroup | None = None, everyone: bool = False,
) -> int:  # fmt: skip
    """Enrol an agency's learners in a published course: listed ones, everyone holding a
    statutory role, a group's members, or the whole agency. Returns how many were new."""
    require(actor, "training.manage_learners", org)
    if course.status != CourseStatus.PUBLISHED:
        raise TrainingError(_("Only a published course takes enrolments."))
    chosen = Learner.objects.filter(organisation=org, is_active=True)
    if everyone:
        source = Enrolment.Source.AGENCY
    elif role:
        chosen, source = chosen.filter(role=role), Enrolment.Source.ROLE
    elif group is not None:
        if group.organisation_id != org.pk:
            raise PermissionDenied
        chosen, source = chosen.filter(groups=group), Enrolment.Source.GROUP
    else:
        ids = [learner.pk for learner in learners]
        chosen, source = chosen.filter(pk__in=ids), Enrolment.Source.LEARNER
        if chosen.count() != len(set(ids)):
            raise TrainingError(_("Some learners are not active learners of this agency."))
    with transaction.atomic():
        known = set(Enrolment.objects.filter(course=course).values_list("learner_id", flat=True))
        new = [
            Enrolment(course=course, learner_id=pk, source=source, enrolled_by=actor)
            for pk in chosen.values_list("pk", flat=True)
            if pk not in known
        ]
        Enrolment.objects.bulk_create(new, batch_size=1000)
        audit.record(actor, "training.enrol", course, organisation_id=org.pk,
                     changes={"source": source, "enrolled": len(new)})  # fmt: skip
    return len(new)


def enrol_by_hook(course: Course, learner: Learner) -> bool:
    """Enrolment asked for by another app (e.g. drills, once it registers a hook): the
    platform acts; True when the learner was not enrolled yet."""
    with transaction.atomic():
        _enrolment, created = Enrolment.objects.get_or_create(
            course=course, learner=learner, defaults={"source": Enrolment.Source.HOOK}
        )
        if created:
            audit.record(None, "training.enrol", course,
                         organisation_id=learner.organisation_id,
                         changes={"source": "hook", "learner": learner.pk})  # fmt: skip
    return created


def enrol_from_another_app(organisation_id: int, email: str, course_code: str) -> bool:
    """`core.registry.TRAINING_ENROLMENT`: enrol the agency's learner with this e-mail in
    the published course; False when there is no such learner or course, or when the
    learner was enrolled already."""
    learner = Learner.objects.filter(
        organisation_id=organisation_id, email=email.strip().lower(), is_active=True
    ).first()
    course = Course.objects.filter(code=course_code, status=CourseStatus.PUBLISHED).first()
    if learner is None or course is None:
        return False
    return enrol_by_hook(course, learner)


def _enrolment(learner: Learner, course: Course) -> Enrolment:
    enrolment = Enrolment.objects.filter(learner=learner, course=course).first()
    if enrolment is None or course.status != CourseStatus.PUBLISHED:
        raise PermissionDenied(_("You are not enrolled in this course."))
    return enrolment


def missing_prerequisites(learner: Learner, course: Course) -> list[Course]:
    done = set(
        Enrolment.objects.filter(learner=learner, completed_at__isnull=False).values_list(
            "course_id", flat=True
        )
    )
    return [c for c in course.prerequisites.all() if c.pk not in done]


def complete_lesson(learner: Learner, lesson: Lesson) -> None:
    """Mark a lesson read (idempotent); a course without an exam is completed, with its
    hours credited, when its last lesson is."""
    enrolment = _enrolment(learner, lesson.course)
    if missing_prerequisites(learner, lesson.course):
        raise TrainingError(_("Complete the prerequisite courses first."))
    with transaction.atomic():
        LessonProgress.objects.get_or_create(enrolment=enrolment, lesson=lesson)
        course = lesson.course
        if not Exam.objects.filter(course=course).exists():
            done = LessonProgress.objects.filter(enrolment=enrolment).count()
            if done >= course.lessons.count() and enrolment.completed_at is None:
                _complete(enrolment, timezone.now(), None)


def _complete(enrolment: Enrolment, now: datetime, attempt: Attempt | None) -> Certificate:
    course = enrolment.course
    learner = enrolment.learner
    Enrolment.objects.filter(pk=enrolment.pk).update(completed_at=now)
    add_record(learner, completed_on=timezone.localdate(now), hours=course.hours,
               kind=course.hours_kind, title=course.title, provider=course.owner.name,
               source=RecordSource.COURSE, course=course,
               external_id=f"course:{course.pk}")  # fmt: skip
    certificate = Certificate.objects.create(
        learner=learner, course=course, attempt=attempt, holder_name=learner.name,
        title=course.title, title_zh_hant=course.title_zh_hant, hours=course.hours,
        hours_kind=course.hours_kind, issued_at=now,
    )  # fmt: skip
    audit.record(None, "training.complete_course", course, organisation_id=learner.organisation_id,
                 changes={"learner": learner.pk, "certificate": certificate.code})  # fmt: skip
    return certificate


# --- Exams ----------------------------------------------------------------------------------


def _items(exam: Exam) -> dict[int, engine.Item]:
    return {q.pk: question_item(q) for q in Question.objects.filter(exam=exam)}


def start_attempt(learner: Learner, exam: Exam, now: datetime | None = None) -> Attempt:
    """A new attempt (its questions drawn from the bank with a fresh seed), or the open one
    when there is one on time."""
    now = now or timezone.now()
    _enrolment(learner, exam.course)
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
            _complete(enrolment, end, attempt)


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


# --- Hours records ----------------------------------------------------------------------------


def add_record(learner: Learner, *, completed_on: date, hours: Decimal, kind: str, title: str,
               provider: str = "", source: str, course: Course | None = None,
               external_id: str = "") -> TrainingRecord | None:  # fmt: skip
    """One record and its hours added to the learner's totals, in one transaction; None
    when a record with the same source id exists (an import run twice adds nothing)."""
    if kind not in HoursKind.values:
        raise TrainingError(_("Unknown kind of hours %(kind)s.") % {"kind": kind})
    if hours <= 0 or hours > 1000:
        raise TrainingError(_("Hours must be between 0 and 1000."))
    with transaction.atomic():
        if (
            external_id
            and TrainingRecord.objects.filter(
                learner=learner, source=source, external_id=external_id
            ).exists()
        ):
            return None
        record = TrainingRecord.objects.create(
            learner=learner, organisation_id=learner.organisation_id, completed_on=completed_on,
            year=completed_on.year, hours=hours, kind=kind, title=title[:300],
            provider=provider[:200], source=source, course=course, external_id=external_id,
        )  # fmt: skip
        total, _created = HoursTotal.objects.get_or_create(
            learner=learner, year=completed_on.year, kind=kind,
            defaults={"organisation_id": learner.organisation_id},
        )  # fmt: skip
        HoursTotal.objects.filter(pk=total.pk).update(hours=F("hours") + hours)
    return record


@dataclass(frozen=True)
class RecordMapping:
    """Which CSV column holds what, for a portal's export (names are case-insensitive)."""

    email: str = "email"
    staff_id: str = "staff_id"
    title: str = "title"
    date: str = "date"
    hours: str = "hours"
    kind: str = "kind"
    provider: str = "provider"
    record_id: str = "id"
    # Values of the kind column meaning professional / general (anything else: an error).
    professional: tuple[str, ...] = ("professional", "專業")
    general: tuple[str, ...] = ("general", "通識", "一般")


def import_records(
    actor: Any, org: Organisation, text: str, mapping: RecordMapping | None = None
) -> ImportResult:
    """Import outside training records (a government e-learning portal's CSV) for an
    agency's learners, matched by e-mail or staff number; each bad row is reported with
    its line and reason; a row already imported (same record id) is skipped."""
    require(actor, "training.manage_learners", org)
    mapping = mapping or RecordMapping()
    header, rows = _rows(text)
    needed = [mapping.title.lower(), mapping.date.lower(), mapping.hours.lower()]
    missing = [c for c in needed if c not in header]
    if mapping.email.lower() not in header and mapping.staff_id.lower() not in header:
        missing.append(f"{mapping.email} / {mapping.staff_id}")
    if missing:
        raise TrainingError(_("Missing columns: %(cols)s.") % {"cols": ", ".join(missing)})
    by_email = {l.email: l for l in Learner.objects.filter(organisation=org)}  # noqa: E741
    by_staff = {l.staff_id: l for l in by_email.values()}  # noqa: E741
    result = ImportResult()
    with transaction.atomic():
        for line, row in rows:
            try:
                learner = by_email.get(row.get(mapping.email.lower(), "").lower()) or by_staff.get(
                    row.get(mapping.staff_id.lower(), "")
                )
                if learner is None:
                    raise TrainingError(
                        _("No learner of this agency with that e-mail or staff number.")
                    )
                record = add_record(learner, **_record_fields(row, mapping))
            except TrainingError as exc:
                result.errors.append((line, str(exc)))
                continue
            if record is None:
                result.skipped += 1
            else:
                result.created += 1
        audit.record(actor, "training.import_records", org, organisation_id=org.pk,
                     changes={"created": result.created, "skipped": result.skipped,
                              "errors": len(result.errors)})  # fmt: skip
    return result


def _record_fields(row: Mapping[str, str], mapping: RecordMapping) -> dict[str, Any]:
    raw_date = row.get(mapping.date.lower(), "")
    try:
        completed_on = date.fromisoformat(raw_date.replace("/", "-"))
    except ValueError as exc:
        raise TrainingError(
            _("%(value)s is not a date (YYYY-MM-DD).") % {"value": raw_date}
        ) from exc
    raw_hours = row.get(mapping.hours.lower(), "")
    try:
        hours = Decimal(raw_hours).quantize(Decimal("0.1"))
    except InvalidOperation as exc:
        raise TrainingError(
            _("%(value)s is not a number of hours.") % {"value": raw_hours}
        ) from exc
    raw_kind = row.get(mapping.kind.lower(), "").strip().lower()
    if raw_kind in mapping.professional:
        kind = HoursKind.PROFESSIONAL
    elif raw_kind in mapping.general:
        kind = HoursKind.GENERAL
    else:
        raise TrainingError(
            _("%(value)s is neither general nor professional.") % {"value": raw_kind}
        )
    title = row.get(mapping.title.lower(), "")
    if not title:
        raise TrainingError(_("The title is empty."))
    return {
        "completed_on": completed_on, "hours": hours, "kind": str(kind), "title": title,
        "provider": row.get(mapping.provider.lower(), ""), "source": RecordSource.IMPORT,
        "external_id": row.get(mapping.record_id.lower(), "")[:200],
    }  # fmt: skip


def send_reminders(actor: Any, org: Organisation, year: int, behind: list[Learner]) -> int:
    """E-mail each learner who is behind for the year what they still miss (the caller
    passes the selector's list, so the page and the mail agree)."""
    require(actor, "training.manage_learners", org)
    with transaction.atomic():
        for learner in behind:
            subject = _("Security training hours for %(year)d") % {"year": year}
            body = _(
                "Your agency's records show you have not yet completed the security training "
                "hours required for %(year)d. Sign in to your training to see what is left."
            ) % {"year": year}
            emails = [learner.email]
            transaction.on_commit(
                lambda s=subject, b=body, e=emails: send_email.enqueue(s, b, e)  # type: ignore[misc]
            )
        audit.record(actor, "training.remind", org, organisation_id=org.pk,
                     changes={"year": year, "reminded": len(behind)})  # fmt: skip
    return len(behind)


# --- xAPI ---------------------------------------------------------------------------------


def xapi_statements(records: Iterable[TrainingRecord], base_url: str) -> list[dict[str, Any]]:
    """The records as xAPI 1.0.3 statements (a read: the caller passes `visible_to` rows)."""
    namespace = base_url.rstrip("/") + "/training"
    out = []
    for record in records:
        course = record.course
        activity = (
            f"{namespace}/courses/{course.code}"
            if course is not None
            else f"{namespace}/records/{record.pk}"
        )
        out.append(xapi.to_statement(xapi.RecordOut(
            record_key=f"record:{record.pk}", email=record.learner.email,
            name=record.learner.name, activity_id=activity, title=record.title,
            title_zh_hant=course.title_zh_hant if course is not None else "",
            completed_on=record.completed_on, hours=record.hours, kind=record.kind,
        ), namespace))  # fmt: skip
    return out


def import_statements(actor: Any, org: Organisation, statements: Any) -> ImportResult:
    """Records out of xAPI statements (a list, as a learning record store returns them)
    for the agency's learners; a statement imported before (same id) is skipped, one that
    breaks the xAPI rules or is not a completion is reported with its position."""
    require(actor, "training.manage_learners", org)
    if isinstance(statements, dict) and isinstance(statements.get("statements"), list):
        statements = statements["statements"]
    if not isinstance(statements, list):
        raise TrainingError(_("Send a list of xAPI statements."))
    if len(statements) > MAX_IMPORT_ROWS:
        raise TrainingError(_("At most %(n)d rows per file.") % {"n": MAX_IMPORT_ROWS})
    by_email = {learner.email: learner for learner in Learner.objects.filter(organisation=org)}
    result = ImportResult()
    with transaction.atomic():
        for index, statement in enumerate(statements, start=1):
            try:
                found = xapi.from_statement(statement)
                learner = by_email.get(found.email)
                if learner is None:
                    raise TrainingError(_("No learner of this agency with that e-mail."))
                record = add_record(learner, completed_on=found.completed_on, hours=found.hours,
                                    kind=found.kind, title=found.title, source=RecordSource.XAPI,
                                    external_id=found.statement_id)  # fmt: skip
            except (xapi.StatementError, TrainingError) as exc:
                result.errors.append((index, str(exc)))
                continue
            if record is None:
                result.skipped += 1
            else:
                result.created += 1
        audit.record(actor, "training.import_xapi", org, organisation_id=org.pk,
                     changes={"created": result.created, "skipped": result.skipped,
                              "errors": len(result.errors)})  # fmt: skip
    return result


# --- Competitions -------------------------------------------------------------------------


def create_competition(actor: Any, organiser: Organisation, **fields: Any) -> Competition:
    require(actor, "training.run_competitions", organiser)
    with transaction.atomic():
        competition = Competition(organiser=organiser, **fields)
        competition.full_clean()
        competition.save()
        audit.record(actor, "training.create_competition", competition,
                     organisation_id=organiser.pk)  # fmt: skip
    return competition


def register_participant(
    competition: Competition, *, name: str, email: str, category: str, school: str = "",
    region: str = "", organisation: Organisation | None = None, team_name: str = "",
) -> Participant:  # fmt: skip
    """Registration from the public form (no account needed): one per e-mail address and
    competition; in team mode a team is found or created by its name."""
    if not competition.registration_open:
        raise TrainingError(_("Registration for this competition is closed."))
    if category not in Category.values:
        raise TrainingError(_("Choose school, agency or public."))
    try:
        validate_email(email)
    except ValidationError as exc:
        raise TrainingError(_("%(email)s is not an e-mail address.") % {"email": email}) from exc
    if not name.strip():
        raise TrainingError(_("Your name is required."))
    if category == Category.SCHOOL and not school.strip():
        raise TrainingError(_("Name your school."))
    with transaction.atomic():
        team = None
        if competition.team_mode:
            if not team_name.strip():
                raise TrainingError(_("This competition is for teams: name your team."))
            team, _created = CompetitionTeam.objects.get_or_create(
                competition=competition, name=team_name.strip()[:128],
                defaults={"category": category, "school": school[:200], "region": region[:100],
                          "organisation": organisation},
            )  # fmt: skip
        participant, created = Participant.objects.get_or_create(
            competition=competition, email=email.strip().lower(),
            defaults={"name": name.strip()[:200], "category": category, "school": school[:200],
                      "region": region[:100], "organisation": organisation, "team": team},
        )  # fmt: skip
        if not created:
            raise TrainingError(_("This e-mail address is registered already."))
        audit.record(None, "training.register", competition,
                     changes={"participant": participant.pk})  # fmt: skip
    return participant


@dataclass
class CtfdImport:
    results: int = 0
    unmatched: list[str] = field(default_factory=list)
    certificates: int = 0


def import_ctfd_results(actor: Any, competition: Competition, data: bytes) -> CtfdImport:
    """The final scoreboard from CTFd's export zip, matched to registrations by e-mail
    (users) or team name (teams); importing again replaces the results. Every registered
    participant with a score gets a certificate of participation."""
    require(actor, "training.run_competitions", competition.organiser)
    try:
        standings = ctfd.read_export(data)
    except ctfd.ExportError as exc:
        raise TrainingError(str(exc)) from exc
    if standings.team_mode != competition.team_mode:
        raise TrainingError(
            _("The export is in %(mode)s mode; this competition is not.")
            % {"mode": "team" if standings.team_mode else "user"}
        )
    people = {p.email: p for p in Participant.objects.filter(competition=competition)}
    teams = {t.name.lower(): t for t in CompetitionTeam.objects.filter(competition=competition)}
    summary = CtfdImport()
    with transaction.atomic():
        CompetitionResult.objects.filter(competition=competition).delete()
        rows = []
        for account in standings.accounts:
            participant = None if standings.team_mode else people.get(account.email.lower())
            team = teams.get(account.name.lower()) if standings.team_mode else None
            if participant is None and team is None:
                summary.unmatched.append(account.name)
            owner = participant or team
            rows.append(CompetitionResult(
                competition=competition, participant=participant, team=team,
                organisation=owner.organisation if owner is not None else None,
                name=account.name[:200], ctfd_id=account.ctfd_id, rank=account.rank,
                score=account.score, solves=account.solves,
            ))  # fmt: skip
        CompetitionResult.objects.bulk_create(rows)
        summary.results = len(rows)
        scored = {r.participant_id for r in rows if r.participant_id and r.score > 0}
        scored |= set(
            Participant.objects.filter(
                team_id__in=[r.team_id for r in rows if r.team_id and r.score > 0]
            ).values_list("pk", flat=True)
        )
        has = set(Certificate.objects.filter(participant_id__in=scored).values_list(
            "participant_id", flat=True))  # fmt: skip
        for participant in Participant.objects.filter(pk__in=scored - has):
            Certificate.objects.create(
                participant=participant, holder_name=participant.name,
                title=competition.name, title_zh_hant=competition.name_zh_hant,
            )  # fmt: skip
            summary.certificates += 1
        Competition.objects.filter(pk=competition.pk).update(results_imported_at=timezone.now())
        audit.record(actor, "training.import_ctfd", competition,
                     organisation_id=competition.organiser_id,
                     changes={"results": summary.results, "unmatched": len(summary.unmatched),
                              "certificates": summary.certificates})  # fmt: skip
    return summary
