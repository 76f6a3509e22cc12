"""Editing and retiring what was written: courses, lessons and questions, on the pages and
in the API. A question attempts have drawn keeps its scoring (a change of its options
makes a new version); a retired question is no longer drawn; a retired lesson disappears
for learners; the question banks (right answers included) are read only by authors."""

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.training import services
from bulwark.training.models import Course, CourseStatus, Lesson, Question
from bulwark.training.tests.conftest import World, right_answers

TRAINING = ["training:read", "training:write"]


@pytest.fixture
def enrolled(world: World) -> World:
    services.enrol(world.agency_admin, world.course, world.agency, everyone=True)
    return world


def _tf(right: str) -> list[dict[str, Any]]:
    return [
        {"id": "true", "text": "True", "correct": right == "true"},
        {"id": "false", "text": "False", "correct": right == "false"},
    ]


def test_a_drawn_question_keeps_its_scoring_when_its_answer_changes(enrolled: World) -> None:
    w = enrolled
    attempt = services.start_attempt(w.learner, w.exam)
    right = right_answers(w.exam)
    for n, qid in enumerate(attempt.question_ids, 1):
        services.save_answer(w.learner, attempt.pk, qid, right[qid], revision=n)
    drawn = Question.objects.get(pk=attempt.question_ids[0])
    flipped = [{**o, "correct": not o["correct"]} for o in drawn.options]
    if drawn.kind == "multiple":  # keep it a valid multiple-choice question
        flipped = [{**o, "correct": o["id"] != "c"} for o in drawn.options][::-1]
    elif drawn.kind == "single":
        flipped = [{**o, "correct": o["id"] == "b"} for o in drawn.options]
    kept = services.update_question(
        w.analyst, drawn, kind=drawn.kind, text="Reworded", options=flipped
    )
    assert kept.pk != drawn.pk and kept.replaces_id == drawn.pk and kept.is_active
    drawn.refresh_from_db()
    assert not drawn.is_active and drawn.text != "Reworded"  # the old version is untouched
    done = services.finish_attempt(w.learner, attempt)
    assert done.right == 4 and done.passed  # scored against what the attempt was shown
    # Wording alone is changed in place, even on a drawn question.
    other = Question.objects.get(pk=attempt.question_ids[1])
    same = services.update_question(
        w.analyst, other, kind=other.kind, text="Clearer wording", options=other.options
    )
    assert same.pk == other.pk and Question.objects.get(pk=other.pk).text == "Clearer wording"


def test_a_question_nobody_drew_is_changed_in_place(world: World) -> None:
    question = world.exam.questions.get(kind="true_false", text__startswith="USB")
    kept = services.update_question(
        world.analyst,
        question,
        kind="true_false",
        text="USB sticks found outside are safe.",
        options=_tf("true"),
    )
    assert kept.pk == question.pk and right_answers(world.exam)[question.pk] == ["true"]
    with pytest.raises(services.TrainingError, match="exactly one option is right"):
        services.update_question(
            world.analyst,
            question,
            kind="single",
            text="x",
            options=[
                {"id": "a", "text": "a", "correct": True},
                {"id": "b", "text": "b", "correct": True},
            ],
        )
    with pytest.raises(PermissionDenied):
        services.update_question(
            world.agency_admin, question, kind="true_false", text="x", options=_tf("false")
        )


def test_retiring_keeps_the_bank_big_enough_and_retired_questions_are_not_drawn(
    enrolled: World,
) -> None:
    w = enrolled
    questions = list(w.exam.questions.all())
    services.set_question_active(w.analyst, questions[0], False)  # 5 -> 4, the draw is 4
    with pytest.raises(services.TrainingError, match="would leave 3"):
        services.set_question_active(w.analyst, questions[1], False)
    assert Question.objects.get(pk=questions[1].pk).is_active  # the refusal changed nothing
    attempt = services.start_attempt(w.learner, w.exam)
    assert questions[0].pk not in attempt.question_ids
    with pytest.raises(services.TrainingError, match="bank holds 4"):
        services.set_exam(
            w.analyst,
            w.course,
            questions_per_attempt=5,
            pass_mark=75,
            time_limit_minutes=20,
            max_attempts=2,
            retake_wait_hours=0,
        )
    with pytest.raises(services.TrainingError, match="put it back"):
        services.update_question(
            w.analyst, questions[0], kind=questions[0].kind, text="x", options=questions[0].options
        )
    services.set_question_active(w.analyst, questions[0], True)
    assert w.exam.questions.filter(is_active=True).count() == 5


def test_a_retired_lesson_is_gone_for_learners_and_no_longer_needed_to_complete(
    world: World,
) -> None:
    course = services.create_course(
        world.analyst,
        world.cert,
        code="reading",
        title="Reading",
        hours=Decimal("1"),
        hours_kind="general",
    )
    first = services.add_lesson(world.analyst, course, position=1, title="One")
    second = services.add_lesson(world.analyst, course, position=2, title="Two")
    services.publish_course(world.analyst, course)
    services.enrol(world.agency_admin, course, world.agency, everyone=True)
    services.update_lesson(world.analyst, first, title="One, revised", body="**New** text")
    assert Lesson.objects.get(pk=first.pk).title == "One, revised"
    services.set_lesson_active(world.analyst, second, False)
    client = Client()
    client.post(
        "/training/learn/sign-in/", {"email": "mei@agency-a.gov", "password": "learner-pass-123"}
    )
    page = client.get("/training/learn/courses/reading/").content.decode()
    assert "One, revised" in page and "Two" not in page
    assert client.get(f"/training/learn/lessons/{second.pk}/").status_code == 404
    client.post(f"/training/learn/lessons/{first.pk}/")
    assert course.enrolments.get(learner=world.learner).completed_at is not None
    with pytest.raises(PermissionDenied):
        services.set_lesson_active(world.agency_admin, first, False)


def test_authors_edit_on_the_pages_and_are_told_about_a_new_version(enrolled: World) -> None:
    w = enrolled
    attempt = services.start_attempt(w.learner, w.exam)
    drawn = Question.objects.get(pk=attempt.question_ids[0])
    client = sign_in(Client(), w.analyst)
    url = f"/training/courses/awareness/questions/{drawn.pk}/"
    page = client.get(url)
    assert page.status_code == 200 and "Attempts have drawn this question" in page.content.decode()
    # A change of the right answer whatever was drawn: the fixture's single-choice
    # questions have their first option right, so the new one has its second.
    options = "* true" if drawn.kind == "true_false" else "Wrong\n* Only right"
    if drawn.kind == "true_false" and right_answers(w.exam)[drawn.pk] == ["true"]:
        options = "* false"
    answer = client.post(
        url,
        {
            "question-kind": drawn.kind if drawn.kind != "multiple" else "single",
            "question-text": "New",
            "question-options": options,
        },
        follow=True,
    )
    assert "make a new version" in answer.content.decode()
    assert Question.objects.filter(replaces=drawn).count() == 1
    bad = client.post(
        url, {"question-kind": "single", "question-text": "x", "question-options": "* a\n* b"}
    )
    assert bad.status_code == 400
    lesson = w.course.lessons.get()
    edit = f"/training/courses/awareness/lessons/{lesson.pk}/"
    assert client.get(edit).status_code == 200
    saved = client.post(
        edit,
        {
            "what": "save",
            "lesson-position": 1,
            "lesson-title": "Phishing 2",
            "lesson-body": "Look twice",
        },
    )
    assert saved.status_code == 302 and Lesson.objects.get(pk=lesson.pk).title == "Phishing 2"
    assert client.post(edit, {"what": "retire"}).status_code == 302
    assert not Lesson.objects.get(pk=lesson.pk).is_active
    course_form = {
        "what": "course",
        "course-title": "Awareness",
        "course-title_zh_hant": "認知",
        "course-hours": "4",
        "course-hours_kind": "general",
    }
    assert client.post("/training/courses/awareness/edit/", course_form).status_code == 302
    assert Course.objects.get(code="awareness").hours == Decimal("4")
    other = sign_in(Client(), w.agency_admin)
    assert other.get(url).status_code == 403 and other.get(edit).status_code == 403
    assert client.post("/training/courses/awareness/edit/", {"what": "archive"}).status_code == 302
    assert Course.objects.get(code="awareness").status == CourseStatus.ARCHIVED


def test_the_api_writes_courses_lessons_and_questions(world: World) -> None:
    headers = bearer(
        world.agency_admin, TRAINING, within_role=True
    )  # an agency's admin writes its own agency's courses
    client = Client()
    created = client.post(
        "/api/v1/training/courses/",
        {
            "code": "agency-intro",
            "owner": world.agency.pk,
            "title": "Our rules",
            "hours": "1.0",
            "hours_kind": "general",
        },
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 201, created.content
    course_id = created.json()["id"]
    refused = client.post(
        "/api/v1/training/courses/",
        {
            "code": "not-mine",
            "owner": world.sibling.pk,
            "title": "x",
            "hours": "1",
            "hours_kind": "general",
        },
        content_type="application/json",
        **headers,
    )
    assert refused.status_code in (403, 404)
    patch = client.patch(
        f"/api/v1/training/courses/{course_id}/",
        {"hours": "2.5"},
        content_type="application/json",
        **headers,
    )
    assert patch.status_code == 200 and patch.json()["hours"] == "2.5"
    lesson = client.post(
        "/api/v1/training/lessons/",
        {"course": course_id, "title": "Rule 1", "body": "Lock your screen"},
        content_type="application/json",
        **headers,
    )
    assert lesson.status_code == 201, lesson.content
    exam = client.put(
        f"/api/v1/training/courses/{course_id}/exam/",
        {
            "questions_per_attempt": 1,
            "pass_mark": 100,
            "time_limit_minutes": 5,
            "max_attempts": 1,
            "retake_wait_hours": 0,
        },
        content_type="application/json",
        **headers,
    )
    assert exam.status_code == 200, exam.content
    exam_id = Course.objects.get(pk=course_id).exam.pk
    question = client.post(
        "/api/v1/training/questions/",
        {"exam": exam_id, "kind": "true_false", "text": "Lock it?", "options": _tf("true")},
        content_type="application/json",
        **headers,
    )
    assert question.status_code == 201, question.content
    bad = client.post(
        "/api/v1/training/questions/",
        {"exam": exam_id, "kind": "true_false", "text": "?", "options": []},
        content_type="application/json",
        **headers,
    )
    assert bad.status_code == 400
    qid = question.json()["id"]
    assert (
        client.post(f"/api/v1/training/courses/{course_id}/publish/", **headers).status_code == 200
    )
    # The only question of a published bank cannot be retired.
    retire = client.patch(
        f"/api/v1/training/questions/{qid}/",
        {"is_active": False},
        content_type="application/json",
        **headers,
    )
    assert retire.status_code == 400 and "would leave 0" in retire.content.decode()
    enrol = client.post(
        f"/api/v1/training/courses/{course_id}/enrol/",
        {"organisation": world.agency.pk, "role": "general"},
        content_type="application/json",
        **headers,
    )
    assert enrol.status_code == 200 and enrol.json() == {"enrolled": 1}
    # Read-only tokens cannot write; another agency's admin cannot change this course.
    read_only = bearer(world.agency_admin, ["training:read"])
    assert (
        client.patch(
            f"/api/v1/training/courses/{course_id}/",
            {"hours": "1"},
            content_type="application/json",
            **read_only,
        ).status_code
        == 403
    )
    sibling = bearer(world.sibling_admin, TRAINING, within_role=True)
    assert (
        client.patch(
            f"/api/v1/training/courses/{course_id}/",
            {"hours": "1"},
            content_type="application/json",
            **sibling,
        ).status_code
        == 403
    )


# Who reads the question banks (right answers) and the lessons through the API.
BANK_READERS = {"analyst": 5, "agency_admin": 0, "authority_admin": 0, "stranger_admin": 0}


@pytest.mark.parametrize("who", sorted(BANK_READERS))
def test_visibility_of_question_banks_and_retired_lessons(world: World, who: str) -> None:
    lesson = world.course.lessons.get()
    services.add_lesson(world.analyst, world.course, position=2, title="Old lesson")
    retired = world.course.lessons.get(title="Old lesson")
    services.set_lesson_active(world.analyst, retired, False)
    user = getattr(world, who)
    client = Client()
    questions = client.get(
        "/api/v1/training/questions/", **bearer(user, TRAINING, within_role=True)
    ).json()
    assert questions["count"] == BANK_READERS[who]
    lessons = {
        row["id"]
        for row in client.get(
            "/api/v1/training/lessons/", **bearer(user, TRAINING, within_role=True)
        ).json()["results"]
    }
    expected = {lesson.pk, retired.pk} if who == "analyst" else {lesson.pk}
    assert lessons == expected
    # The page of a question is the author's only.
    page = sign_in(Client(), user).get(
        f"/training/courses/awareness/questions/{world.exam.questions.first().pk}/"  # type: ignore[union-attr]
    )
    assert page.status_code == (200 if who == "analyst" else 403)


def test_cert_staff_tokens_carry_training_write_and_write_courses(world: World) -> None:
    """CERT analysts and duty officers write courses on the pages; their tokens may now
    carry training:write too (minted within their roles), and do the same in the API."""
    from bulwark.constituency import services as constituency
    from bulwark.constituency.tests.factories import UserFactory

    duty = UserFactory(username="duty")
    constituency.add_membership(None, duty, world.cert, "duty_officer")
    reporter = UserFactory(username="reporter")
    constituency.add_membership(None, reporter, world.agency, "reporter")
    client = Client()
    for n, user in enumerate((world.analyst, duty)):
        headers = bearer(user, TRAINING, within_role=True)
        created = client.post(
            "/api/v1/training/courses/",
            {"code": f"cert-course-{n}", "owner": world.cert.pk, "title": "Triage basics",
             "hours": "2", "hours_kind": "professional"},
            content_type="application/json",
            **headers,
        )  # fmt: skip
        assert created.status_code == 201, created.content
    # A reporter's role still allows no training:write, so a token cannot carry it.
    minted = client.post(
        "/api/v1/tokens/",
        {"name": "t", "scopes": ["training:write"], "days": 1},
        content_type="application/json",
        **bearer(reporter, ["tokens:manage"]),
    )
    assert minted.status_code == 400 and "training:write" in minted.content.decode()
    assert Course.objects.filter(code__startswith="cert-course-").count() == 2
