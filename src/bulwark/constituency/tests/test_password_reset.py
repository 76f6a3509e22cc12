"""Password reset (issue 20): the link's host comes from BULWARK_SITE_URL, never from the
request; reset mails are rate-limited per account and per address without changing the
answer; the limit is audited."""

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from bulwark.conftest import run_queued_tasks
from bulwark.constituency import services
from bulwark.constituency.models import Organisation, ResetMail, User
from bulwark.core.models import AuditEntry


@pytest.fixture
def people(db: None) -> list[User]:
    agency = Organisation.objects.create(name="Agency", kind="government_agency", country="TW")
    found = []
    for name in ("rita", "sam", "tom", "uma", "vic", "wes"):
        user = services.create_user(
            None, username=name, email=f"{name}@agency.example", password="correct horse 9"
        )
        services.add_membership(None, user, agency, "reporter")
        found.append(user)
    return found


def ask(email: str, capture: Any, **extra: Any) -> Any:
    with capture(execute=True):
        response = Client().post("/accounts/password-reset/", {"email": email}, **extra)
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
    return response


def test_the_reset_link_ignores_a_forged_host_header(
    people: list[User], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.ALLOWED_HOSTS = ["*"]  # the worst case: any Host header reaches the view
    settings.SITE_URL = "https://bulwark.cert.example"
    ask("rita@agency.example", django_capture_on_commit_callbacks, HTTP_HOST="evil.example")
    assert run_queued_tasks() == 1
    body = mail.outbox[0].body
    assert "evil.example" not in body
    assert "https://bulwark.cert.example/accounts/reset/" in body


def test_reset_mails_are_limited_per_account(
    people: list[User],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.RESET_MAIL_LIMIT = 3
    with caplog.at_level(logging.WARNING, logger="bulwark.constituency.forms"):
        for _i in range(5):  # each answer is the same redirect (checked in ask)
            ask("rita@agency.example", django_capture_on_commit_callbacks)
    assert run_queued_tasks() == 3
    assert [m.to for m in mail.outbox] == [["rita@agency.example"]] * 3
    rita = people[0]
    throttled = AuditEntry.objects.filter(
        action="user.password_reset_throttled", object_id=str(rita.pk)
    )
    assert throttled.count() == 2
    assert "rate limit" in caplog.text
    # An hour later the account may ask again.
    ResetMail.objects.update(at=timezone.now() - timedelta(hours=1, seconds=1))
    ask("rita@agency.example", django_capture_on_commit_callbacks)
    assert run_queued_tasks() == 1


def test_reset_mails_are_limited_per_address(
    people: list[User], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.RESET_MAIL_LIMIT = 1  # so an address may ask for 4 mails an hour
    for user in people[:5]:
        ask(user.email, django_capture_on_commit_callbacks, REMOTE_ADDR="198.51.100.7")
    assert run_queued_tasks() == 4
    ask(people[5].email, django_capture_on_commit_callbacks, REMOTE_ADDR="198.51.100.8")
    assert run_queued_tasks() == 1
    assert len(mail.outbox) == 5


def test_a_forged_forwarded_address_does_not_break_the_reset(
    people: list[User], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TRUST_X_FORWARDED_FOR = True
    ask("rita@agency.example", django_capture_on_commit_callbacks, HTTP_X_FORWARDED_FOR="bogus")
    assert run_queued_tasks() == 1  # PostgreSQL refused 'bogus' in the audit entry: a 500
    # and the sign-in form, audited the same way, too
    response = Client().post(
        "/accounts/login/",
        {"username": "rita", "password": "wrong"},
        HTTP_X_FORWARDED_FOR="not-an-address",
    )
    assert response.status_code == 200


def test_a_new_account_without_a_password_gets_its_first_reset_mail(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    """ "User created. They set their password with 'Forgot your password?'": Django's
    reset form skipped accounts without a usable password, so no mail ever came."""
    agency = Organisation.objects.create(name="Agency", kind="government_agency", country="TW")
    newcomer = services.create_user(None, username="newcomer", email="newcomer@agency.example")
    services.add_membership(None, newcomer, agency, "reporter")
    assert not newcomer.has_usable_password()
    ask("newcomer@agency.example", django_capture_on_commit_callbacks)
    assert run_queued_tasks() == 1
    assert mail.outbox[0].to == ["newcomer@agency.example"]


def test_a_locked_account_that_signed_in_before_gets_no_mail(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    user = services.create_user(None, username="locked", email="locked@agency.example")
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    ask("locked@agency.example", django_capture_on_commit_callbacks)
    assert run_queued_tasks() == 0
