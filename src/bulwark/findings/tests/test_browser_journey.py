"""A finding's life in a real Chromium: the CERT imports a scan from the engagement page,
the agency fixes a finding with an evidence file, the CERT retests and closes it.

Needs Debian's `chromium`; skipped without it unless BULWARK_REQUIRE_BROWSER=1."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import totp_code
from bulwark.findings.models import Finding
from bulwark.findings.tests.world import PASSWORD, World, nessus

pytestmark = pytest.mark.browser


@pytest.fixture
def people(live_server: Any) -> World:
    return World()


def sign_in(page: Any, base: str, user: Any, second_factor: bool) -> Any:
    device = None
    if second_factor:
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    if device is not None:
        page.wait_for_url(re.compile(r"/accounts/otp/"))
        page.fill("#id_token", totp_code(device))
        page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def test_import_fix_with_evidence_retest_close(
    new_page: Callable[[], Any], live_server: Any, people: World, tmp_path: Path
) -> None:
    base = live_server.url
    engagement = people.engagement(title="Bureau penetration test", kind="pentest")
    scan = tmp_path / "bureau.nessus"
    scan.write_bytes(nessus({"10.9.0.1": [(443, "4001", 4, "CVE-2024-3400"), (22, "4002", 2, "")]}))
    # 1. The CERT analyst imports the scan from the engagement page.
    analyst = sign_in(new_page(), base, people.analyst, second_factor=True)
    analyst.click("nav >> text=Findings")
    analyst.goto(f"{base}/findings/engagements/{engagement.pk}/")
    analyst.click("#import-scan")
    analyst.set_input_files("#id_file", str(scan))
    with analyst.expect_navigation():
        analyst.click("#import-form button[type=submit]")
    assert analyst.locator('#import-counts [data-count="new"]').inner_text() == "2"
    assert "2 new" in analyst.locator("ul.messages").inner_text()
    critical = Finding.objects.get(rule_id="4001")
    # 2. The agency's reporter sees it in its list, fixes it with evidence.
    evidence = tmp_path / "patch-report.txt"
    evidence.write_text("PAN-OS upgraded to 11.1.2-h3.")
    agency = sign_in(new_page(), base, people.bureau_reporter, second_factor=False)
    agency.goto(f"{base}/findings/list/")
    agency.click(f'tr[data-finding="{critical.pk}"] a')
    agency.fill("#fix-form textarea[name=note]", "Upgraded the firewall.")
    agency.set_input_files("#fix-form input[type=file]", str(evidence))
    with agency.expect_navigation():
        agency.click("#fix-form button[type=submit]")
    assert agency.locator("#finding-status").get_attribute("data-status") == "fixed"
    assert agency.locator("#events").get_by_text("patch-report.txt").is_visible()
    # the agency has no retest button
    assert agency.locator("#retest-pass").count() == 0
    # 3. The CERT retests and closes it; the decision history explains the import.
    analyst.goto(f"{base}/findings/{critical.pk}/")
    assert analyst.locator('#decisions tr[data-outcome="new"]').count() == 1
    analyst.fill("#r-note", "Checked the version from outside.")
    with analyst.expect_navigation():
        analyst.click("#retest-pass")
    assert analyst.locator("#finding-status").get_attribute("data-status") == "closed"
    critical.refresh_from_db()
    assert critical.status == "closed" and critical.closed_at is not None
