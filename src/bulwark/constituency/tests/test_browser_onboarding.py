"""The onboarding journey in a real Chromium (issue 18): an organisation admin invites a
colleague by e-mail; the colleague opens the link, chooses a password, sets up the
authenticator app, is shown recovery codes, signs out, and signs in again with a
recovery code instead of the app."""

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import run_queued_tasks, totp_code
from bulwark.constituency import services
from bulwark.constituency.models import Membership, Organisation, User
from bulwark.core.models import AuditEntry

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple 42"
NEW_PASSWORD = "the colleague's own passphrase 9"


@pytest.fixture
def agency(live_server: Any) -> Organisation:
    return services.create_organisation(
        None, name="Water Agency", short_name="WA", kind="government_agency", country="TW"
    )


@pytest.fixture
def boss(agency: Organisation) -> tuple[User, TOTPDevice]:
    user = services.create_user(
        None, username="boss", email="boss@water.example", password=PASSWORD
    )
    services.add_membership(None, user, agency, "org_admin")
    return user, TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def submit(page: Any, selector: str = "main button[type=submit]") -> None:
    with page.expect_navigation():
        page.click(selector)


def test_invitation_password_authenticator_recovery_code_journey(
    new_page: Any, live_server: Any, agency: Organisation, boss: tuple[User, TOTPDevice]
) -> None:
    base = live_server.url
    _user, device = boss

    # The organisation admin signs in (password and code) and invites a colleague.
    admin = new_page()
    admin.goto(f"{base}/accounts/login/")
    admin.fill("#id_username", "boss")
    admin.fill("#id_password", PASSWORD)
    submit(admin)
    admin.fill("#id_token", totp_code(device))
    submit(admin)
    admin.goto(f"{base}/organisations/{agency.pk}/")
    role_options = admin.locator("#id_invite-role option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert "reporter" in role_options and "platform_admin" not in role_options
    admin.click("#invite summary")
    admin.fill("#id_invite-email", "nina@water.example")
    admin.fill("#id_invite-first_name", "Nina")
    admin.select_option("#id_invite-role", "reporter")
    submit(admin, "#invite button[type=submit]")
    assert "Invitation sent to nina@water.example." in admin.inner_text("ul.messages")
    assert "nina@water.example" in admin.inner_text("section#invitations table")

    assert run_queued_tasks() == 1
    assert [m.to for m in mail.outbox] == [["nina@water.example"]]
    link = re.search(r"https?://\S+/accounts/invitation/\S+/", mail.outbox[0].body)
    assert link is not None
    path = urlsplit(link.group(0)).path

    # The colleague opens the link and chooses a username and password.
    nina = new_page()
    nina.goto(f"{base}{path}")
    assert "Water Agency" in nina.inner_text("main")
    nina.fill("#id_username", "nina")
    nina.fill("#id_new_password1", NEW_PASSWORD)
    nina.fill("#id_new_password2", NEW_PASSWORD)
    submit(nina)
    assert nina.url == f"{base}/accounts/otp/setup/"

    # ... scans the code into an authenticator app and confirms it ...
    assert nina.locator("main svg").count() == 1
    secret = nina.inner_text("#totp-secret")
    device_new = TOTPDevice.objects.get(user__username="nina", confirmed=False)
    import base64

    assert base64.b32decode(secret) == device_new.bin_key
    nina.fill("#id_token", totp_code(device_new))
    submit(nina)

    # ... and is shown the recovery codes straight away.
    assert "/accounts/security/recovery-codes/" in nina.url
    codes = nina.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    assert codes == services.recovery_codes(User.objects.get(username="nina"))
    submit(nina, "#continue")
    assert nina.url == f"{base}/accounts/security/"

    # Signing out, then in again with a recovery code in place of the app.
    submit(nina, "header form[action='/accounts/logout/'] button")
    nina.goto(f"{base}/accounts/login/")
    nina.fill("#id_username", "nina")
    nina.fill("#id_password", NEW_PASSWORD)
    submit(nina)
    assert "/accounts/otp/" in nina.url
    nina.fill("#id_token", codes[3])
    submit(nina)
    assert nina.url == f"{base}/"
    assert nina.locator("h1").inner_text() == "Dashboard"
    assert "recovery code" in nina.inner_text("ul.messages")

    user = User.objects.get(username="nina")
    assert Membership.objects.filter(user=user, organisation=agency, role="reporter").exists()
    assert codes[3] not in services.recovery_codes(user)
    actions = set(AuditEntry.objects.filter(actor_id=user.pk).values_list("action", flat=True))
    assert {"invitation.accepted", "user.second_factor_enrolled", "user.recovery_code_used"} <= (
        actions
    )

    # The same link again: refused, with the reason.
    again = new_page()
    again.goto(f"{base}{path}")
    assert "has been used already" in again.inner_text("#invitation-refused")
