"""In a real Chromium: the main pages under the Content-Security-Policy. Chromium reports
every refused inline script, style, handler or eval on the console ("Refused to ...
because it violates the following Content Security Policy directive"); a page walk
with the CERT's duty officer must report none, the charts and the QR code must draw, htmx
must load, and the language switch (once an inline onchange) must still work.

Needs Debian's `chromium` (skipped without it unless BULWARK_REQUIRE_BROWSER=1)."""

import re
from typing import Any

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.analytics.tests.dataset import build
from bulwark.conftest import totp_code
from bulwark.constituency import services

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery 9"  # the factories' password

PAGES = [
    ("home", {}),
    ("incident-list", {}),
    ("incident-create", {}),
    ("intel-home", {}),
    ("intel-share", {}),
    ("exchange-events", {}),
    ("exchange-reports", {}),
    ("exchange-quarantine", {}),
    ("advisory-list", {}),
    ("advisory-create", {}),
    ("stats-dashboard", {}),
    ("stats-report-texts", {}),
    ("monitoring-alerts", {}),
    ("monitoring-sightings", {}),
    ("organisation-list", {}),
    ("organisation-create", {}),
    ("user-list", {}),
    ("network-overlaps", {}),
    ("audit-list", {}),
    ("notification-list", {}),
    ("token-list", {}),
    ("api-docs", {}),
    ("publication-list", {}),
]


def test_main_pages_report_no_csp_violation(db: Any, live_server: Any, new_page: Any) -> None:
    data = build(incidents=30, events=20, items=20)
    services.add_membership(None, data.duty, data.cert, "platform_admin")  # the admin pages
    device = TOTPDevice.objects.create(user=data.duty, name="phone", confirmed=True)
    base = live_server.url
    page = new_page()
    violations: list[str] = []
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: (
            violations.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "duty")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/otp/"))
    page.fill("#id_token", totp_code(device))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")

    pages = [reverse(name, kwargs=kwargs) for name, kwargs in PAGES]
    pages += [
        reverse("organisation-detail", kwargs={"pk": data.agencies[0].pk}),
        reverse("incident-detail", kwargs={"pk": data.incidents[0].pk}),
        reverse("stats-dashboard") + "?group=exchange",
    ]
    for path in pages:
        response = page.goto(base + path)
        assert response is not None and response.status < 400, f"{path}: {response}"
        page.wait_for_load_state("load")
        if page.locator("script[src*=htmx]").count():  # pages built on base.html
            assert page.evaluate("typeof window.htmx") == "object", path

    page.goto(base + reverse("stats-dashboard"))
    page.wait_for_selector("#fig-incidents_by_category svg")  # fetched after the page
    chart = page.locator("#fig-incidents_by_category svg")
    assert chart.count() == 1
    # The bars keep their colours without style attributes (presentation attributes).
    fills = page.evaluate(
        "[...document.querySelectorAll('#fig-incidents_by_category svg path')]"
        ".map(p => getComputedStyle(p).fill).filter(f => f && f !== 'none')"
    )
    assert len(set(fills)) >= 2, fills

    # The language switch submits its form from the static script.
    page.goto(f"{base}/")
    with page.expect_navigation():
        page.select_option("select[name=language]", "zh-hant")
    assert page.locator("html").get_attribute("lang") == "zh-hant"

    assert violations == []
    assert errors == []


def test_sign_in_and_enrolment_pages_report_no_csp_violation(
    db: Any, live_server: Any, new_page: Any
) -> None:
    cert = services.create_organisation(None, name="CERT", kind="national_cert", country="TW")
    duty = services.create_user(None, username="duty", email="d@cert.example", password=PASSWORD)
    services.add_membership(None, duty, cert, "duty_officer")
    base = live_server.url
    page = new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            violations.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", duty.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/otp/setup/"))
    qr = page.locator("main svg").first
    assert qr.is_visible() and qr.bounding_box()["width"] > 50
    page.goto(f"{base}/accounts/password-reset/")
    page.goto(f"{base}/publications/")
    assert violations == []
