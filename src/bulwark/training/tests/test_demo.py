"""The demo shows training in every state: three published courses with exams, learners
met, behind, missed last year and without a rule, a certificate, a past competition with
results; the agency admin and the CERT see its compliance; loading again adds nothing."""

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.constituency import demo as constituency_demo
from bulwark.constituency.models import Organisation, User
from bulwark.training import demo, selectors
from bulwark.training.models import Certificate, CompetitionResult, Course, Learner


@pytest.mark.django_db
def test_the_demo_has_every_compliance_state() -> None:
    constituency_demo.load()
    demo.load()
    demo.load()  # idempotent
    assert Course.objects.filter(status="published").count() == 3
    assert all(course.exam.questions.count() == 6 for course in Course.objects.all())
    year = timezone.localdate().year
    orgadmin = User.objects.get(username="orgadmin")
    power = Organisation.objects.get(name=demo.POWER)
    now = selectors.compliance(orgadmin, year, power).overall.counts
    before = selectors.compliance(orgadmin, year - 1, power).overall.counts
    assert now["met"] >= 3 and now["behind"] >= 3 and before["missed"] >= 3 and before["met"] >= 2
    analyst = User.objects.get(username="analyst")
    everyone = selectors.compliance(analyst, year)
    assert everyone.overall.counts["no_rule"] == len(demo.CDC_STAFF)
    assert Certificate.objects.filter(learner__staff_id="TP-005").count() == 1
    assert CompetitionResult.objects.filter(competition__slug="demo-cup").count() == 4
    page = sign_in(Client(), orgadmin).get(f"/training/compliance/?organisation={power.pk}")
    assert page.status_code == 200 and "Hsu Pei-chi" in page.content.decode()
    learner = Learner.objects.get(staff_id="TP-004")
    client = Client()
    client.post("/training/learn/sign-in/",
                {"email": learner.email, "password": demo.LEARNER_PASSWORD})  # fmt: skip
    home = client.get("/training/learn/").content.decode()
    assert "Security awareness for all staff" in home and "still missing" in home
