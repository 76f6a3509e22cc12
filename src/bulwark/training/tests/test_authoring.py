"""Authoring on the pages: the CERT writes a course, its lessons, exam and question bank
and publishes it; a bank smaller than an attempt's draw is refused; an agency admin
cannot edit the CERT's course; lesson Markdown is sanitised when shown."""

from django.test import Client

from bulwark.conftest import sign_in
from bulwark.training.models import Course, CourseStatus
from bulwark.training.tests.conftest import World


def test_the_cert_writes_and_publishes_a_course(world: World) -> None:
    client = sign_in(Client(), world.analyst)
    created = client.post("/training/courses/new/", {
        "code": "phishing-101", "title": "Phishing 101", "title_zh_hant": "釣魚郵件入門",
        "hours": "1.5", "hours_kind": "general", "prerequisites": [world.course.pk],
    })  # fmt: skip
    assert created.status_code == 302
    course = Course.objects.get(code="phishing-101")
    assert list(course.prerequisites.all()) == [world.course]
    edit = "/training/courses/phishing-101/edit/"
    lesson = {"what": "lesson", "lesson-position": 1, "lesson-title": "Signs",
              "lesson-body": "**Look** at the sender"}  # fmt: skip
    assert client.post(edit, lesson).status_code == 302
    exam = {"what": "exam", "exam-questions_per_attempt": 2, "exam-pass_mark": 50,
            "exam-time_limit_minutes": 10, "exam-max_attempts": 2,
            "exam-retake_wait_hours": 0}  # fmt: skip
    assert client.post(edit, exam).status_code == 302
    one = {"what": "question", "question-kind": "single", "question-text": "Which?",
           "question-options": "* Report it | 通報\nIgnore it | 忽略"}  # fmt: skip
    assert client.post(edit, one).status_code == 302
    refused = client.post(edit, {"what": "publish"})
    assert refused.status_code == 400 and "bank holds 1" in refused.content.decode()
    tf = {"what": "question", "question-kind": "true_false", "question-text": "Safe?",
          "question-options": "* false"}  # fmt: skip
    assert client.post(edit, tf).status_code == 302
    bad = {"what": "question", "question-kind": "single", "question-text": "Two right?",
           "question-options": "* a\n* b"}  # fmt: skip
    answer = client.post(edit, bad)
    assert answer.status_code == 400 and "exactly one option is right" in answer.content.decode()
    assert client.post(edit, {"what": "publish"}).status_code == 302
    course.refresh_from_db()
    assert course.status == CourseStatus.PUBLISHED
    assert course.exam.questions.count() == 2


def test_an_agency_admin_cannot_edit_the_certs_course(world: World) -> None:
    client = sign_in(Client(), world.agency_admin)
    assert client.get("/training/courses/awareness/edit/").status_code == 403
    assert client.post("/training/courses/awareness/edit/", {"what": "publish"}).status_code == 403
