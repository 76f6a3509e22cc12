"""Incident-response drills: the notice starts the clocks; the agency's drill incident
goes through the real incident system (`is_drill`); the score is the clocks met."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.core.models import Notification
from bulwark.drills import selectors, services
from bulwark.drills.models import DrillNotice
from bulwark.drills.tests.world import World
from bulwark.incidents import services as incidents


def test_a_drill_notice_flows_through_the_incident_system(world: World, client: Client) -> None:
    obligation = services.plan_calendar(
        world.analyst, world.bureau, level="A", year=timezone.now().year
    )[0]
    assert obligation.kind == "incident_response"
    notice = services.send_notice(
        world.reviewer, world.bureau, scenario="Ransom note on the file server.",
        rsit_class="malicious-code", rsit_type="infected-system", obligation=obligation,
    )  # fmt: skip
    assert Notification.objects.filter(user=world.bureau_reporter, kind="drill_notice").exists()
    with pytest.raises(PermissionDenied):
        services.send_notice(
            world.reviewer, world.grid, scenario="x", rsit_class="malicious-code",
            rsit_type="infected-system",
        )  # fmt: skip
    with pytest.raises(ValidationError):
        services.send_notice(
            world.analyst, world.grid, scenario="x", rsit_class="malicious-code", rsit_type="dos"
        )
    with pytest.raises(PermissionDenied):
        services.report_drill(world.grid_admin, notice, title="t", description="d")
    sign_in(client, world.bureau_reporter)
    reply = client.post(
        f"/drills/notices/{notice.pk}/",
        {"title": "Drill: ransomware", "description": "Files encrypted on FS01."},
    )
    assert reply.status_code == 302
    notice.refresh_from_db()
    incident = notice.incident
    assert incident is not None and incident.is_drill
    assert incident.aware_at == notice.sent_at and incident.organisation == world.bureau
    obligation.refresh_from_db()
    assert obligation.held_at == notice.sent_at
    with pytest.raises(ValidationError):
        services.report_drill(world.bureau_admin, notice, title="again", description="d")
    # The authority reviews within its 8 hours: notification and review met on time.
    incidents.review_incident(world.reviewer, incident, level=incident.level)
    notice = DrillNotice.objects.get(pk=notice.pk)
    score = selectors.score(notice)
    assert (score.met, score.decided) == (2, 2)
    # Three days later, recovery was never reported: that clock is overdue.
    later = selectors.score(notice, now=timezone.now() + timedelta(days=4))
    assert (later.met, later.decided) == (2, 3) and later.percent == 66.7
    page = client.get(f"/drills/notices/{notice.pk}/").content.decode()
    assert 'id="drill-clocks"' in page and incident.reference in page


def test_an_unanswered_notice_scores_nothing_after_the_hour(world: World) -> None:
    notice = services.send_notice(
        world.analyst, world.grid, scenario="Phishing wave.", rsit_class="fraud",
        rsit_type="phishing",
    )  # fmt: skip
    assert selectors.score(notice).decided == 0
    late = selectors.score(notice, now=notice.sent_at + timedelta(hours=2))
    assert (late.met, late.decided) == (0, 1)
    assert list(selectors.notices(world.bureau_admin)) == []
    assert list(selectors.notices(world.grid_admin)) == [notice]
