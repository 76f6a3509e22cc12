"""An exam through the services and the learner pages: the draw kept per attempt, answers
saved once, the time limit enforced by the server, retakes, the certificate and its check,
and the author's item statistics."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.training import services
from bulwark.training.models import Answer, Certificate, HoursTotal
from bulwark.training.tests.conftest import World, right_answers


@pytest.fixture
def enrolled(world: World) -> World:
    services.enrol(world.agency_admin, world.course, world.agency, everyone=True)
    return world


def _learner_client() -> Client:
    client = Client()
    client.post("/training/learn/sign-in/",
                {"email": "mei@agency-a.gov", "password": "learner-pass-123"})  # fmt: skip
    return client


def test_an_attempt_keeps_its_draw_and_a_repeated_save_counts_once(enrolled: World) -> None:
    attempt = services.start_attempt(enrolled.learner, enrolled.exam)
    assert len(attempt.question_ids) == 4
    assert services.start_attempt(enrolled.learner, enrolled.exam).pk == attempt.pk  # reload
    kinds = dict(enrolled.exam.questions.values_list("pk", "kind"))
    q = next(pk for pk in attempt.question_ids if kinds[pk] == "single")
    first = services.save_answer(enrolled.learner, attempt.pk, q, ["a"], revision=1)
    again = services.save_answer(enrolled.learner, attempt.pk, q, ["a"], revision=1)
    assert first.applied and not again.applied
    services.save_answer(enrolled.learner, attempt.pk, q, ["b"], revision=3)
    late_old = services.save_answer(enrolled.learner, attempt.pk, q, ["a"], revision=2)
    assert not late_old.applied and late_old.chosen == ["b"]
    assert list(Answer.objects.filter(attempt=attempt).values_list("chosen", "revision")) == [
        (["b"], 3)
    ]


def test_answers_are_refused_after_the_time_limit(enrolled: World) -> None:
    attempt = services.start_attempt(enrolled.learner, enrolled.exam)
    kinds = dict(enrolled.exam.questions.values_list("pk", "kind"))
    q = next(pk for pk in attempt.question_ids if kinds[pk] == "single")
    late = attempt.deadline + services.ANSWER_GRACE + timedelta(seconds=1)
    with pytest.raises(services.TrainingError, match="time"):
        services.save_answer(enrolled.learner, attempt.pk, q, ["a"], 1, now=late)
    in_grace = attempt.deadline + timedelta(seconds=5)
    assert services.save_answer(enrolled.learner, attempt.pk, q, ["a"], 1, now=in_grace).applied
    # Finishing late scores at the deadline; a new start after the deadline closes it first.
    nxt = services.start_attempt(enrolled.learner, enrolled.exam, now=late)
    assert nxt.pk != attempt.pk and nxt.number == 2
    attempt.refresh_from_db()
    assert attempt.finished_at == attempt.deadline and attempt.passed is False


def test_bad_answers_are_refused_with_a_reason(enrolled: World) -> None:
    attempt = services.start_attempt(enrolled.learner, enrolled.exam)
    by_kind = {q.kind: q.pk for q in enrolled.exam.questions.filter(pk__in=attempt.question_ids)}
    single = by_kind.get("single") or by_kind["true_false"]
    with pytest.raises(services.TrainingError, match="one answer"):
        services.save_answer(enrolled.learner, attempt.pk, single, ["a", "b"], 1)
    not_drawn = set(enrolled.exam.questions.values_list("pk", flat=True)) - set(
        attempt.question_ids
    )
    with pytest.raises(services.TrainingError, match="not part"):
        services.save_answer(enrolled.learner, attempt.pk, not_drawn.pop(), ["a"], 1)


def test_retakes_end_when_attempts_run_out(enrolled: World) -> None:
    for _ in range(2):
        attempt = services.start_attempt(enrolled.learner, enrolled.exam)
        services.finish_attempt(enrolled.learner, attempt)  # nothing answered: failed
    with pytest.raises(services.TrainingError, match="no attempts left"):
        services.start_attempt(enrolled.learner, enrolled.exam)


def test_a_learner_passes_on_the_pages_and_downloads_a_checkable_certificate(
    enrolled: World,
) -> None:
    client = _learner_client()
    course_page = client.get("/training/learn/courses/awareness/")
    assert course_page.status_code == 200
    lesson = enrolled.course.lessons.get()
    body = client.get(f"/training/learn/lessons/{lesson.pk}/").content.decode()
    assert "<script>" not in body and "Look at the sender." in body  # sanitised Markdown
    started = client.post("/training/learn/courses/awareness/exam/")
    attempt_url = started["Location"]
    attempt_id = int(attempt_url.rstrip("/").split("/")[-1])
    right = right_answers(enrolled.exam)
    page = client.get(attempt_url).content.decode()
    for number, (qid, chosen) in enumerate(right.items(), start=1):
        if f'data-question="{qid}"' not in page:
            continue
        saved = client.post(
            f"{attempt_url}answer/", {"question": qid, "chosen": chosen, "revision": number},
            content_type="application/json",
        )  # fmt: skip
        assert saved.status_code == 200 and saved.json()["applied"] is True
    finished = client.post(attempt_url, {"finish": "1", "revision": "99"}, follow=True)
    text = finished.content.decode()
    assert "100.00 %" in text and "Passed." in text
    certificate = Certificate.objects.get(attempt_id=attempt_id)
    pdf = client.get(f"/training/learn/certificates/{certificate.code}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    check = Client().get(f"/training/certificates/{certificate.code}/").content.decode()
    assert "Valid." in check and "Lin Mei" in check
    assert Client().get("/training/certificates/not-a-code/").status_code == 404
    # The hours are credited once, to the right kind and year.
    total = HoursTotal.objects.get(learner=enrolled.learner)
    assert (total.kind, total.hours, total.year) == ("general", 3, timezone.localdate().year)
    # Passed: no retake.
    with pytest.raises(services.TrainingError, match="passed"):
        services.start_attempt(enrolled.learner, enrolled.exam)


def test_the_author_reads_item_statistics_and_an_agency_cannot(enrolled: World) -> None:
    attempt = services.start_attempt(enrolled.learner, enrolled.exam)
    right = right_answers(enrolled.exam)
    for rev, qid in enumerate(attempt.question_ids, start=1):
        services.save_answer(enrolled.learner, attempt.pk, qid, right[qid], rev)
    services.finish_attempt(enrolled.learner, attempt)
    page = sign_in(Client(), enrolled.analyst).get("/training/courses/awareness/statistics/")
    assert page.status_code == 200 and "1 finished attempts, 1 passed." in page.content.decode()
    denied = sign_in(Client(), enrolled.agency_admin).get("/training/courses/awareness/statistics/")
    assert denied.status_code == 403


def test_the_answer_endpoint_refuses_malformed_input(enrolled: World) -> None:
    client = _learner_client()
    attempt = services.start_attempt(enrolled.learner, enrolled.exam)
    url = f"/training/learn/attempts/{attempt.pk}/answer/"
    for body in ("not json", '{"question": 1}', '{"question": "x", "chosen": [], "revision": 1}',
                 '{"question": 1, "chosen": "a", "revision": 1}'):  # fmt: skip
        assert client.post(url, body, content_type="application/json").status_code == 400


def test_an_agency_enrols_by_role_and_group(world: World, **_: Any) -> None:
    services.import_learners(world.agency_admin, world.agency,
                             "staff_id,name,email,role,groups\nA-2,X,x@a.gov,it_staff,Ops\n"
                             "A-3,Y,y@a.gov,general,Ops\n")  # fmt: skip
    assert services.enrol(world.agency_admin, world.course, world.agency, role="it_staff") == 1
    from bulwark.training.models import LearnerGroup

    group = LearnerGroup.objects.get(name="Ops")
    assert services.enrol(world.agency_admin, world.course, world.agency, group=group) == 1
    assert services.enrol(world.agency_admin, world.course, world.agency, everyone=True) == 1


def test_another_app_enrols_through_the_core_hook(world: World) -> None:
    from bulwark.core import registry

    assert registry.TRAINING_ENROLMENT.installed
    enrol = registry.TRAINING_ENROLMENT.call
    assert enrol(world.agency.pk, "MEI@agency-a.gov", "awareness") is True
    assert enrol(world.agency.pk, "mei@agency-a.gov", "awareness") is False  # once
    assert enrol(world.sibling.pk, "mei@agency-a.gov", "awareness") is False  # not theirs
    assert enrol(world.agency.pk, "mei@agency-a.gov", "no-such-course") is False


def test_the_periodic_task_scores_attempts_whose_time_is_up(enrolled: World) -> None:
    attempt = services.start_attempt(enrolled.learner, enrolled.exam)
    assert services.close_expired_attempts() == 0
    later = attempt.deadline + timedelta(minutes=1)
    assert services.close_expired_attempts(now=later) == 1
    attempt.refresh_from_db()
    assert attempt.finished_at == attempt.deadline and attempt.percent == 0
