"""Courses, lessons, exams' question banks, publication, enrolment and progress."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Organisation, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.training.engine import exam as engine
from bulwark.training.models import (
    Answer,
    Attempt,
    Certificate,
    Course,
    CourseStatus,
    Enrolment,
    Exam,
    Learner,
    LearnerGroup,
    Lesson,
    LessonProgress,
    Question,
    RecordSource,
)
from bulwark.training.services.common import TrainingError
from bulwark.training.services.records import add_record


def create_course(actor: User, owner: Organisation, **fields: Any) -> Course:
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


def add_lesson(actor: User, course: Course, **fields: Any) -> Lesson:
    require(actor, "training.author", course)
    with transaction.atomic():
        lesson = Lesson(course=course, **fields)
        lesson.full_clean()
        lesson.save()
        audit.record(actor, "training.add_lesson", course, changes={"lesson": lesson.title})
    return lesson


def set_exam(actor: User, course: Course, **fields: Any) -> Exam:
    require(actor, "training.author", course)
    with transaction.atomic():
        exam, _created = Exam.objects.update_or_create(course=course, defaults=fields)
        bank = _active_bank(exam)
        if course.status == CourseStatus.PUBLISHED and bank < exam.questions_per_attempt:
            raise TrainingError(
                _("The exam draws %(n)d questions but its bank holds %(bank)d.")
                % {"n": exam.questions_per_attempt, "bank": bank}
            )
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
    actor: User, exam: Exam, *, kind: str, text: str, options: list[dict[str, Any]],
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


def publish_course(actor: User, course: Course) -> None:
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
    actor: User, course: Course, org: Organisation, *, learners: Iterable[Learner] = (),
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
        restored = 0
        if source == Enrolment.Source.LEARNER:
            # Enrolling a withdrawn learner by name restores the enrolment (and its
            # progress); enrolling a whole agency, role or group leaves the withdrawn out.
            restored = Enrolment.objects.filter(
                course=course, learner__in=chosen, withdrawn_at__isnull=False
            ).update(withdrawn_at=None, withdrawn_by=None)
        audit.record(actor, "training.enrol", course, organisation_id=org.pk,
                     changes={"source": source, "enrolled": len(new), "restored": restored,
                              **({"learners": sorted(e.learner_id for e in new)}
                                 if source == Enrolment.Source.LEARNER else {})})  # fmt: skip
    return len(new) + restored


def withdraw_enrolment(actor: User, enrolment: Enrolment) -> Enrolment:
    """Withdraw a learner from a course: the course leaves their list and they can no
    longer open it or start its exam; what they did (lessons read, attempts, records,
    certificates) is kept, and enrolling them again by name restores it all."""
    learner = enrolment.learner
    require(actor, "training.manage_learners", learner.organisation)
    with transaction.atomic():
        current = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if current.withdrawn_at is not None:
            raise TrainingError(_("This enrolment is withdrawn already."))
        current.withdrawn_at, current.withdrawn_by = timezone.now(), actor
        current.save(update_fields=["withdrawn_at", "withdrawn_by"])
        audit.record(actor, "training.withdraw", current.course,
                     organisation_id=learner.organisation_id,
                     changes={"learner": learner.pk, "staff_id": learner.staff_id,
                              "completed": current.completed_at is not None})  # fmt: skip
    return current


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


def enrolment_of(learner: Learner, course: Course) -> Enrolment:
    enrolment = Enrolment.objects.filter(
        learner=learner, course=course, withdrawn_at__isnull=True
    ).first()
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
    enrolment = enrolment_of(learner, lesson.course)
    if missing_prerequisites(learner, lesson.course):
        raise TrainingError(_("Complete the prerequisite courses first."))
    with transaction.atomic():
        LessonProgress.objects.get_or_create(enrolment=enrolment, lesson=lesson)
        course = lesson.course
        if not Exam.objects.filter(course=course).exists():
            done = LessonProgress.objects.filter(enrolment=enrolment, lesson__is_active=True)
            if done.count() >= course.lessons.filter(is_active=True).count() and (
                enrolment.completed_at is None
            ):
                complete_enrolment(enrolment, timezone.now(), None)


def complete_enrolment(enrolment: Enrolment, now: datetime, attempt: Attempt | None) -> Certificate:
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


# --- Editing and retiring ---------------------------------------------------------------

COURSE_FIELDS = ("title", "title_zh_hant", "summary", "summary_zh_hant", "hours", "hours_kind")
LESSON_FIELDS = ("position", "title", "title_zh_hant", "body", "body_zh_hant", "video_url",
                 "attachment")  # fmt: skip


def update_course(actor: User, course: Course, **fields: Any) -> Course:
    """Change a course's texts, hours or prerequisites (not its code: links carry it).
    Hours already credited stay as they were recorded."""
    require(actor, "training.author", course)
    prerequisites = fields.pop("prerequisites", None)
    unknown = set(fields) - set(COURSE_FIELDS)
    if unknown:
        raise TrainingError(_("These fields cannot be changed: %(f)s.")
                            % {"f": ", ".join(sorted(unknown))})  # fmt: skip
    if prerequisites is not None and any(p.pk == course.pk for p in prerequisites):
        raise TrainingError(_("A course cannot be its own prerequisite."))
    with transaction.atomic():
        changes = {k: str(v) for k, v in fields.items() if getattr(course, k) != v}
        for key, value in fields.items():
            setattr(course, key, value)
        course.full_clean()
        course.save()
        if prerequisites is not None:
            course.prerequisites.set(prerequisites)
            changes["prerequisites"] = ",".join(sorted(p.code for p in prerequisites))
        audit.record(actor, "training.update_course", course, changes=changes,
                     organisation_id=course.owner_id)  # fmt: skip
    return course


def archive_course(actor: User, course: Course) -> None:
    """Retire a course: it leaves learners' lists and takes no enrolments; records,
    certificates and attempts stay."""
    require(actor, "training.author", course)
    with transaction.atomic():
        Course.objects.filter(pk=course.pk).update(status=CourseStatus.ARCHIVED)
        audit.record(actor, "training.archive_course", course, organisation_id=course.owner_id)
    course.status = CourseStatus.ARCHIVED


def update_lesson(actor: User, lesson: Lesson, **fields: Any) -> Lesson:
    require(actor, "training.author", lesson.course)
    unknown = set(fields) - set(LESSON_FIELDS)
    if unknown:
        raise TrainingError(_("These fields cannot be changed: %(f)s.")
                            % {"f": ", ".join(sorted(unknown))})  # fmt: skip
    if "attachment" in fields and not fields["attachment"]:
        fields.pop("attachment")  # an empty upload keeps the file there is
    with transaction.atomic():
        changed = sorted(k for k, v in fields.items() if getattr(lesson, k) != v)
        for key, value in fields.items():
            setattr(lesson, key, value)
        lesson.full_clean()
        lesson.save()
        audit.record(actor, "training.update_lesson", lesson.course,
                     changes={"lesson": lesson.pk, "fields": changed})  # fmt: skip
    return lesson


def set_lesson_active(actor: User, lesson: Lesson, active: bool) -> None:
    """Retire a lesson (kept for the progress that refers to it, hidden from learners,
    not counted for completion) or bring it back."""
    require(actor, "training.author", lesson.course)
    with transaction.atomic():
        Lesson.objects.filter(pk=lesson.pk).update(is_active=active)
        audit.record(actor, "training.restore_lesson" if active else "training.retire_lesson",
                     lesson.course, changes={"lesson": lesson.pk})  # fmt: skip
    lesson.is_active = active


def question_drawn(question: Question) -> bool:
    """Whether any attempt drew the question (answered or not): its option ids and right
    answers are then fixed, since attempts are scored against them."""
    if Answer.objects.filter(question=question).exists():
        return True
    drawn = Attempt.objects.filter(exam_id=question.exam_id).values_list("drawn", flat=True)
    return any(
        isinstance(row, list) and len(row) > 0 and row[0] == question.pk
        for rows in drawn.iterator(chunk_size=2000)
        if isinstance(rows, list)
        for row in rows
    )


def _scoring(question: Question) -> tuple[str, tuple[str, ...], frozenset[str]]:
    item = question_item(question)
    return str(item.kind), item.options, item.correct


def _active_bank(exam: Exam) -> int:
    return exam.questions.filter(is_active=True).count()


def update_question(
    actor: User, question: Question, *, kind: str, text: str, options: list[dict[str, Any]],
    text_zh_hant: str = "",
) -> Question:  # fmt: skip
    """Change a question. Wording (of the question and its options) is changed in place.
    A question no attempt has drawn is changed in place whatever changes. A drawn
    question whose kind, option ids or right answers change is retired and a new version
    takes its place in the bank, so past attempts keep their scoring. Returns the question
    now in the bank."""
    require(actor, "training.author", question.exam.course)
    if not question.is_active:
        raise TrainingError(_("This question is retired: put it back in the bank to edit it."))
    revised = Question(exam=question.exam, kind=kind, text=text, text_zh_hant=text_zh_hant,
                       options=options)  # fmt: skip
    problems = question_item(revised).problems()
    if problems:
        raise TrainingError("; ".join(problems))
    with transaction.atomic():
        if _scoring(revised) == _scoring(question) or not question_drawn(question):
            question.kind, question.text, question.text_zh_hant = kind, text, text_zh_hant
            question.options = options
            question.full_clean()
            question.save()
            audit.record(actor, "training.update_question", question.exam.course,
                         changes={"question": question.pk, "text": text[:80]})  # fmt: skip
            return question
        revised.replaces = question
        revised.full_clean()
        revised.save()
        Question.objects.filter(pk=question.pk).update(is_active=False)
        question.is_active = False
        audit.record(actor, "training.revise_question", question.exam.course,
                     changes={"question": question.pk, "new_version": revised.pk,
                              "text": text[:80]})  # fmt: skip
    return revised


def set_question_active(actor: User, question: Question, active: bool) -> None:
    """Retire a question from the bank (attempts that drew it keep it and are scored as
    before) or put it back. A published course's bank must still hold enough questions
    for an attempt's draw."""
    exam = question.exam
    require(actor, "training.author", exam.course)
    with transaction.atomic():
        Question.objects.filter(pk=question.pk).update(is_active=active)
        if not active and exam.course.status == CourseStatus.PUBLISHED:
            bank = _active_bank(exam)
            if bank < exam.questions_per_attempt:
                raise TrainingError(
                    _("The exam draws %(n)d questions: retiring this one would leave %(bank)d "
                      "in the bank. Add a question first.")
                    % {"n": exam.questions_per_attempt, "bank": bank}
                )  # fmt: skip
        audit.record(actor, "training.restore_question" if active else "training.retire_question",
                     exam.course, changes={"question": question.pk})  # fmt: skip
    question.is_active = active
