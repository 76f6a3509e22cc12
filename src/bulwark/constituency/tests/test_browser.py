"""End-to-end tests in a real Chromium: sign-in with the second factor, creating an
organisation and claiming a network through the HTMX form.

Needs Debian's `chromium`; Playwright never downloads a browser here. Without Chromium the
tests are skipped, unless BULWARK_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

import re
import time
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import totp_code
from bulwark.constituency import services
from bulwark.constituency.models import NetworkClaim, Organisation, User

pytestmark = pytest.mark.browser


PASSWORD = "correct horse battery staple 42"
SCREENSHOT = "/tmp/bulwark-browser.png"


@pytest.fixture
def page(new_page: Any) -> Any:
    """One fresh browser page (see `new_page` in bulwark/conftest.py)."""
    return new_page()


@pytest.fixture
def cert(live_server: Any) -> Organisation:
    return services.create_organisation(
        None, name="National CERT", short_name="NCERT", kind="national_cert", country="TW"
    )


@pytest.fixture
def admin(cert: Organisation) -> User:
    user = services.create_user(
        None, username="root-admin", email="root-admin@cert.example", password=PASSWORD
    )
    services.add_membership(None, user, cert, "platform_admin")
    return user


@pytest.fixture
def device(admin: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)


def current_code(device: TOTPDevice, drift: int = 0) -> str:
    return totp_code(device, drift)


def wrong_code(device: TOTPDevice) -> str:
    """A code that no step inside the device's tolerance window accepts."""
    window = range(-device.tolerance - 1, device.tolerance + 2)
    accepted = {current_code(device, drift) for drift in window}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 111_111)) if c not in accepted)


def assert_static_loaded(page: Any) -> None:
    """The stylesheet and htmx must load; without htmx the network form silently falls
    back to a full-page post and the HTMX path goes untested."""
    broken = page.evaluate(
        "performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/static/') && e.responseStatus >= 400)"
        ".map(e => `${e.responseStatus} ${e.name}`)"
    )
    assert not broken, (
        f"static files failed to load (are they found by STATICFILES_DIRS?): {broken}"
    )
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load"


def sign_in(page: Any, base: str, device: TOTPDevice, *, try_wrong_code: bool = False) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "root-admin")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/otp/"))
    assert page.locator("#id_token").is_visible()

    if try_wrong_code:
        page.fill("#id_token", wrong_code(device))
        with page.expect_navigation():
            page.click("main button[type=submit]")
        assert page.url == f"{base}/accounts/otp/"
        assert "That code is not valid" in page.locator("main .errorlist").inner_text()
        # Still not signed in: any other page sends the user back to the code.
        page.goto(f"{base}/organisations/")
        page.wait_for_url(re.compile(r"/accounts/otp/"))
        assert page.locator("table#organisations").count() == 0
        # django-otp throttles a device for 1 s after one failure.
        time.sleep(1.2)

    page.fill("#id_token", current_code(device))
    page.click("main button[type=submit]")
    if try_wrong_code:
        # The code leads on to the page last asked for, not to the dashboard.
        page.wait_for_url(f"{base}/organisations/")
        assert page.locator("table#organisations").count() == 1
        page.goto(f"{base}/")
    page.wait_for_url(f"{base}/")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert_static_loaded(page)


def test_sign_in_create_organisation_and_claim_network(
    page: Any, live_server: Any, cert: Organisation, device: TOTPDevice
) -> None:
    base = live_server.url
    sign_in(page, base, device, try_wrong_code=True)

    page.goto(f"{base}/organisations/new/")
    page.fill("#id_name", "Ministry of Digital Affairs")
    page.fill("#id_short_name", "MODA")
    page.select_option("#id_kind", "government_agency")
    page.fill("#id_country", "TW")
    page.select_option("#id_parent", str(cert.pk))
    page.fill("#id_notes", "Created by the browser test.")
    page.click("main form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/organisations/\d+/$"))
    org = Organisation.objects.get(name="Ministry of Digital Affairs")
    assert page.url == f"{base}/organisations/{org.pk}/"
    assert org.parent_id == cert.pk
    assert org.kind == "government_agency"
    assert "Ministry of Digital Affairs" in page.locator("h1").inner_text()
    assert "Organisation Ministry of Digital Affairs created." in page.inner_text("ul.messages")

    networks = page.locator("section#networks")
    networks.locator("#id_kind").select_option("cidr")
    networks.locator("#id_value").fill("192.0.2.0/24")
    networks.locator("#id_note").fill("Office LAN")
    with page.expect_response(re.compile(rf"/organisations/{org.pk}/networks/$")) as response:
        networks.get_by_role("button", name="Add network").click()
    assert response.value.status == 200
    assert response.value.request.headers.get("hx-request") == "true"  # sent by HTMX
    claim_cell = page.locator("section#networks table td code", has_text="192.0.2.0/24")
    claim_cell.wait_for()
    assert page.locator("section#networks").count() == 1  # swapped, not nested
    assert page.locator("section#networks #id_value").input_value() == ""
    assert list(NetworkClaim.objects.filter(organisation=org).values_list("value", flat=True)) == [
        "192.0.2.0/24"
    ]

    page.goto(f"{base}/organisations/")
    table = page.locator("table#organisations")
    row = table.locator("tbody tr", has_text="Ministry of Digital Affairs")
    assert row.count() == 1
    assert "National CERT" in row.inner_text()  # supervising authority column
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_invalid_network_shows_field_error(
    page: Any, live_server: Any, cert: Organisation, device: TOTPDevice
) -> None:
    agency = services.create_organisation(
        None, name="Agency", kind="government_agency", country="TW", parent=cert
    )
    base = live_server.url
    sign_in(page, base, device)

    page.goto(f"{base}/organisations/{agency.pk}/")
    networks = page.locator("section#networks")
    networks.locator("#id_kind").select_option("cidr")
    networks.locator("#id_value").fill("10.0.0.1/8")
    with page.expect_response(re.compile(rf"/organisations/{agency.pk}/networks/$")) as response:
        networks.get_by_role("button", name="Add network").click()
    assert response.value.status == 400
    assert response.value.request.headers.get("hx-request") == "true"  # sent by HTMX
    error = page.locator("section#networks .errorlist", has_text="host bits")
    error.wait_for()
    assert "did you mean 10.0.0.0/8" in error.inner_text()
    assert page.locator("section#networks").count() == 1
    assert page.locator("section#networks #id_value").input_value() == "10.0.0.1/8"
    assert "No networks claimed." in page.locator("section#networks table").inner_text()
    assert not NetworkClaim.objects.filter(organisation=agency).exists()
