"""In a real Chromium (issue 18, accessible forms): a skip link is the first thing the
keyboard reaches, keyboard focus is visible, "/" moves to the page's search box, and a
field the server refused says so to assistive technology (aria-invalid, and
aria-describedby naming the element that holds the error).

Needs Debian's `chromium` (skipped without it unless BULWARK_REQUIRE_BROWSER=1)."""

import re
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import totp_code
from bulwark.constituency import services
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery 9"  # the factories' password


def test_keyboard_and_screen_reader_basics(db: Any, live_server: Any, new_page: Any) -> None:
    cert = OrganisationFactory(name="National CERT", kind="national_cert")
    agency = OrganisationFactory(name="Water agency", kind="government_agency")
    admin = UserFactory(username="ada")
    services.add_membership(None, admin, cert, "platform_admin")
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    base = live_server.url
    page = new_page()

    # The skip link: first on Tab, shown when focused, and it leads to the content.
    page.goto(f"{base}/publications/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
    assert 'class="skip-link"' in focused, focused
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0  # moved into view
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Keyboard focus is drawn: a visible outline on the focused field (the sign-in page
    # starts with the user name focused; Tab moves on to the password).
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_username").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_password"
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert outline[0] != "none" and outline[1] >= 2, outline

    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/otp/"))
    page.fill("#id_token", totp_code(device))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")

    # "/" focuses the search box, but typing "/" into a field stays typing.
    page.goto(f"{base}/incidents/")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type("a/b")
    assert page.input_value("main input[name=q]") == "a/b"

    # A refused field: aria-invalid and aria-describedby pointing at its error.
    page.goto(f"{base}/organisations/{agency.pk}/")
    page.select_option("#id_kind", index=1)
    page.fill("#id_value", "not a network")
    page.click("#networks button[type=submit]:has-text('Add network')")
    page.wait_for_selector("#id_value[aria-invalid=true]")
    described = page.get_attribute("#id_value", "aria-describedby")
    assert described
    errors = " ".join(page.inner_text(f"#{name}") for name in described.split())
    assert errors.strip()
    assert page.evaluate("document.querySelectorAll('[aria-invalid=true]').length") == 1
