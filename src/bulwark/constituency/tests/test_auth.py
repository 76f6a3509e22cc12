import os
import re
import socket
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.db import connection
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import run_queued_tasks, sign_in, totp_code
from bulwark.constituency import services
from bulwark.constituency.models import Organisation, User
from bulwark.core.models import AuditEntry

PASSWORD = "correct horse battery 9"


def code_for(device: TOTPDevice, drift: int = 0) -> str:
    return totp_code(device, drift)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def reporter(db: None) -> User:
    agency = Organisation.objects.create(name="Agency", kind="government_agency", country="TW")
    user = services.create_user(
        None, username="rita", email="rita@agency.example", password=PASSWORD
    )
    services.add_membership(None, user, agency, "reporter")
    return user


def login(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def test_passwords_are_hashed_with_argon2(reporter: User, settings: Any) -> None:
    from bulwark import settings as production

    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    reporter.set_password("another long password 1")
    reporter.save()
    assert reporter.password.startswith("argon2$")
    assert login(Client(), "rita", "another long password 1").status_code == 302


def test_reporter_signs_in_without_second_factor(reporter: User) -> None:
    client = Client()
    response = login(client, "rita")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert AuditEntry.objects.filter(action="user.login", actor_id=reporter.pk).exists()


def test_cert_staff_must_enrol_then_verify_totp(platform_admin: User) -> None:
    client = Client()
    login(client, platform_admin.username)
    # Without a device: every page leads to enrolment, the API does not accept the session.
    # The page asked for is kept across enrolment (a link in an e-mail).
    assert client.get("/organisations/")["Location"] == "/accounts/otp/?next=%2Forganisations%2F"
    assert client.get("/accounts/otp/")["Location"] == "/accounts/otp/setup/"
    assert (
        client.get("/accounts/otp/?next=/organisations/")["Location"]
        == "/accounts/otp/setup/?next=%2Forganisations%2F"
    )
    assert client.get("/api/v1/organisations/").status_code in (401, 403)
    page = client.get("/accounts/otp/setup/")
    assert "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=platform_admin, confirmed=False)
    # Showing the page again keeps the same secret; starting the enrolment is audited once.
    client.get("/accounts/otp/setup/")
    assert TOTPDevice.objects.filter(user=platform_admin).count() == 1
    started = AuditEntry.objects.filter(
        action="user.second_factor_enrolment_started", actor_id=platform_admin.pk
    )
    assert started.count() == 1
    bad = client.post(
        "/accounts/otp/setup/", {"token": "000000" if code_for(device) != "000000" else "111111"}
    )
    assert "not valid" in bad.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # the device makes you wait after a wrong code
    assert client.post("/accounts/otp/setup/", {"token": code_for(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/organisations/").status_code == 200
    assert client.get("/api/v1/organisations/").status_code == 200
    # Next sign-in asks for the code.
    client.post("/accounts/logout/")
    fresh = Client()
    login(fresh, platform_admin.username)
    assert fresh.get("/")["Location"] == "/accounts/otp/"
    assert fresh.post("/accounts/otp/", {"token": "12ab56"}).status_code == 200
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.save()
    # The code just used cannot be replayed; the next time step's code is accepted.
    fresh.post("/accounts/otp/", {"token": code_for(device)})
    assert fresh.get("/").status_code == 302
    device.refresh_from_db()
    device.throttle_reset()
    fresh.post("/accounts/otp/", {"token": code_for(device, drift=1)})
    assert fresh.get("/").status_code == 200


def test_login_is_throttled_per_username(reporter: User, settings: Any) -> None:
    settings.LOGIN_FAILURE_LIMIT = 3
    for i in range(3):
        response = login(Client(), "rita", "wrong", REMOTE_ADDR=f"192.0.2.{i}")
        assert "correct username and password" in response.content.decode()
    blocked = login(Client(), "rita", PASSWORD, REMOTE_ADDR="192.0.2.99")
    assert blocked.status_code == 200
    assert "Too many failed sign-in attempts" in blocked.content.decode()
    assert AuditEntry.objects.filter(action="user.login_failed").count() == 3


def test_login_is_throttled_per_address(reporter: User, settings: Any) -> None:
    settings.LOGIN_FAILURE_LIMIT = 2
    for i in range(8):
        login(Client(), f"guess{i}", "wrong", REMOTE_ADDR="198.51.100.7")
    assert "Too many" in login(Client(), "rita", REMOTE_ADDR="198.51.100.7").content.decode()
    assert login(Client(), "rita", REMOTE_ADDR="198.51.100.8").status_code == 302


def test_password_reset_mail_is_sent_by_the_worker(
    reporter: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password-reset/", {"email": "rita@agency.example"})
    assert response.status_code == 302
    assert mail.outbox == []  # queued, not sent inside the request
    assert run_queued_tasks() == 1
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/accounts/reset/\S+/", mail.outbox[0].body)
    assert link is not None
    path = urlsplit(link.group(0)).path
    form = client.get(path, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )
    assert done.status_code == 302
    assert login(Client(), "rita", "a brand new passphrase").status_code == 302


def test_unknown_address_gets_the_same_answer_and_no_mail(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/accounts/password-reset/", {"email": "nobody@nowhere.example"})
    assert response.status_code == 302
    assert run_queued_tasks() == 0
    assert mail.outbox == []


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.mark.django_db(transaction=True)
def test_worker_process_sends_mail_over_a_real_smtp_conversation(
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The whole path: the request queues the mail, a separate `bulwark worker` process
    picks it up from the database and speaks SMTP to a real server."""
    agency = Organisation.objects.create(name="Agency", kind="government_agency", country="TW")
    user = services.create_user(
        None, username="rita", email="rita@agency.example", password=PASSWORD
    )
    services.add_membership(None, user, agency, "reporter")
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            Client().post("/accounts/password-reset/", {"email": "rita@agency.example"})
        db = connection.settings_dict
        if connection.vendor == "sqlite":
            url = f"sqlite:///{db['NAME']}"
        else:
            host, port_ = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
            url = f"postgres://{db['USER']}@{host}:{port_}/{db['NAME']}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "BULWARK_EMAIL_HOST": "127.0.0.1",
            "BULWARK_EMAIL_PORT": str(port),
        }
        command = ["worker", "--batch", "--no-startup-delay", "--no-reload"]
        worker = subprocess.run(
            [sys.executable, "-m", "bulwark.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        controller.stop()
    assert worker.returncode == 0, worker.stderr
    assert len(inbox.messages) == 1, worker.stderr
    envelope = inbox.messages[0]
    assert envelope.rcpt_tos == ["rita@agency.example"]
    assert b"/accounts/reset/" in envelope.content


def test_language_switch_serves_traditional_chinese(reporter: User) -> None:
    client = Client()
    login(client, "rita")
    client.post("/i18n/setlang/", {"language": "zh-hant", "next": "/"})
    page = client.get("/organisations/").content.decode()
    assert 'lang="zh-hant"' in page
    assert "組織" in page


def test_org_admin_manages_own_organisation_only(db: None) -> None:
    mine = Organisation.objects.create(name="Mine", kind="government_agency", country="TW")
    other = Organisation.objects.create(name="Other", kind="government_agency", country="TW")
    boss = services.create_user(None, username="boss", email="boss@mine.example", password=PASSWORD)
    services.add_membership(None, boss, mine, "org_admin")
    client = sign_in(Client(), boss)
    ok = client.post(
        f"/organisations/{mine.pk}/contacts/", {"purpose": "abuse", "email": "abuse@mine.example"}
    )
    assert ok.status_code == 302 and mine.contacts.count() == 1
    assert (
        client.post(
            f"/organisations/{other.pk}/contacts/", {"purpose": "abuse", "email": "a@b.example"}
        ).status_code
        == 404
    )
    # Network claims decide routing: only the CERT's platform admins change them.
    assert (
        client.post(
            f"/organisations/{mine.pk}/networks/", {"kind": "cidr", "value": "192.0.2.0/24"}
        ).status_code
        == 403
    )
    assert mine.networks.count() == 0
    # Organisation admins may not hand out CERT roles (the form does not offer them).
    newbie = services.create_user(None, username="newbie", email="n@mine.example")
    services.add_membership(None, newbie, mine, "reporter")
    refused = client.post(
        f"/organisations/{mine.pk}/members/", {"username": "newbie", "role": "platform_admin"}
    )
    assert refused.status_code == 400 and not newbie.memberships.filter(role="platform_admin")
    assert (
        client.post(
            f"/organisations/{mine.pk}/members/", {"username": "newbie", "role": "org_admin"}
        ).status_code
        == 302
    )


def test_platform_admin_deactivates_and_reactivates_a_user(
    admin_client: Client, reporter: User
) -> None:
    admin_client.post(f"/users/{reporter.pk}/active/", {"active": "0"})
    reporter.refresh_from_db()
    assert not reporter.is_active
    assert login(Client(), "rita").status_code == 200  # refused: the form is shown again
    admin_client.post(f"/users/{reporter.pk}/active/", {"active": "1"})
    assert login(Client(), "rita").status_code == 302
    actions = list(
        AuditEntry.objects.filter(object_id=str(reporter.pk)).values_list("action", flat=True)
    )
    assert "user.deactivated" in actions and "user.activated" in actions


def test_a_refused_sign_in_is_announced_to_screen_readers(reporter: User) -> None:
    """The form-wide error is a live region: a screen reader reads it out as the page
    loads, where a plain list would leave a blind user waiting on an unchanged form."""
    html = login(Client(), "rita", "wrong").content.decode()
    announced = re.search(r'<ul class="errorlist nonfield" role="alert">(.*?)</ul>', html)
    assert announced, html
    assert "correct username and password" in announced.group(1)
    # A field's own error stays tied to its field, not shouted as a page-wide alert.
    page = Client().post("/accounts/login/", {"username": "rita"}).content.decode()
    assert re.search(r'<ul class="errorlist" id="id_password_error"><li>', page), page
