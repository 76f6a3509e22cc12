"""In a real Chromium: the CERT duty officer promotes a monitoring alert to an incident,
and the agency's reporter finds that incident in the agency's incident list."""

from collections.abc import Callable
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.constituency.models import User
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_browser_journey import sign_in
from bulwark.incidents.tests.test_journey import People
from bulwark.monitoring import services
from bulwark.monitoring.models import Alert, AlertRule

pytestmark = pytest.mark.browser


@pytest.fixture
def people(live_server: Any) -> People:
    return People()


def test_promoted_alert_reaches_the_agency_incident_list(
    new_page: Callable[[], Any], live_server: Any, people: People
) -> None:
    base = live_server.url
    AlertRule.objects.create(name="all")
    services.record_hits(
        people.agency, [{"indicator": "c2.bad.example", "type": "domain", "ts": 1763900000.0}]
    )
    alert = Alert.objects.get()
    device = TOTPDevice.objects.create(
        user=User.objects.get(username="duty"), name="phone", confirmed=True
    )
    page = sign_in(new_page(), base, "duty", device)
    page.click("nav >> text=Monitoring")
    page.click(f"#alerts >> text={alert.indicator}")
    page.fill("#note", "beaconing every 60 s")
    with page.expect_navigation():
        page.get_by_role("button", name="Promote to incident", exact=True).click()
    incident = Incident.objects.get()
    assert page.url.endswith(f"/incidents/{incident.pk}/")
    assert incident.reference in page.locator("main").inner_text()

    agency = sign_in(new_page(), base, "reporter")
    agency.goto(f"{base}/incidents/")
    row = agency.locator("#incidents tbody tr", has_text=incident.reference)
    assert row.count() == 1
    assert "c2.bad.example" in row.inner_text()
    outsider = sign_in(new_page(), base, "outsider")
    outsider.goto(f"{base}/incidents/")
    assert incident.reference not in outsider.locator("#incidents").inner_text()


def test_anomaly_alert_with_evidence_chart_is_promoted(
    new_page: Callable[[], Any], live_server: Any, people: People
) -> None:
    """A behavioural (beacon) alert: the duty officer sees the interval histogram and
    the hourly timeline, follows a raw-line link back, and promotes it."""
    from bulwark.monitoring.demo import BEHAVIOUR_LOGS, SAMPLES
    from bulwark.monitoring.engine.behaviour import detect, read_logs

    base = live_server.url
    AlertRule.objects.create(name="all")
    data = read_logs([str(SAMPLES / n) for n in BEHAVIOUR_LOGS], agency="bureau")
    services.record_findings(detect(data, only=["beacon"]), {"bureau": people.agency})
    alert = Alert.objects.get(indicator="beacon:45.77.12.9")
    device = TOTPDevice.objects.create(
        user=User.objects.get(username="duty"), name="phone", confirmed=True
    )
    page = sign_in(new_page(), base, "duty", device)
    page.goto(f"{base}/monitoring/alerts/{alert.pk}/")
    evidence = page.locator("#evidence")
    assert evidence.locator("svg").count() == 2
    assert evidence.locator("svg rect").count() >= 20 + 24
    assert "10.20.1.23" in page.locator("main").inner_text()
    page.fill("#note", "a five-minute beacon to an address nobody else talks to")
    with page.expect_navigation():
        page.get_by_role("button", name="Promote to incident", exact=True).click()
    incident = Incident.objects.get()
    assert page.url.endswith(f"/incidents/{incident.pk}/")
    assert "45.77.12.9" in incident.title
    Alert.objects.get(pk=alert.pk, status="promoted", incident=incident)
