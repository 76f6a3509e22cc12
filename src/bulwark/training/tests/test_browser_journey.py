"""In a real Chromium: an agency admin enrols the agency's staff in a course, a learner
signs in on the training pages, passes the exam (answers saved by the page's script as
they are given) and downloads the certificate, and the agency sees the learner met this
year's hours. Skipped without Chromium (see src/bulwark/conftest.py)."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import totp_code
from bulwark.training.models import Answer
from bulwark.training.tests.conftest import make_world, right_answers

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery 9"  # as UserFactory sets it


def test_enrol_pass_download_and_see_compliance(
    transactional_db: Any, live_server: Any, new_page: Callable[..., Any]
) -> None:
    world = make_world()
    base = live_server.url
    device = TOTPDevice.objects.create(user=world.agency_admin, name="phone", confirmed=True)

    admin = new_page()
    admin.goto(f"{base}/accounts/login/")
    admin.fill("#id_username", "agency_admin")
    admin.fill("#id_password", PASSWORD)
    admin.click("main button[type=submit]")
    admin.wait_for_url(re.compile(r"/accounts/otp/"))
    admin.fill("#id_token", totp_code(device))
    admin.click("main button[type=submit]")
    admin.wait_for_url(f"{base}/")
    admin.goto(f"{base}/training/courses/awareness/")
    admin.select_option("#enrol-form select[name=target]", "everyone")
    admin.click("#enrol-form button[type=submit]")
    assert "1 learners enrolled." in admin.locator(".messages").inner_text()

    learner = new_page()
    learner.goto(f"{base}/training/learn/sign-in/")
    learner.fill("input[name=email]", "mei@agency-a.gov")
    learner.fill("input[name=password]", "learner-pass-123")
    learner.click("#learner-sign-in button[type=submit]")
    learner.click("#my-courses a")
    learner.click("#start-exam button")
    learner.wait_for_url(re.compile(r"/training/learn/attempts/\d+/$"))
    right = right_answers(world.exam)
    shown = learner.locator("fieldset[data-question]")
    for index in range(shown.count()):
        field = shown.nth(index)
        qid = int(field.get_attribute("data-question"))
        for option in right[qid]:
            field.locator(f"input[value='{option}']").check()
    # The script saved every answer as it was given, before any form was sent.
    learner.wait_for_function(
        "() => Object.keys(JSON.parse(localStorage.getItem("
        "Object.keys(localStorage).find(k => k.startsWith('bulwark-attempt:')) || '') || '{}'))"
        ".length === 0"
    )
    assert Answer.objects.count() == shown.count()
    learner.click("#finish")
    assert "Passed." in learner.locator("#result").inner_text()
    with learner.expect_download() as download:
        learner.click("#certificate-link")
    assert Path(download.value.path()).read_bytes()[:4] == b"%PDF"

    admin.goto(f"{base}/training/compliance/?organisation={world.agency.pk}")
    row = admin.locator("#people tr", has_text="Lin Mei")
    assert row.get_attribute("data-standing") == "met"
