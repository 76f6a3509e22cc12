"""Enrolling one learner and withdrawing an enrolment, on the course's enrolments page and
in the API: a withdrawn learner no longer sees the course, what they did is kept, enrolling
them again restores it; an agency's admin acts on its own learners only."""

from typing import Any

import pytest
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.core.models import AuditEntry
from bulwark.training import services
from bulwark.training.models import Certificate, Enrolment, LessonProgress, TrainingRecord
from bulwark.training.tests.conftest import World, right_answers

TRAINING = ["training:read", "training:write"]


def _learner_client(email: str = "mei@agency-a.gov", password: str = "learner-pass-123") -> Client:
    client = Client()
    response = client.post("/training/learn/sign-in/", {"email": email, "password": password})
    assert response.status_code == 302
    return client


def _page(world: World, who: Any) -> Client:
    return sign_in(Client(), who)


def _url(world: World) -> str:
    return f"/training/courses/{world.course.code}/enrolments/"


def test_enrol_one_withdraw_and_enrol_again_on_the_page(world: World) -> None:
    admin = _page(world, world.agency_admin)
    enrolled = admin.post(_url(world), {"action": "enrol", "organisation": world.agency.pk,
                                        "learner": "A-1"}, follow=True)  # fmt: skip
    assert "Lin Mei is enrolled." in enrolled.content.decode()
    learner = _learner_client()
    assert "Security awareness" in learner.get("/training/learn/").content.decode()
    lesson = world.course.lessons.get()
    assert learner.post(f"/training/learn/lessons/{lesson.pk}/").status_code == 302
    enrolment = Enrolment.objects.get(learner=world.learner, course=world.course)
    assert LessonProgress.objects.filter(enrolment=enrolment).count() == 1

    withdrawn = admin.post(_url(world), {"action": "withdraw", "enrolment": enrolment.pk},
                           follow=True)  # fmt: skip
    assert "is withdrawn from the course" in withdrawn.content.decode()
    assert "Withdrawn" in withdrawn.content.decode()
    # The learner no longer sees it, cannot open it nor start its exam.
    assert "Security awareness" not in learner.get("/training/learn/").content.decode()
    assert learner.get("/training/learn/courses/awareness/").status_code == 404
    assert learner.post("/training/learn/courses/awareness/exam/").status_code == 404
    assert learner.get(f"/training/learn/lessons/{lesson.pk}/").status_code == 404
    # The course page counts enrolled learners only.
    detail = admin.get(f"/training/courses/{world.course.code}/").content.decode()
    assert "0 enrolled" in detail
    # Kept, and restored by enrolling again.
    assert LessonProgress.objects.filter(enrolment=enrolment).count() == 1
    again = admin.post(_url(world), {"action": "again", "organisation": world.agency.pk,
                                     "learner": world.learner.pk}, follow=True)  # fmt: skip
    assert "Lin Mei is enrolled." in again.content.decode()
    course_page = learner.get("/training/learn/courses/awareness/")
    assert course_page.status_code == 200 and "✓" in course_page.content.decode()
    actions = list(
        AuditEntry.objects.filter(action__in=["training.enrol", "training.withdraw"])
        .order_by("pk").values_list("action", "changes")
    )  # fmt: skip
    assert [a for a, _c in actions] == ["training.enrol", "training.withdraw", "training.enrol"]
    assert actions[2][1]["restored"] == 1


def test_a_completed_course_stays_recorded_after_withdrawal(world: World) -> None:
    services.enrol(world.agency_admin, world.course, world.agency, learners=[world.learner])
    attempt = services.start_attempt(world.learner, world.exam)
    right = right_answers(world.exam)
    for n, qid in enumerate(attempt.question_ids, 1):
        services.save_answer(world.learner, attempt.pk, qid, right[qid], revision=n)
    services.finish_attempt(world.learner, attempt)
    enrolment = Enrolment.objects.get(learner=world.learner, course=world.course)
    services.withdraw_enrolment(world.agency_admin, enrolment)
    assert TrainingRecord.objects.filter(learner=world.learner, course=world.course).exists()
    certificate = Certificate.objects.get(learner=world.learner)
    home = _learner_client().get("/training/learn/").content.decode()
    assert certificate.code in home  # their certificate stays theirs
    with pytest.raises(services.TrainingError, match="withdrawn already"):
        services.withdraw_enrolment(world.agency_admin, enrolment)


def test_who_sees_and_changes_which_enrolments_on_the_page(world: World) -> None:
    services.enrol(world.agency_admin, world.course, world.agency, learners=[world.learner])
    services.enrol(world.sibling_admin, world.course, world.sibling, everyone=True)
    mine = Enrolment.objects.get(learner=world.learner)
    # The sibling agency's admin sees only its own learner and cannot touch Lin Mei's.
    sibling = _page(world, world.sibling_admin)
    text = sibling.get(_url(world)).content.decode()
    assert "Chen Wei" in text and "Lin Mei" not in text
    assert (
        sibling.post(_url(world), {"action": "withdraw", "enrolment": mine.pk}).status_code == 404
    )
    refused = sibling.post(_url(world), {"action": "enrol", "organisation": world.agency.pk,
                                         "learner": "mei@agency-a.gov"})  # fmt: skip
    assert refused.status_code == 403
    # Naming another agency's learner under one's own agency finds nobody.
    nobody = sibling.post(_url(world), {"action": "enrol", "organisation": world.sibling.pk,
                                        "learner": "mei@agency-a.gov"}, follow=True)  # fmt: skip
    assert "No active learner of Agency B" in nobody.content.decode()
    # The authority sees both agencies' rows but administers neither: no button, 403.
    authority = _page(world, world.authority_admin)
    text = authority.get(_url(world)).content.decode()
    assert "Chen Wei" in text and "Lin Mei" in text and "Withdraw</button>" not in text
    assert (
        authority.post(_url(world), {"action": "withdraw", "enrolment": mine.pk}).status_code == 403
    )
    # An unrelated agency's admin sees none of them.
    stranger = _page(world, world.stranger_admin).get(_url(world)).content.decode()
    assert "Chen Wei" not in stranger and "Lin Mei" not in stranger
    assert Enrolment.objects.filter(withdrawn_at__isnull=False).count() == 0
    bad = _page(world, world.agency_admin).post(_url(world), {"action": "withdraw",
                                                              "enrolment": "x"})  # fmt: skip
    assert bad.status_code == 404


def test_enrol_and_withdraw_in_the_api(world: World) -> None:
    client = Client()
    headers = bearer(world.agency_admin, TRAINING, within_role=True)
    base = f"/api/v1/training/courses/{world.course.pk}/"
    enrol = client.post(base + "enrol/", {"organisation": world.agency.pk,
                                          "learners": [world.learner.pk]},
                        content_type="application/json", **headers)  # fmt: skip
    assert enrol.status_code == 200 and enrol.json() == {"enrolled": 1}
    withdraw = client.post(base + "withdraw/", {"learner": world.learner.pk},
                           content_type="application/json", **headers)  # fmt: skip
    assert withdraw.status_code == 200 and withdraw.json()["withdrawn_at"]
    again = client.post(base + "withdraw/", {"learner": world.learner.pk},
                        content_type="application/json", **headers)  # fmt: skip
    assert again.status_code == 400 and "withdrawn already" in again.content.decode()
    listed = client.get(base + "enrolments/?status=withdrawn", **headers).json()
    assert listed["count"] == 1 and listed["results"][0]["name"] == "Lin Mei"
    # Enrolling the whole agency leaves the withdrawn learner out; naming them restores.
    everyone = client.post(base + "enrol/", {"organisation": world.agency.pk, "everyone": True},
                           content_type="application/json", **headers)  # fmt: skip
    assert everyone.json() == {"enrolled": 0}
    assert Enrolment.objects.get(learner=world.learner).withdrawn_at is not None
    named = client.post(base + "enrol/", {"organisation": world.agency.pk,
                                          "learners": [world.learner.pk]},
                        content_type="application/json", **headers)  # fmt: skip
    assert named.json() == {"enrolled": 1}
    assert Enrolment.objects.get(learner=world.learner).withdrawn_at is None
    # Another agency's admin: the enrolment is not found; a read-only token cannot write.
    sibling = bearer(world.sibling_admin, TRAINING, within_role=True)
    assert client.post(base + "withdraw/", {"learner": world.learner.pk},
                       content_type="application/json", **sibling).status_code == 404  # fmt: skip
    assert client.get(base + "enrolments/", **sibling).json()["count"] == 0
    read_only = bearer(world.agency_admin, ["training:read"])
    assert client.post(base + "withdraw/", {"learner": world.learner.pk},
                       content_type="application/json", **read_only).status_code == 403  # fmt: skip
    bad = client.post(base + "withdraw/", {"learner": "x"}, content_type="application/json",
                      **headers)  # fmt: skip
    assert bad.status_code == 400
