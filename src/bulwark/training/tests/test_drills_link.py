"""The drills -> training link (issue 22): people a social-engineering drill classifies as
human clickers or submitters are enrolled in the campaign's course through
`core.registry.TRAINING_ENROLMENT`; machines (mail gateways) and people who only opened
the mail are not. Drills never imports training: this test lives above both."""

from datetime import timedelta
from typing import Any

from django.utils import timezone

from bulwark.drills import services as drills
from bulwark.drills.models import EventKind, Recipient, SendingProfile
from bulwark.training.models import Enrolment
from bulwark.training.tests.conftest import World

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0"
CSV = """email,organisation,name,department,language
mei@agency-a.gov,Agency A,Lin Mei,IT,en
wei@agency-a.gov,Agency A,Chen,IT,en
"""


def _launched(world: World, course_code: str) -> list[Recipient]:
    profile = SendingProfile.objects.create(name="relay", from_address="it@drill.example.net")
    campaign = drills.create_campaign(
        world.analyst, organisations=[world.agency], name="Password expiry",
        subject_en="s", subject_zh_hant="s", body_en="{{link}}", body_zh_hant="{{link}}",
        tracking_domain="mail-check.example.net", sending_profile=profile,
        starts_at=timezone.now(), course_code=course_code,
    )  # fmt: skip
    assert not drills.import_recipients(world.analyst, campaign, CSV).errors
    drills.launch(world.analyst, campaign)
    people = list(campaign.recipients.order_by("email"))
    for person in people:
        drills.record_outcome(person, at=timezone.now() - timedelta(hours=1))
    return people


def test_human_clickers_are_enrolled_scanners_are_not(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    mei, wei = _launched(world, "awareness")
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        # A mail gateway follows Wei's link: automated, nobody is enrolled.
        drills.record_hit(wei.token, EventKind.CLICKED, agent="Proofpoint URL Defense", at=now)
        drills.record_hit(wei.token, EventKind.OPENED, agent=BROWSER, at=now)
        # Mei clicks, the landing page renders (its image): a person clicked.
        drills.record_hit(mei.token, EventKind.CLICKED, agent=BROWSER, at=now)
        assert not Enrolment.objects.exists()  # a click alone is not yet a person's
        drills.record_hit(mei.token, EventKind.PAGE, agent=BROWSER, at=now + timedelta(seconds=4))
        drills.record_hit(
            mei.token, EventKind.SUBMITTED, agent=BROWSER, at=now + timedelta(seconds=9)
        )
    enrolled = Enrolment.objects.get()
    assert (enrolled.learner, enrolled.course, enrolled.source) == (
        world.learner,
        world.course,
        Enrolment.Source.HOOK,
    )
    mei.refresh_from_db()
    assert mei.clicked_at is not None and mei.submitted_at is not None  # once, not twice


def test_a_campaign_without_a_course_enrols_nobody(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    (mei, _wei) = _launched(world, "")
    with django_capture_on_commit_callbacks(execute=True):
        drills.record_hit(mei.token, EventKind.SUBMITTED, agent=BROWSER)
    assert not Enrolment.objects.exists()
