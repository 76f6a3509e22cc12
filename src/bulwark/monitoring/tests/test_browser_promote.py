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
