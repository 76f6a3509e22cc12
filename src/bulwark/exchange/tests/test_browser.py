"""The analyst's day in a real Chromium: the exchange nav link, a CIDR search over HTMX,
the unrouted queue, re-routing an event, replaying a fixed quarantined line; and an agency
member who sees only the events routed to their organisation.

Needs Debian's `chromium` (skipped without it unless BULWARK_REQUIRE_BROWSER=1)."""

import re
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from bulwark.conftest import browser_sign_in
from bulwark.constituency.models import User
from bulwark.exchange import demo, services
from bulwark.exchange.models import Event

pytestmark = pytest.mark.browser
PASSWORD = "x" * 16  # as the exchange tests' constituency sets it
SHADOW = "2026-11-20-scan_ntp-taiwan-geo.csv"


def sign_in(page: Any, base: str, username: str, device: TOTPDevice | None = None) -> None:
    browser_sign_in(page, base, username, PASSWORD, device)


def test_analyst_works_the_exchange_and_a_member_sees_their_own(
    constituency: Any, live_server: Any, new_page: Any
) -> None:
    with (demo.SAMPLES / SHADOW).open("rb") as stream:
        services.ingest(None, stream, file_name=SHADOW)
    analyst = User.objects.get(username="analyst")
    device = TOTPDevice.objects.create(user=analyst, name="phone", confirmed=True)
    base = live_server.url

    page = new_page()
    sign_in(page, base, "analyst", device)
    page.get_by_role("link", name="Report exchange").click()
    page.wait_for_url(f"{base}/exchange/")
    page.fill("#f-cidr", "198.18.12.0/22")
    page.get_by_role("button", name="Search").click()
    # Not wait_for_function: Playwright evaluates its string with eval in the page, which
    # the Content-Security-Policy refuses (no 'unsafe-eval').
    expect(page.locator("#events")).not_to_contain_text("198.18.8.20")
    table = page.locator("#events").inner_text()
    assert "198.18.12.7" in table and "198.18.17.5" not in table

    page.get_by_role("link", name="Unrouted queue").click()
    page.wait_for_url(re.compile(r"recipient=unrouted"))
    page.locator("#events a").first.click()
    page.wait_for_url(re.compile(r"/exchange/events/\d+/"))
    assert "198.18.250.1" in page.locator("h1").inner_text()
    page.select_option("#id_recipient", label="CHT (test)")
    page.fill("#id_reason", "CHT customer line")
    page.get_by_role("button", name="Re-route").click()
    page.wait_for_selector("text=The event was re-routed.")
    assert Event.objects.get(source_ip="198.18.250.1").recipient.short_name == "CHT"

    page.get_by_role("link", name="Quarantine").click()
    page.get_by_role("link", name="11", exact=True).click()
    text = page.locator("#id_text").input_value()
    page.fill("#id_text", text.replace("198.18.12.300", "198.18.12.30"))
    page.get_by_role("button", name="Replay").click()
    page.wait_for_selector("text=Replayed: the record is an event now.")
    assert Event.objects.filter(source_ip="198.18.12.30").exists()

    member = new_page()
    sign_in(member, base, "reporter")
    member.goto(f"{base}/exchange/")
    rows = member.locator("#events").inner_text()
    assert "198.18.12.7" in rows and "198.18.8.20" not in rows and "192.0.2.44" not in rows
    assert member.get_by_role("link", name="Quarantine").count() == 0
    assert member.goto(f"{base}/exchange/quarantine/").status == 404
