"""One incident's whole life in a real Chromium: the agency reports (with the level
proposed over HTMX), its supervising authority confirms the level, the CERT responds with
guidance, the agency recovers, records its CISO meeting and files the final report, the
CERT asks for a revision and then closes the case, checking the statutory clocks shown on
the case page at each step.

Needs Debian's `chromium`; Playwright never downloads a browser here. Without Chromium the
test is skipped, unless BULWARK_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import browser_sign_in
from bulwark.constituency.models import User
from bulwark.incidents import services
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_journey import ITEMS, People

pytestmark = pytest.mark.browser


PASSWORD = "p" * 14  # as People sets it
SCREENSHOT = "/tmp/bulwark-incident.png"
FINAL_REPORT = [f"id_final_report-{item}" for item in ITEMS]


@pytest.fixture
def people(live_server: Any) -> People:
    return People()


def local_input(moment: datetime) -> str:
    """A datetime-local value in the server's zone, as a person there would type it."""
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).strftime("%Y-%m-%dT%H:%M")


def sign_in(page: Any, base: str, username: str, device: TOTPDevice | None = None) -> Any:
    browser_sign_in(page, base, username, PASSWORD, device)
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load"
    return page


def submit(page: Any, button: str, case_url: str) -> None:
    """Press a button of a case-page form; the action redirects back to the case page."""
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()
    if page.url != case_url:
        errors = page.locator("main .errorlist").all_inner_texts()
        raise AssertionError(f"{button!r} was refused ({page.url}): {errors}")
    refusals = page.locator("ul.messages li.error").all_inner_texts()
    assert not refusals, f"{button!r} was refused: {refusals}"


def status(page: Any) -> str:
    return str(page.locator("#incident-status").get_attribute("data-status")).strip()


def clock(page: Any, key: str) -> Any:
    row = page.locator(f'#clocks tr[data-clock="{key}"]')
    assert row.count() == 1, f"no {key} clock on the case page"
    return row


def clock_state(page: Any, key: str) -> str | None:
    return clock(page, key).get_attribute("data-state")


def fill_final_report(page: Any, variant: str = "") -> None:
    for field_id, text in zip(FINAL_REPORT, ITEMS.values(), strict=True):
        page.fill(f"#{field_id}", text + variant)


def test_report_review_respond_and_close(
    new_page: Callable[[], Any], live_server: Any, people: People
) -> None:
    base = live_server.url
    duty_device = TOTPDevice.objects.create(
        user=User.objects.get(username="duty"), name="phone", confirmed=True
    )

    # 1. The agency reports; the level is proposed over HTMX while the answers change.
    reporter = sign_in(new_page(), base, "reporter")
    reporter.goto(f"{base}/incidents/new/")
    reporter.select_option("#id_organisation", str(people.agency.pk))
    reporter.fill("#id_title", "Web defacement")
    reporter.fill("#id_description", "Home page replaced by a political message.")
    reporter.select_option("#id_rsit_class", "intrusions")
    reporter.select_option("#id_rsit_type", "application-compromise")
    aware_at = local_input(timezone.now() - timedelta(minutes=20))
    reporter.fill("#id_aware_at", aware_at)
    with reporter.expect_response(re.compile(r"/incidents/propose-level/$")) as proposed:
        reporter.select_option("#id_integrity", "serious")
    assert proposed.value.status == 200
    assert proposed.value.request.headers.get("hx-request") == "true"  # sent by HTMX
    with reporter.expect_response(re.compile(r"/incidents/propose-level/$")):
        reporter.check("#id_core_system")
    reporter.locator("#level-proposal", has_text="Proposed level: L3").wait_for()
    assert reporter.locator("#level-proposal").count() == 1  # swapped, not nested
    with reporter.expect_navigation():
        reporter.get_by_role("button", name="Report", exact=True).click()
    reporter.wait_for_url(re.compile(r"/incidents/\d+/$"))
    incident = Incident.objects.get()
    case_url = f"{base}/incidents/{incident.pk}/"
    assert reporter.url == case_url
    assert incident.level == 3
    assert f"Incident {incident.reference} reported." in reporter.inner_text("ul.messages")
    assert status(reporter) == "reported"
    assert clock_state(reporter, "notification") == "met"
    assert clock_state(reporter, "review") == "running"
    assert clock(reporter, "review").locator("td").last.inner_text().endswith("left")
    # Times are local: what the reporter typed comes back unchanged, the due time of the
    # review clock is the engine's due time in the server's zone, and the zone is named.
    assert f"Aware at {aware_at.replace('T', ' ')}" in reporter.inner_text("main .card")
    review = next(c for c in services.clock_states(incident) if c.key == "review")
    assert review.due_at is not None
    due_cell = clock(reporter, "review").locator("td").nth(3).inner_text()
    assert due_cell == local_input(review.due_at).replace("T", " ") + " UTC+08:00"
    zone_note = reporter.locator("main p.zone-note").inner_text()
    assert f"Times are shown and read in {settings.TIME_ZONE}, UTC+08:00" in zone_note

    # 2. The supervising authority confirms level 3: forwarded to the CERT at once.
    reviewer = sign_in(new_page(), base, "reviewer")
    reviewer.goto(case_url)
    assert reviewer.get_by_role("button", name="Confirm level").is_visible()
    reviewer.select_option("#id_review-level", "3")
    reviewer.fill("#id_review-comment", "Confirmed: core system altered.")
    submit(reviewer, "Confirm level", case_url)
    assert status(reviewer) == "reviewed"
    assert clock_state(reviewer, "review") == "met"
    assert clock_state(reviewer, "forwarding") == "met"
    assert reviewer.get_by_role("button", name="Confirm level").count() == 0

    # 3. The CERT (second factor) takes the response and gives guidance.
    duty = sign_in(new_page(), base, "duty", duty_device)
    duty.goto(case_url)
    submit(duty, "Start the CERT response", case_url)
    assert status(duty) == "responding"
    duty.select_option("#id_note-kind", "guidance")
    duty.fill("#id_note-text", "Preserve the web server logs before reimaging.")
    submit(duty, "Add to timeline", case_url)
    entry = duty.locator("#timeline tr", has_text="Preserve the web server logs")
    assert entry.count() == 1
    assert "CERT guidance" in entry.inner_text()
    assert "duty" in entry.inner_text()

    # 4. The agency reports recovery, then files the final report.
    reporter.goto(case_url)
    assert "Preserve the web server logs" in reporter.inner_text("#timeline")
    reporter.fill("#id_recover-completed_at", local_input(timezone.now()))
    reporter.fill("#id_recover-summary", "Server reimaged and restored from backup.")
    submit(reporter, "Report recovery", case_url)
    assert status(reporter) == "recovered"
    assert clock_state(reporter, "recovery") == "met"
    assert clock_state(reporter, "final_report") == "running"
    assert clock(reporter, "final_report").locator("td").last.inner_text().endswith("left")
    # Under the Taiwanese profile a level 3-4 final report needs the CISO meeting's record:
    # refused without it (told as a message on the case page), accepted with it.
    fill_final_report(reporter)
    with reporter.expect_navigation():
        reporter.get_by_role("button", name="Submit final report").click()
    assert reporter.url == case_url
    assert "CISO's meeting" in reporter.inner_text("ul.messages li.error")
    assert status(reporter) == "recovered"
    reporter.select_option("#id_note-kind", "ciso_meeting")
    reporter.fill("#id_note-text", "CISO meeting 1: causes and measures agreed.")
    submit(reporter, "Add to timeline", case_url)
    assert "CISO meeting record" in reporter.inner_text("#timeline")
    fill_final_report(reporter)
    submit(reporter, "Submit final report", case_url)
    assert status(reporter) == "final_report"
    assert clock_state(reporter, "final_report") == "met"

    # 5. The CERT asks for a revision; the agency resubmits; the CERT approves and closes.
    duty.goto(case_url)
    duty.select_option("#id_decide-approve", "0")
    duty.fill("#id_decide-comment", "Add the attacker's entry point to the root cause.")
    submit(duty, "Record decision", case_url)
    assert status(duty) == "revision_required"
    assert "Revision required: Add the attacker" in duty.inner_text("#timeline")

    reporter.goto(case_url)
    assert "Add the attacker's entry point" in reporter.inner_text("main")  # CERT's comment
    fill_final_report(reporter, " (revised)")
    submit(reporter, "Submit final report", case_url)
    assert status(reporter) == "final_report"

    duty.goto(case_url)
    duty.select_option("#id_decide-approve", "1")
    submit(duty, "Record decision", case_url)
    assert status(duty) == "closed"
    assert "case closed" in duty.inner_text("#timeline")
    assert duty.get_by_role("button", name="Add to timeline").count() == 0
    assert duty.get_by_role("button", name="Record decision").count() == 0
    assert all(
        state in ("met", "not_applicable")
        for state in duty.locator("#clocks tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.state)"
        )
    )
    incident.refresh_from_db()
    assert incident.status == "closed" and incident.closed_at is not None
    duty.screenshot(path=SCREENSHOT, full_page=True)
