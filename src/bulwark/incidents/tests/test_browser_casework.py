"""The case-work defects of issue 18, each walked in a real Chromium: a report that showed
one error per submit, offered every RSIT type for any class and lost its proposed level; a
browser in another time zone that recorded a notification hours late; a case closed over
open tasks without a word, overdue tasks not standing out, evidence missing from the
timeline; and queue filters that worked only when typed into the URL."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.constituency.models import User
from bulwark.incidents import services
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_browser_journey import sign_in
from bulwark.incidents.tests.test_casework import at_final_report, reported
from bulwark.incidents.tests.test_journey import People

pytestmark = pytest.mark.browser


@pytest.fixture
def people(live_server: Any, settings: Any, tmp_path: Any) -> People:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.BULWARK_MEDIA_DIR = str(tmp_path)
    return People()


def sign_in_cert(page: Any, base: str) -> Any:
    """CERT staff give a second factor."""
    device = TOTPDevice.objects.get_or_create(
        user=User.objects.get(username="duty"), name="phone", defaults={"confirmed": True}
    )[0]
    return sign_in(page, base, "duty", device)


def fill_report(page: Any, aware: str) -> None:
    page.select_option("#id_organisation", label="Bureau")
    page.fill("#id_title", "Phishing wave")
    page.fill("#id_description", "Staff received credential-phishing mail.")
    page.fill("#id_aware_at", aware)


def test_report_form_shows_every_problem_at_once_and_types_follow_the_class(
    new_page: Callable[..., Any], live_server: Any, people: People
) -> None:
    page = sign_in(new_page(), live_server.url, "reporter")
    page.goto(f"{live_server.url}/incidents/new/")
    # The proposal follows the answers even before the required fields are filled.
    with page.expect_response(re.compile(r"/incidents/propose-level/$")):
        page.select_option("#id_secret", "national")
    with page.expect_response(re.compile(r"/incidents/propose-level/$")):
        page.select_option("#id_secret", "none")
    # Only the chosen class's types are offered.
    page.select_option("#id_rsit_class", "fraud")
    offered = page.eval_on_selector_all(
        "#id_rsit_type optgroup:not([disabled]) option", "els => els.map(e => e.value)"
    )
    assert offered == ["unauthorised-use-of-resources", "copyright", "masquerade", "phishing"]
    assert page.locator("#id_rsit_type").input_value() == "unauthorised-use-of-resources"
    page.select_option("#id_rsit_type", "phishing")
    # Answers that propose L3; the proposal box shows it over HTMX.
    with page.expect_response(re.compile(r"/incidents/propose-level/$")):
        page.select_option("#id_integrity", "serious")
    with page.expect_response(re.compile(r"/incidents/propose-level/$")):
        page.check("#id_core_system")
    page.locator("#level-proposal", has_text="Proposed level: L3").wait_for()
    # Three problems in one submit: no title, another level without a reason, a back-filled
    # time without a reason (the browser's own check would have shown one at a time).
    aware = timezone.localtime(timezone.now() - timedelta(minutes=20))
    fill_report(page, aware.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_title", "")
    page.select_option("#id_level", "1")
    page.fill("#id_reported_at", aware.strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        page.get_by_role("button", name="Report", exact=True).click()
    problems = page.inner_text("#form-problems")
    assert "3 problems" in problems, problems
    for field in ("Title", "Why another level?", "How and why it was reported another way"):
        assert field in problems, (field, problems)
    # Everything typed is still there, and so is the proposal.
    assert page.locator("#id_description").input_value().startswith("Staff received")
    assert page.locator("#id_rsit_type").input_value() == "phishing"
    assert page.locator("#id_level").input_value() == "1"
    assert "Proposed level: L3" in page.inner_text("#level-proposal")
    # One more submit with everything corrected files the report.
    page.fill("#id_title", "Phishing wave")
    page.fill("#id_level_reason", "Only test accounts were phished.")
    page.fill("#id_backfill_reason", "Phoned in while the platform was down.")
    with page.expect_navigation():
        page.get_by_role("button", name="Report", exact=True).click()
    incident = Incident.objects.get()
    assert (incident.rsit_class, incident.rsit_type, incident.level) == ("fraud", "phishing", 1)


def test_a_browser_in_another_zone_records_the_right_instant(
    new_page: Callable[..., Any], live_server: Any, people: People
) -> None:
    """The computer runs in New York (12-13 h behind Taipei); the person types the time
    in the zone the label names, and the instant stored is that one."""
    page = sign_in(new_page(timezone_id="America/New_York"), live_server.url, "reporter")
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/New_York"
    page.goto(f"{live_server.url}/incidents/new/")
    label = page.inner_text("label[for=id_aware_at]")
    assert "Asia/Taipei, UTC+08:00" in label
    warning = page.locator(".zone-mismatch")
    assert warning.is_visible()
    assert "America/New_York" in warning.inner_text() and "Asia/Taipei" in warning.inner_text()
    aware = timezone.now().astimezone(ZoneInfo("Asia/Taipei")) - timedelta(minutes=30)
    fill_report(page, aware.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_rsit_class", "fraud")
    page.select_option("#id_rsit_type", "phishing")
    with page.expect_navigation():
        page.get_by_role("button", name="Report", exact=True).click()
    incident = Incident.objects.get()
    assert incident.aware_at == aware.replace(second=0, microsecond=0)
    # The notification clock is met (reported half an hour after awareness), not late.
    assert (
        page.locator('#clocks tr[data-clock="notification"]').get_attribute("data-state") == "met"
    )

    # A person who sets their zone to New York types New York times.
    page.goto(f"{live_server.url}/accounts/time-zone/")
    page.select_option("#id_time_zone", "America/New_York")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert not page.locator(".zone-mismatch").is_visible()
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    local = incident.aware_at.astimezone(ZoneInfo("America/New_York"))
    assert f"{local:%Y-%m-%d %H:%M}" in page.inner_text("main .card")
    due = timezone.now().astimezone(ZoneInfo("America/New_York")) + timedelta(days=1)
    page.fill("#id_task-title", "Reset the phished accounts")
    page.fill("#id_task-owner", "reporter")
    page.fill("#id_task-due_at", due.strftime("%Y-%m-%dT%H:%M"))
    assert "America/New_York" in page.inner_text("label[for=id_task-due_at]")
    with page.expect_navigation():
        page.get_by_role("button", name="Add task", exact=True).click()
    assert incident.tasks.get().due_at == due.replace(second=0, microsecond=0)


def test_closing_over_open_tasks_overdue_tasks_and_evidence_on_the_timeline(
    new_page: Callable[..., Any], live_server: Any, people: People, tmp_path: Any
) -> None:
    incident = at_final_report(people)
    services.add_task(
        User.objects.get(username="duty"), incident, title="Collect firewall logs",
        owner=User.objects.get(username="reporter"), due_at=timezone.now() - timedelta(hours=3),
    )  # fmt: skip
    case_url = f"{live_server.url}/incidents/{incident.pk}/"

    # The agency uploads evidence; it appears on the timeline.
    agency = sign_in(new_page(), live_server.url, "reporter")
    agency.goto(case_url)
    overdue = agency.locator("#tasks tr[data-overdue='1']")
    assert overdue.count() == 1 and "overdue" in overdue.inner_text()
    background = overdue.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background != "rgba(0, 0, 0, 0)"  # highlighted, not only marked up
    sample = tmp_path / "phish.eml"
    sample.write_bytes(b"From: attacker@example.net\n\nClick here")
    agency.set_input_files("#id_evidence-file", str(sample))
    with agency.expect_navigation():
        agency.get_by_role("button", name="Upload evidence", exact=True).click()
    assert "Evidence uploaded: phish.eml" in agency.inner_text("#timeline")
    agency.click("#timeline-kinds a[data-kind=evidence]")
    agency.wait_for_url("**?kind=evidence*")
    kinds = agency.eval_on_selector_all("#timeline tr", "rows => rows.map(r => r.dataset.kind)")
    assert kinds == ["evidence"]

    # The CERT is warned, and approving without confirming keeps the case open.
    cert = sign_in_cert(new_page(), live_server.url)
    cert.goto(case_url)
    assert "1 task is still open" in cert.inner_text("#open-tasks-warning")
    cert.select_option("#id_decide-approve", "1")
    with cert.expect_navigation():
        cert.get_by_role("button", name="Record decision", exact=True).click()
    assert "Collect firewall logs" in cert.inner_text("main .errorlist")
    assert Incident.objects.get(pk=incident.pk).status == "final_report"
    cert.select_option("#id_decide-approve", "1")
    cert.check("#id_decide-close_with_open_tasks")
    with cert.expect_navigation():
        cert.get_by_role("button", name="Record decision", exact=True).click()
    assert Incident.objects.get(pk=incident.pk).status == "closed"


def test_queue_filters_sorting_and_bulk_assign_from_the_form(
    new_page: Callable[..., Any], live_server: Any, people: People
) -> None:
    fraud = reported(people, title="Invoice fraud", rsit_class="fraud", rsit_type="phishing")
    reported(people, title="Defaced site")
    reported(
        people, who="outsider", title="Foreign fraud", rsit_class="fraud", rsit_type="phishing"
    )
    cert = sign_in_cert(new_page(), live_server.url)
    cert.goto(f"{live_server.url}/incidents/")
    cert.select_option("#f-class", "fraud")
    cert.select_option("#f-organisation", label="Bureau")
    cert.select_option("#f-tlp", "amber")
    cert.select_option("#f-drill", "0")
    with cert.expect_navigation():
        cert.click("#queue-filters button[type=submit]")
    assert "rsit_class=fraud" in cert.url and "drill=0" in cert.url
    titles = cert.eval_on_selector_all(
        "#incidents tbody tr td:nth-child(3)", "t => t.map(e => e.innerText)"
    )
    assert titles == ["Invoice fraud"]
    # Sorting keeps the filter.
    cert.click("#incidents th a[data-sort=level]")
    cert.wait_for_url("**sort=level*")
    assert "rsit_class=fraud" in cert.url
    # Tick the case, assign it to oneself, then find it under "My cases".
    cert.check(f"#incidents input[name=ids][value='{fraud.pk}']")
    cert.select_option("#bulk-action", "assign")
    cert.select_option("#bulk-assignee", label="duty")
    with cert.expect_navigation():
        cert.click("#bulk button[type=submit]")
    assert "Done for 1 case(s)" in cert.inner_text("ul.messages")
    cert.click("#my-cases")
    cert.wait_for_url("**assignee=me*")
    titles = cert.eval_on_selector_all(
        "#incidents tbody tr td:nth-child(3)", "t => t.map(e => e.innerText)"
    )
    assert titles == ["Invoice fraud"]

    # An agency's queue offers no assigning, and its filter lists only its own organisation.
    agency = sign_in(new_page(), live_server.url, "reporter")
    agency.goto(f"{live_server.url}/incidents/")
    assert agency.locator("#bulk-action option[value=assign]").count() == 0
    organisations = agency.eval_on_selector_all(
        "#f-organisation option", "o => o.map(e => e.innerText)"
    )
    assert "Other bureau" not in organisations
