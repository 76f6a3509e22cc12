"""Defects users met at the seams of the incident pages, each walked in a real Chromium
(issue 18): a review that silently downgraded a case, a final report shown as one item of
seven and a revision form that came back empty, a deep link lost at the second factor, and
a year typed as 0001 that gave a server error."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import totp_code
from bulwark.constituency.models import User
from bulwark.incidents import services
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_browser_journey import (
    PASSWORD,
    fill_final_report,
    local_input,
    sign_in,
    status,
    submit,
)
from bulwark.incidents.tests.test_journey import ITEMS, People

pytestmark = pytest.mark.browser


@pytest.fixture
def people(live_server: Any) -> People:
    return People()


def reported_l3(people: People) -> Incident:
    return services.report_incident(
        User.objects.get(username="reporter"),
        organisation=people.agency,
        title="Web defacement",
        description="Home page replaced.",
        rsit_class="intrusions",
        rsit_type="application-compromise",
        aware_at=timezone.now() - timedelta(minutes=30),
        answers=Answers(integrity="serious", core_system=True),
    )


def test_review_preselects_no_level_and_a_changed_level_needs_a_reason(
    new_page: Callable[[], Any], live_server: Any, people: People
) -> None:
    incident = reported_l3(people)
    assert incident.level == 3
    case_url = f"{live_server.url}/incidents/{incident.pk}/"
    reviewer = sign_in(new_page(), live_server.url, "reviewer")
    reviewer.goto(case_url)
    # Nothing is chosen for the reviewer, and both levels are in view.
    assert reviewer.locator("#id_review-level").input_value() == ""
    assert "Current level: L3" in reviewer.inner_text("#level-summary")
    assert "propose: L3" in reviewer.inner_text("#level-summary")

    # One click on "Confirm level" with nothing chosen sends nothing: the browser asks for
    # a level (and the server would refuse the empty choice too: test_pages).
    reviewer.get_by_role("button", name="Confirm level", exact=True).click()
    assert reviewer.locator("#id_review-level").evaluate("e => e.validity.valueMissing")
    assert reviewer.url == case_url
    incident.refresh_from_db()
    assert (incident.level, incident.status) == (3, "reported")

    # A downgrade without a reason is refused on the field; the choice is kept.
    reviewer.select_option("#id_review-level", "1")
    with reviewer.expect_navigation():
        reviewer.get_by_role("button", name="Confirm level", exact=True).click()
    assert "Say why the level changes from L3 to L1" in reviewer.inner_text("main .errorlist")
    assert reviewer.locator("#id_review-level").input_value() == "1"
    incident.refresh_from_db()
    assert incident.level == 3

    reviewer.fill("#id_review-comment", "Only a test page was altered.")
    submit(reviewer, "Confirm level", case_url)
    incident.refresh_from_db()
    assert (incident.level, incident.status) == (1, "reviewed")
    assert "Only a test page was altered." in reviewer.inner_text("#timeline")


def test_final_report_shows_seven_items_and_a_revision_starts_from_the_last_text(
    new_page: Callable[[], Any], live_server: Any, people: People
) -> None:
    incident = reported_l3(people)
    duty_user = User.objects.get(username="duty")
    reporter_user = User.objects.get(username="reporter")
    services.review_incident(
        User.objects.get(username="reviewer"), incident, level=2, comment="No core data."
    )
    services.start_response(duty_user, incident)
    services.report_recovery(
        reporter_user, incident, completed_at=timezone.now(), summary="Restored from backup."
    )
    case_url = f"{live_server.url}/incidents/{incident.pk}/"
    duty_device = TOTPDevice.objects.create(user=duty_user, name="phone", confirmed=True)

    reporter = sign_in(new_page(), live_server.url, "reporter")
    reporter.goto(case_url)
    fill_final_report(reporter)
    submit(reporter, "Submit final report", case_url)

    duty = sign_in(new_page(), live_server.url, "duty", duty_device)
    duty.goto(case_url)
    items = duty.locator("#final-report dd")
    assert items.count() == 7
    assert items.all_inner_texts() == list(ITEMS.values())
    duty.select_option("#id_decide-approve", "0")
    duty.fill("#id_decide-comment", "Name the plugin in the root cause.")
    submit(duty, "Record decision", case_url)

    # The agency's form comes back with what it submitted, ready to amend.
    reporter.goto(case_url)
    assert status(reporter) == "revision_required"
    for name, text in ITEMS.items():
        assert reporter.locator(f"#id_final_report-{name}").input_value() == text
    reporter.fill("#id_final_report-root_cause", "Unpatched CMS plugin FormBuilder 2.1.")
    submit(reporter, "Submit final report", case_url)

    # The CERT sees what changed between the revisions.
    duty.goto(case_url)
    root_cause = duty.locator('#final-report dd[data-item="5"]')
    assert root_cause.locator("ins").all_inner_texts() == ["plugin FormBuilder 2.1."]
    assert root_cause.locator("del").all_inner_texts() == ["plugin."]
    assert duty.locator('#final-report dd[data-item="1"] ins').count() == 0


def test_a_deep_link_survives_sign_in_and_the_second_factor(
    new_page: Callable[[], Any], live_server: Any, people: People
) -> None:
    incident = reported_l3(people)
    duty_device = TOTPDevice.objects.create(
        user=User.objects.get(username="duty"), name="phone", confirmed=True
    )
    case_url = f"{live_server.url}/incidents/{incident.pk}/?tab=evidence"
    page = new_page()
    page.goto(case_url)  # the link in an e-mail, signed out
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", "duty")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/otp/"))
    page.fill("#id_token", totp_code(duty_device))
    page.click("main button[type=submit]")
    page.wait_for_url(case_url)
    assert incident.reference in page.inner_text("h1")


def test_year_0001_is_a_message_on_the_field_with_the_form_kept(
    new_page: Callable[[], Any], live_server: Any, people: People
) -> None:
    reporter = sign_in(new_page(), live_server.url, "reporter")
    reporter.goto(f"{live_server.url}/incidents/new/")
    reporter.select_option("#id_organisation", str(people.agency.pk))
    reporter.fill("#id_title", "Phishing wave")
    reporter.fill("#id_description", "Staff received credential-phishing mail.")
    reporter.select_option("#id_rsit_class", "fraud")
    reporter.select_option("#id_rsit_type", "phishing")
    reporter.fill("#id_aware_at", "0001-01-01T08:00")
    with reporter.expect_navigation() as nav:
        reporter.get_by_role("button", name="Report", exact=True).click()
    assert nav.value is not None and nav.value.status < 500
    assert "check the year" in reporter.inner_text("main .errorlist")
    assert reporter.locator("#id_title").input_value() == "Phishing wave"
    assert Incident.objects.count() == 0
    # Corrected, it is accepted.
    reporter.fill("#id_aware_at", local_input(timezone.now() - timedelta(hours=1)))
    with reporter.expect_navigation():
        reporter.get_by_role("button", name="Report", exact=True).click()
    reporter.wait_for_url(re.compile(r"/incidents/\d+/$"))
    assert Incident.objects.count() == 1
