"""A small constituency for the training tests: the CERT, an authority with two agencies
below it, an unrelated agency, their admins, one CERT analyst, and a published course with
an exam of five questions."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from bulwark.constituency import services as constituency
from bulwark.constituency.models import Organisation, User
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory
from bulwark.training import services
from bulwark.training.models import Course, Exam, Learner


@dataclass
class World:
    cert: Organisation
    authority: Organisation
    agency: Organisation
    sibling: Organisation
    stranger: Organisation
    analyst: User
    authority_admin: User
    agency_admin: User
    sibling_admin: User
    stranger_admin: User
    course: Course
    exam: Exam
    learner: Learner
    other_learner: Learner


QUESTIONS: list[dict[str, Any]] = [
    {"kind": "single", "text": "Which is a phishing sign?", "options": [
        {"id": "a", "text": "Urgent request to pay", "correct": True},
        {"id": "b", "text": "A colleague's known address", "correct": False},
        {"id": "c", "text": "A scheduled newsletter", "correct": False}]},
    {"kind": "true_false", "text": "Passwords may be shared with IT by mail.", "options": [
        {"id": "true", "text": "True", "correct": False},
        {"id": "false", "text": "False", "correct": True}]},
    {"kind": "multiple", "text": "Which are second factors?", "options": [
        {"id": "a", "text": "TOTP app", "correct": True},
        {"id": "b", "text": "Security key", "correct": True},
        {"id": "c", "text": "Your username", "correct": False}]},
    {"kind": "single", "text": "Report an incident to?", "options": [
        {"id": "a", "text": "The security officer", "correct": True},
        {"id": "b", "text": "Nobody", "correct": False}]},
    {"kind": "true_false", "text": "USB sticks found outside are safe.", "options": [
        {"id": "true", "text": "True", "correct": False},
        {"id": "false", "text": "False", "correct": True}]},
]  # fmt: skip


def right_answers(exam: Exam) -> dict[int, list[str]]:
    return {q.pk: [o["id"] for o in q.options if o["correct"]] for q in exam.questions.all()}


@pytest.fixture
def world(db: Any) -> World:
    return make_world()


def make_world() -> World:
    cert = OrganisationFactory(name="National CERT", kind="national_cert")
    authority = OrganisationFactory(name="Ministry", kind="authority")
    agency = OrganisationFactory(name="Agency A", parent=authority)
    sibling = OrganisationFactory(name="Agency B", parent=authority)
    stranger = OrganisationFactory(name="Agency Z")
    analyst = UserFactory(username="analyst")
    constituency.add_membership(None, analyst, cert, "analyst")
    admins = {}
    for name, org in (("authority_admin", authority), ("agency_admin", agency),
                      ("sibling_admin", sibling), ("stranger_admin", stranger)):  # fmt: skip
        admins[name] = UserFactory(username=name)
        constituency.add_membership(None, admins[name], org, "org_admin")
    course = services.create_course(
        analyst, cert, code="awareness", title="Security awareness",
        title_zh_hant="資安認知", hours=Decimal("3"), hours_kind="general",
    )  # fmt: skip
    body = "# Phishing\n\n<script>alert(1)</script>Look at the sender."
    services.add_lesson(analyst, course, position=1, title="Phishing", body=body)
    exam = services.set_exam(
        analyst, course, questions_per_attempt=4, pass_mark=75, time_limit_minutes=20,
        max_attempts=2, retake_wait_hours=0,
    )  # fmt: skip
    for question in QUESTIONS:
        services.add_question(analyst, exam, **question)
    services.publish_course(analyst, course)
    learner = services.add_learner(
        admins["agency_admin"], agency, staff_id="A-1", name="Lin Mei", email="mei@agency-a.gov",
        role="general", password="learner-pass-123",
    )  # fmt: skip
    other = services.add_learner(
        admins["sibling_admin"], sibling, staff_id="B-1", name="Chen Wei",
        email="wei@agency-b.gov", role="it_staff", password="learner-pass-456",
    )  # fmt: skip
    return World(cert, authority, agency, sibling, stranger, analyst, admins["authority_admin"],
                 admins["agency_admin"], admins["sibling_admin"], admins["stranger_admin"],
                 course, exam, learner, other)  # fmt: skip
