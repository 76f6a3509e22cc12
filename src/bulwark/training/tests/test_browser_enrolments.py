"""In a real Chromium: an agency admin enrols one learner by staff number on the course's
enrolments page and withdraws them, and the learner's sign-in page offers the agency's
single sign-on button. With BULWARK_SCREENSHOTS=<folder> the pages are also saved there at
1280 and 390 px, in English and Traditional Chinese."""

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import browser_sign_in
from bulwark.sso import services as sso
from bulwark.training.models import Enrolment
from bulwark.training.tests.conftest import make_world

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery 9"  # as UserFactory sets it


def _shots(page: Any, base: str, path: str, name: str) -> None:
    folder = os.environ.get("BULWARK_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for language in ("en", "zh-hant"):
        page.context.add_cookies([{"name": "django_language", "value": language, "url": base}])
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}{path}")
            page.screenshot(path=f"{folder}/{name}-{language}-{width}.png", full_page=True)
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}{path}")


def test_enrol_one_withdraw_and_the_learners_sso_button(
    transactional_db: Any, live_server: Any, new_page: Callable[..., Any]
) -> None:
    world = make_world()
    base = live_server.url
    device = TOTPDevice.objects.create(user=world.agency_admin, name="phone", confirmed=True)
    sso.create_provider(
        _platform_admin(world),
        organisation=world.agency, slug="agency-a", name="Agency A Entra", protocol="oidc",
        issuer="https://login.agency-a.example", client_id="bulwark",
        client_secret="a-long-client-secret", role_map={"staff": "reporter"},
    )  # fmt: skip

    admin = browser_sign_in(new_page(), base, "agency_admin", PASSWORD, device)
    admin.goto(f"{base}/training/courses/awareness/")
    admin.click("#enrolments-link")
    admin.fill("#enrol-one input[name=learner]", "A-1")
    admin.click("#enrol-one button[type=submit]")
    assert "Lin Mei is enrolled." in admin.locator(".messages").inner_text()
    _shots(admin, base, "/training/courses/awareness/enrolments/", "enrolments")
    admin.click("#enrolments button:has-text('Withdraw')")
    assert "is withdrawn from the course" in admin.locator(".messages").inner_text()
    assert "Withdrawn" in admin.locator("#enrolments").inner_text()
    assert Enrolment.objects.get(learner=world.learner).withdrawn_at is not None
    _shots(admin, base, "/training/courses/awareness/enrolments/", "enrolments-withdrawn")
    admin.click("#enrolments button:has-text('Enrol again')")
    assert "Lin Mei is enrolled." in admin.locator(".messages").inner_text()

    learner = new_page()
    learner.goto(f"{base}/training/learn/sign-in/?sso=agency-a")
    button = learner.locator("#learner-sso-1")
    assert button.inner_text() == "Sign in with Agency A Entra"
    assert button.get_attribute("href") == "/sso/agency-a/learner/"
    _shots(learner, base, "/training/learn/sign-in/?sso=agency-a", "learner-sign-in")
    learner.fill("#learner-sso-choose input[name=slug]", "nobody-here")
    learner.click("#learner-sso-choose button[type=submit]")
    learner.wait_for_url(re.compile(r"/sso/nobody-here/learner/"))
    assert "No single sign-on is configured" in learner.locator("#sso-refusal").inner_text()
    learner.click("#back-to-learner-sign-in")
    learner.wait_for_url(re.compile(r"/training/learn/sign-in/$"))


def _platform_admin(world: Any) -> Any:
    from bulwark.constituency import services as constituency
    from bulwark.constituency.tests.factories import UserFactory

    root = UserFactory(username="root")
    constituency.add_membership(None, root, world.cert, "platform_admin")
    return root
