"""A campaign's life in a real Chromium: the CERT builds and launches it, a recipient
clicks, sees the landing page, types a password and submits (the browser sends no typed
text), the CERT finishes it, and the agency reads its results and files its improvement
plan.

Needs Debian's `chromium`; skipped without it unless BULWARK_REQUIRE_BROWSER=1."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import totp_code
from bulwark.drills import services
from bulwark.drills.models import Campaign, DrillEvent, ImprovementPlan, Recipient
from bulwark.drills.tests.world import CSV, PASSWORD, World

pytestmark = pytest.mark.browser
SECRET = "Tr0ub4dor&3-typed-in-the-drill"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@pytest.fixture
def people(live_server: Any) -> World:
    return World()


def patient(page: Any) -> Any:
    """The shared 2-core machine can take longer than the default 15 s under load."""
    page.set_default_timeout(60_000)
    return page


def sign_in(page: Any, base: str, user: Any) -> Any:
    patient(page)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/otp/"))
    page.fill("#id_token", totp_code(device))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def press(page: Any, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()
    refusals = page.locator("ul.messages li.error").all_inner_texts()
    assert not refusals, f"{button!r} was refused: {refusals}"


def test_cert_launches_a_campaign_and_the_agency_files_its_plan(
    new_page: Callable[[], Any], live_server: Any, people: World, tmp_path: Path
) -> None:
    base = live_server.url
    # 1. The CERT builds the campaign, imports its recipients and launches it.
    cert = sign_in(new_page(), base, people.analyst)
    cert.click("nav >> text=Drills")
    cert.click("#new-campaign")
    cert.fill("#id_name", "Mailbox full")
    cert.fill("#id_subject_en", "Your mailbox is full")
    cert.fill("#id_subject_zh_hant", "信箱已滿")
    cert.fill("#id_body_en", "Dear {{name}}, release space: {{link}}")
    cert.fill("#id_body_zh_hant", "{{name}} 您好 請釋放空間 {{link}}")
    cert.fill("#id_landing_en", "Sign in to release space.")
    cert.fill("#id_tracking_domain", "mailbox-check.example.net")
    cert.select_option("#id_sending_profile", str(people.profile.pk))
    cert.fill("#id_starts_at", "2026-12-07T09:00")
    cert.select_option(
        "#id_organisations", [str(people.bureau.pk), str(people.office.pk), str(people.grid.pk)]
    )
    press(cert, "Save draft")
    campaign = Campaign.objects.get(name="Mailbox full")
    upload = tmp_path / "recipients.csv"
    upload.write_text(CSV, encoding="utf-8")
    cert.set_input_files("#id_file", str(upload))
    press(cert, "Import")
    press(cert, "Launch")
    assert cert.locator("#campaign-state").inner_text() == "Scheduled"
    campaign.recipients.update(send_at=campaign.starts_at)
    assert services.send_due(campaign.pk) == 4  # the worker's task (locmem mail in tests)

    # 2. Alice clicks her link in a real browser, types her password and submits.
    alice = Recipient.objects.get(email="alice@bureau.example.org")
    Recipient.objects.filter(pk=alice.pk).update(sent_at=campaign.starts_at)
    victim = patient(new_page())
    # Headless Chromium names itself "HeadlessChrome", a known automated agent: a person's
    # desktop browser does not.
    victim.set_extra_http_headers({"User-Agent": DESKTOP})
    bodies: list[bytes] = []
    victim.on(
        "request",
        lambda r: bodies.append(r.post_data_buffer or b"") if r.method == "POST" else None,
    )
    with victim.expect_response(re.compile(r"/seen\.gif$")):
        victim.goto(f"{base}/d/{alice.token}/go")
    victim.fill("#u", "alice")
    victim.fill("#p", SECRET)
    with victim.expect_navigation():
        victim.click("#drill-form button[type=submit]")
    assert victim.locator("#caught").is_visible()
    assert bodies == [b"submitted=1"]  # what the browser sent: the flag, nothing typed
    kinds = {(e.kind, e.automated) for e in DrillEvent.objects.filter(recipient=alice)}
    assert {("clicked", ""), ("page", ""), ("submitted", "")} <= kinds

    # 3. The CERT sees the click counted and finishes: the Bureau failed its threshold.
    cert.reload()
    row = cert.locator('#agency-results tr[data-organisation="Bureau"]')
    assert row.locator('td[data-rate="click"]').inner_text() == "50.0 %"
    press(cert, "Finish and require improvement plans")
    plan = ImprovementPlan.objects.get(campaign=campaign)
    assert plan.organisation == people.bureau

    # 4. The agency reads its own results and files its improvement plan.
    agency = sign_in(new_page(), base, people.bureau_admin)
    agency.click("nav >> text=Drills")
    agency.click("text=Mailbox full")
    assert agency.locator("#agency-results tbody tr").count() == 1
    assert agency.locator('td[data-result="fail"]').count() == 1
    agency.click('#agency-results a:has-text("Required")')
    agency.fill("#id_measures", "Training for everyone who clicked, and an outside-mail banner.")
    press(agency, "File the plan")
    assert agency.locator("#plan-state").inner_text() == "Filed"
