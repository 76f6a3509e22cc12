"""An advisory's life in a real Chromium: an analyst writes it, a second CERT member
approves and sends it, the agency acknowledges it and reports its action (over HTMX), and
the CERT's tracking view shows the change.

Needs Debian's `chromium`; skipped without it unless BULWARK_REQUIRE_BROWSER=1."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.advisories.models import Advisory
from bulwark.advisories.tests.world import PASSWORD, World
from bulwark.conftest import browser_sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def people(live_server: Any) -> World:
    return World()


def sign_in(page: Any, base: str, user: Any, second_factor: bool) -> Any:
    device = None
    if second_factor:
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return browser_sign_in(page, base, user.username, PASSWORD, device)


def press(page: Any, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()
    refusals = page.locator("ul.messages li.error").all_inner_texts()
    assert not refusals, f"{button!r} was refused: {refusals}"


def test_write_approve_send_acknowledge_act_and_track(
    new_page: Callable[[], Any], live_server: Any, people: World
) -> None:
    base = live_server.url
    # 1. The analyst writes the advisory and previews who will receive it.
    analyst = sign_in(new_page(), base, people.analyst, second_factor=True)
    analyst.click("nav >> text=Advisories")
    analyst.click("#new-advisory")
    analyst.fill("#id_title", "Example httpd remote code execution")
    analyst.select_option("#id_category", label="Vulnerability alert")
    analyst.select_option("#id_severity", "critical")
    analyst.select_option("#id_tlp", "amber")
    analyst.fill("#id_summary", "Patch Example httpd now.")
    analyst.fill("#id_body", "Attackers exploit **CVE-2026-1234**.")
    analyst.fill("#id_cves", "CVE-2026-1234 9.8")
    analyst.fill("#id_affected_products", "example httpd >=2.4.0,<2.4.60")
    analyst.select_option("#id_response_required", "action")
    deadline = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo(settings.TIME_ZONE))
    analyst.fill("#id_response_deadline", deadline.strftime("%Y-%m-%dT%H:%M"))
    analyst.select_option("#id_target_organisations", [str(people.bureau.pk), str(people.grid.pk)])
    press(analyst, "Save")
    advisory = Advisory.objects.get()
    assert analyst.locator("#advisory-status").get_attribute("data-status") == "draft"
    analyst.click("#preview-link")
    assert set(analyst.locator("#recipients tbody td:first-child").all_inner_texts()) == {
        "Bureau",
        "Grid Co",
    }
    analyst.go_back()
    press(analyst, "Submit for approval")
    assert analyst.locator("#approve-advisory").count() == 0  # not for the author

    # 2. A second CERT member approves and sends it.
    duty = sign_in(new_page(), base, people.duty, second_factor=True)
    duty.goto(f"{base}/advisories/{advisory.pk}/")
    press(duty, "Approve")
    press(duty, "Send")
    assert duty.locator("#advisory-status").get_attribute("data-status") == "sent"
    duty.click("#tracking-link")
    assert duty.locator('td[data-count="unread"]').inner_text() == "2"

    # 3. The agency finds it in its inbox, acknowledges it and reports the action (HTMX).
    agency = sign_in(new_page(), base, people.bureau_reporter, second_factor=False)
    agency.goto(f"{base}/advisories/")
    agency.click(f"text={advisory.reference}")
    panel = agency.locator("[id^=response-]")
    assert panel.get_attribute("data-state") == "read"
    with agency.expect_response(re.compile(r"/respond/$")) as answered:
        agency.get_by_role("button", name="Acknowledge receipt").click()
    assert answered.value.request.headers.get("hx-request") == "true"
    agency.locator('[id^=response-][data-state="acknowledged"]').wait_for()
    agency.select_option("[id^=action-form-] select[name=action]", "patched")
    agency.fill("[id^=action-form-] textarea[name=note]", "Upgraded to 2.4.60 on all hosts.")
    agency.get_by_role("button", name="Report the action").click()
    agency.locator('[id^=response-][data-state="acted"]').wait_for()

    # 4. The CERT's tracking view shows the change.
    duty.reload()
    assert duty.locator('td[data-count="acted"]').inner_text() == "1"
    assert duty.locator('td[data-count="unread"]').inner_text() == "1"
    row = duty.locator('#targets tr[data-organisation="Bureau"]')
    assert row.get_attribute("data-state") == "acted"
    assert "Upgraded to 2.4.60" in row.inner_text()


def test_bad_cve_and_cpe_lines_are_field_messages_with_the_text_kept(
    new_page: Callable[[], Any], live_server: Any, people: World
) -> None:
    """Issue 18: a CVE line written as the label shows it (commas) or an invalid CPE line
    gave a 500 and lost the advisory's text."""
    base = live_server.url
    analyst = sign_in(new_page(), base, people.analyst, second_factor=True)
    analyst.goto(f"{base}/advisories/new/")
    analyst.fill("#id_title", "Example httpd remote code execution")
    analyst.select_option("#id_category", label="Vulnerability alert")
    analyst.fill("#id_summary", "Patch Example httpd now.")
    analyst.fill("#id_body", "A long body the analyst must not lose.")
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    analyst.fill("#id_cves", f"CVE-2026-12345, 9.8, {vector}")
    analyst.fill("#id_affected_products", "cpe:2.3:a:example")
    analyst.select_option("#id_response_required", "none")
    analyst.select_option("#id_target_organisations", [str(people.bureau.pk)])
    with analyst.expect_navigation() as nav:
        analyst.get_by_role("button", name="Save", exact=True).click()
    assert nav.value is not None and nav.value.status == 400
    errors = analyst.locator("main .errorlist").all_inner_texts()
    assert len(errors) == 1 and "#1" in errors[0], errors  # the CPE line, on its field
    assert analyst.locator("#id_body").input_value() == "A long body the analyst must not lose."
    assert Advisory.objects.count() == 0

    analyst.fill("#id_affected_products", "cpe:2.3:a:example:httpd:2.4.59:*:*:*:*:*:*:*")
    press(analyst, "Save")
    assert analyst.locator("main .errorlist").all_inner_texts() == []
    advisory = Advisory.objects.get()
    assert advisory.cves == [{"id": "CVE-2026-12345", "cvss_score": 9.8, "cvss_vector": vector}]
    assert advisory.affected_products[0]["product"] == "httpd"
