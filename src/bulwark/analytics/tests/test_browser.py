"""In a real Chromium: the CERT opens the statistics, changes the period and sees the
figures change; the drill-in to a group keeps the period.

Needs Debian's `chromium` (skipped without it unless BULWARK_REQUIRE_BROWSER=1)."""

import re
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.analytics import figures, periods
from bulwark.analytics.tests.dataset import build
from bulwark.conftest import totp_code

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery 9"  # the factories' password


def total(page: Any, key: str) -> int:
    return int(float(page.locator(f"#fig-{key} table.stats").get_attribute("data-total")))


def test_the_cert_changes_the_period_and_the_figures_follow(
    db: Any, live_server: Any, new_page: Any
) -> None:
    data = build(incidents=120, events=80, items=40)
    device = TOTPDevice.objects.create(user=data.duty, name="phone", confirmed=True)
    expected = {
        year: figures.compute("incidents_by_category", data.duty, periods.year(year)).total
        for year in (2024, 2025)
    }
    assert expected[2024] != expected[2025]
    base = live_server.url

    page = new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "duty")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/otp/"))
    page.fill("#id_token", totp_code(device))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.get_by_role("link", name="Statistics").click()
    page.wait_for_url(re.compile(r"/stats/"))
    page.wait_for_selector("#fig-incidents_by_category svg")  # drawn after the page
    assert page.locator("#fig-incidents_by_category svg").count() == 1
    # Every tab opens on the default period, the year to date (issue 18: the tabs' links
    # carried its display label, "2026 (to 2026-12-07)", which no period parses).
    tabs = page.locator("#stats-groups a")
    for index in range(tabs.count()):
        name = tabs.nth(index).inner_text()
        tabs.nth(index).click()
        page.wait_for_load_state()
        assert page.locator("#period-error").count() == 0, name
        assert page.locator("#period-label").inner_text().startswith("Period: 20"), name
        assert page.locator("#f-period").input_value() == "", name
        tabs = page.locator("#stats-groups a")
    tabs.first.click()
    page.wait_for_load_state()

    for year in (2025, 2024):
        page.fill("#f-period", str(year))
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(re.compile(rf"period={year}"))
        label = page.locator("#period-label").inner_text()
        assert label.endswith(f"({year}-01-01 \u2013 {year}-12-31)")
        assert total(page, "incidents_by_category") == expected[year]
        page.wait_for_selector("#fig-incidents_by_category svg")
        assert page.locator("#fig-incidents_by_category svg").count() == 1

    # A date range, then the incidents group keeps that range.
    page.fill("#f-period", "")
    page.fill("#f-since", "2025-01-01")
    page.fill("#f-until", "2025-06-30")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"since=2025-01-01"))
    half = figures.compute(
        "incidents_by_level", data.duty, periods.parse(None, "2025-01-01", "2025-06-30")
    )
    page.locator("#stats-groups").get_by_role("link", name="Incidents").click()
    page.wait_for_url(re.compile(r"group=incidents"))
    assert total(page, "incidents_by_level") == half.total
    assert "2025-01-01" in page.locator("#period-label").inner_text()
