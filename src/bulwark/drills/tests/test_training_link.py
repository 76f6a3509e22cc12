"""Without the training app's hook (`core.registry.TRAINING_ENROLMENT` not installed) a
campaign offers no course field and a person's click is recorded as usual; with it, a
human clicker's enrolment is asked for once (training's own test,
training/tests/test_drills_link.py, checks the real enrolment)."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bulwark.core import registry
from bulwark.drills import forms, services
from bulwark.drills.models import EventKind
from bulwark.drills.tests.world import World

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0"


@pytest.fixture
def hook() -> Iterator[list[tuple[int, str, str]]]:
    """The hook replaced by a recorder (and put back after the test)."""
    calls: list[tuple[int, str, str]] = []
    saved = registry.TRAINING_ENROLMENT._installed

    def enrol(org_id: int, email: str, code: str) -> bool:
        calls.append((org_id, email, code))
        return True

    registry.TRAINING_ENROLMENT.install(enrol)
    yield calls
    registry.TRAINING_ENROLMENT._installed = saved


@pytest.fixture
def no_hook() -> Iterator[None]:
    saved = registry.TRAINING_ENROLMENT._installed
    registry.TRAINING_ENROLMENT._installed = None
    yield
    registry.TRAINING_ENROLMENT._installed = saved


def _delivered(world: World, **fields: Any) -> Any:
    campaign = world.launched(**fields)
    for person in campaign.recipients.all():
        services.record_outcome(person, at=timezone.now() - timedelta(hours=1))
    return campaign.recipients.get(email="alice@bureau.example.org")


def test_without_training_no_course_field_and_clicks_still_count(
    world: World, no_hook: None, django_capture_on_commit_callbacks: Any
) -> None:
    assert "course_code" not in forms.CampaignForm().fields
    alice = _delivered(world, course_code="awareness")
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.record_hit(alice.token, EventKind.CLICKED, agent=BROWSER, at=now)
        services.record_hit(
            alice.token, EventKind.PAGE, agent=BROWSER, at=now + timedelta(seconds=3)
        )
    assert len(callbacks) == 1  # asked once, answered "not installed"
    assert services.enrol_in_training(services.target_of(alice.token)) is False  # type: ignore[arg-type]
    alice.refresh_from_db()
    assert alice.clicked_at is not None


def test_with_the_hook_a_confirmed_click_asks_for_the_course_once(
    world: World, hook: list[tuple[int, str, str]], django_capture_on_commit_callbacks: Any
) -> None:
    assert "course_code" in forms.CampaignForm().fields
    alice = _delivered(world, course_code="awareness")
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        services.record_hit(alice.token, EventKind.CLICKED, agent=BROWSER, at=now)
        assert hook == []  # not yet a person's click
        services.record_hit(
            alice.token, EventKind.PAGE, agent=BROWSER, at=now + timedelta(seconds=3)
        )
    assert hook == [(world.bureau.pk, "alice@bureau.example.org", "awareness")]
