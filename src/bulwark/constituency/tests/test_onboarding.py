"""Onboarding (issue 18): invitations by e-mail with a single-use, expiring link that sets
the password and leads to the authenticator app and recovery codes; organisation admins
add people only by invitation, into organisations they administer, with roles they may
grant; recovery codes sign in once each; resetting someone's second factor is audited and
the person is told."""

import re
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import bearer, run_queued_tasks, sign_in, totp_code
from bulwark.constituency import services
from bulwark.constituency.models import Invitation, Membership, Organisation, Role, User
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory
from bulwark.core.models import AuditEntry

PASSWORD = "a long enough passphrase 7"
LINK = re.compile(r"https?://\S+/accounts/invitation/[^/\s]+/")


class World:
    def __init__(self, cert: Organisation) -> None:
        self.cert = cert
        self.authority = OrganisationFactory(name="Authority", kind="authority")
        self.mine = OrganisationFactory(name="Mine", parent=self.authority)
        self.other = OrganisationFactory(name="Other", parent=self.authority)
        self.boss = self.member("boss", self.mine, "org_admin")
        self.colleague = self.member("colleague", self.mine, "reporter")
        self.stranger = self.member("stranger", self.other, "reporter")
        self.overseer = self.member("overseer", self.authority, "org_admin")

    @staticmethod
    def member(username: str, org: Organisation, role: str) -> User:
        user = UserFactory(username=username, email=f"{username}@example.org")
        services.add_membership(None, user, org, role)
        return user


@pytest.fixture
def world(cert: Organisation, platform_admin: User) -> World:
    return World(cert)


def invite_on_the_web(
    client: Client, org: Organisation, email: str, role: str = "reporter", capture: Any = None
) -> Any:
    data = {"invite-email": email, "invite-role": role, "invite-first_name": "Nina"}
    if capture is None:
        return client.post(f"/organisations/{org.pk}/invitations/", data)
    with capture(execute=True):
        return client.post(f"/organisations/{org.pk}/invitations/", data)


def links_in(messages: list[Any]) -> list[str]:
    return [m for msg in messages for m in LINK.findall(msg.get_content())]


def delivered(smtp: Any) -> list[Any]:
    return [message_from_bytes(e.content, policy=policy.default) for e in smtp.messages]


@pytest.fixture
def smtp(settings: Any) -> Any:
    """A real SMTP server on loopback (aiosmtpd) with Django's SMTP backend pointed at it,
    as the advisories' and exchange's mail tests do."""
    from aiosmtpd.controller import Controller

    from bulwark.advisories.tests.conftest import Inbox, free_port

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    try:
        yield inbox
    finally:
        controller.stop()


def invited_link(world: World, email: str, smtp: Any, capture: Any, role: str = "reporter") -> str:
    client = sign_in(Client(), world.boss)
    response = invite_on_the_web(client, world.mine, email, role, capture)
    assert response.status_code == 302, response.content
    assert run_queued_tasks() == 1
    messages = delivered(smtp)
    assert messages[-1]["To"] == email
    found = links_in(messages[-1:])
    assert len(found) == 1
    return found[0]


def accept(link: str, username: str = "nina", password: str = PASSWORD) -> tuple[Client, Any]:
    client = Client()
    path = urlsplit(link).path
    response = client.post(
        path, {"username": username, "new_password1": password, "new_password2": password}
    )
    return client, response


# --- The invitation link ---------------------------------------------------------------------


def test_an_org_admin_invites_and_the_link_sets_the_password_once(
    world: World, smtp: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SITE_URL = "https://bulwark.cert.example"
    link = invited_link(world, "nina@mine.example", smtp, django_capture_on_commit_callbacks)
    assert link.startswith("https://bulwark.cert.example/accounts/invitation/")
    secret = urlsplit(link).path.split("/")[-2]
    invitation = Invitation.objects.get(email="nina@mine.example")
    # Only a digest is kept.
    assert secret not in invitation.digest and invitation.digest == services.token_digest(secret)
    assert invitation.status == "pending" and invitation.invited_by == world.boss

    page = Client().get(urlsplit(link).path)
    assert page.status_code == 200 and "Mine" in page.content.decode()
    client, response = accept(link)
    assert response.status_code == 302 and response["Location"] == "/accounts/otp/setup/"
    nina = User.objects.get(username="nina")
    assert nina.email == "nina@mine.example" and nina.check_password(PASSWORD)
    assert Membership.objects.filter(user=nina, organisation=world.mine, role="reporter").exists()
    assert client.get("/accounts/otp/setup/").status_code == 200  # signed in, enrolling
    assert Client().login(username="nina", password=PASSWORD)
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"invitation.created", "invitation.accepted", "membership.granted"} <= actions

    # The link works once.
    again = Client().get(urlsplit(link).path)
    assert again.status_code == 410
    assert "has been used already" in again.content.decode()
    _client, reused = accept(link, username="mallory", password="another passphrase 99")
    assert reused.status_code == 410 and "has been used already" in reused.content.decode()
    assert not User.objects.filter(username="mallory").exists()


def test_an_expired_link_is_refused_with_a_clear_message(
    world: World, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = invited_link(world, "late@mine.example", smtp, django_capture_on_commit_callbacks)
    Invitation.objects.update(
        expires_at=timezone.now() - timedelta(minutes=1),
        sent_at=timezone.now() - timedelta(days=7),
    )
    _client, response = accept(link, username="late")
    text = response.content.decode()
    assert response.status_code == 410
    assert "expired on" in text and "send it again" in text
    assert not User.objects.filter(username="late").exists()
    # Re-sending gives a new link; the old one stays dead.
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = sign_in(Client(), world.boss).post(
            f"/organisations/{world.mine.pk}/invitations/{invitation.pk}/resend/"
        )
    assert response.status_code == 302
    assert run_queued_tasks() == 1
    fresh = links_in(delivered(smtp)[-1:])[0]
    assert fresh != link
    assert accept(link, username="late")[1].status_code == 404  # its digest is gone
    assert accept(fresh, username="late")[1].status_code == 302
    assert Invitation.objects.get().sent_count == 2


def test_unknown_and_withdrawn_links_are_refused(
    world: World, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    unknown = Client().get("/accounts/invitation/not-a-real-token/")
    assert unknown.status_code == 404 and "not valid" in unknown.content.decode()
    link = invited_link(world, "gone@mine.example", smtp, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    sign_in(Client(), world.boss).post(
        f"/organisations/{world.mine.pk}/invitations/{invitation.pk}/revoke/"
    )
    response = Client().get(urlsplit(link).path)
    assert response.status_code == 410 and "withdrawn" in response.content.decode()
    assert AuditEntry.objects.filter(action="invitation.revoked").exists()


def test_a_weak_password_or_a_taken_username_is_refused_on_the_field(
    world: World, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = invited_link(world, "weak@mine.example", smtp, django_capture_on_commit_callbacks)
    _client, weak = accept(link, username="weak", password="123")
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    _client, taken = accept(link, username="colleague")
    assert taken.status_code == 400 and "already exists" in taken.content.decode()
    assert Invitation.objects.get().status == "pending"  # still usable
    assert accept(link, username="weak")[1].status_code == 302


def test_an_account_created_by_an_admin_gets_an_invitation_to_choose_a_password(
    world: World, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The defect: a new account had an unusable password and no way in."""
    with django_capture_on_commit_callbacks(execute=True):
        response = sign_in(Client(), world.boss).post(
            "/users/new/",
            {
                "username": "newcomer",
                "email": "newcomer@mine.example",
                "organisation": world.mine.pk,
                "role": "reporter",
            },
        )
    assert response.status_code == 302
    assert run_queued_tasks() == 1
    message = delivered(smtp)[0]
    assert message["To"] == "newcomer@mine.example"
    assert "newcomer" in message.get_content()
    link = links_in([message])[0]
    page = Client().get(urlsplit(link).path).content.decode()
    assert 'name="username"' not in page  # the admin chose it
    client = Client()
    done = client.post(urlsplit(link).path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 302
    assert Client().login(username="newcomer", password=PASSWORD)


# --- Who may invite whom ---------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_an_org_admin_invites_only_roles_they_may_grant(world: World, role: str) -> None:
    """Matrix over roles, in the service, on the web form and through the API."""
    privileged = role in {"duty_officer", "analyst", "platform_admin"}
    web = sign_in(Client(), world.boss)
    page = web.get(f"/organisations/{world.mine.pk}/").content.decode()
    offered = re.search(r'<select name="invite-role"[^>]*>(.*?)</select>', page, re.S)
    assert offered is not None
    # Offered: what the admin may grant and the organisation's type allows.
    assert (f'value="{role}"' in offered.group(1)) is not (privileged or role == "reviewer")
    web_answer = invite_on_the_web(web, world.mine, f"web-{role}@mine.example", role)
    api_answer = Client().post(
        "/api/v1/invitations/",
        {"email": f"api-{role}@mine.example", "organisation": world.mine.pk, "role": role},
        content_type="application/json",
        **bearer(world.boss, ["constituency:write"]),
    )
    if privileged:
        with pytest.raises(PermissionDenied):
            services.invite_member(world.boss, world.mine, email="x@mine.example", role=role)
        assert web_answer.status_code == 400
        assert api_answer.status_code in (400, 403)
        assert not Invitation.objects.exists()
    elif role == "reviewer":
        # Reviewers belong to an authority: not offered here; refused with the reason.
        assert web_answer.status_code == 400
        assert api_answer.status_code == 400
        assert "supervising authority" in str(api_answer.json()["role"])
        with pytest.raises(ValidationError, match="supervising authority"):
            services.invite_member(world.boss, world.mine, email="x@mine.example", role=role)
        assert not Invitation.objects.exists()
    else:
        assert web_answer.status_code == 302, web_answer.content
        assert api_answer.status_code == 201, api_answer.content
        assert "digest" not in api_answer.json() and "token" not in api_answer.json()
        assert Invitation.objects.filter(role=role, organisation=world.mine).count() == 2


def test_an_org_admin_cannot_invite_into_another_organisation(world: World) -> None:
    web = sign_in(Client(), world.boss)
    assert invite_on_the_web(web, world.other, "x@other.example").status_code == 404
    # The authority's admin sees the agencies below it but does not administer them.
    overseer = sign_in(Client(), world.overseer)
    assert invite_on_the_web(overseer, world.mine, "x@mine.example").status_code == 403
    api = Client().post(
        "/api/v1/invitations/",
        {"email": "x@other.example", "organisation": world.other.pk, "role": "reporter"},
        content_type="application/json",
        **bearer(world.boss, ["constituency:write"]),
    )
    assert api.status_code == 400 and "organisation" in api.json()
    with pytest.raises(PermissionDenied):
        services.invite_member(world.boss, world.other, email="x@other.example", role="reporter")
    assert not Invitation.objects.exists()
    # A token without constituency:write cannot invite.
    read_only = Client().post(
        "/api/v1/invitations/",
        {"email": "x@mine.example", "organisation": world.mine.pk, "role": "reporter"},
        content_type="application/json",
        **bearer(world.boss, ["constituency:read"]),
    )
    assert read_only.status_code == 403 and "constituency:write" in read_only.json()["detail"]


def test_invitations_are_read_only_by_those_who_administer_the_organisation(
    world: World,
) -> None:
    services.invite_member(world.boss, world.mine, email="seen@mine.example", role="reporter")
    for user, count in (
        (world.boss, 1),
        (world.colleague, 0),
        (world.stranger, 0),
        (world.overseer, 0),
    ):
        assert Invitation.objects.visible_to(user).count() == count
        listed = Client().get("/api/v1/invitations/", **bearer(user, ["constituency:read"]))
        assert listed.status_code == 200 and listed.json()["count"] == count
        page = sign_in(Client(), user).get(f"/organisations/{world.mine.pk}/")
        assert ("seen@mine.example" in page.content.decode()) is (count == 1)


def test_inviting_an_existing_account_attaches_nobody_and_reveals_nothing(
    world: World, platform_admin: User, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Another organisation's user is never attached from a form, and the org admin's
    answer is the same as for a new address."""
    web = sign_in(Client(), world.boss)
    known = invite_on_the_web(
        web, world.mine, "stranger@example.org", capture=django_capture_on_commit_callbacks
    )
    unknown = invite_on_the_web(
        web, world.mine, "fresh@mine.example", capture=django_capture_on_commit_callbacks
    )
    assert known.status_code == unknown.status_code == 302
    assert run_queued_tasks() == 2
    to_stranger, to_fresh = sorted(delivered(smtp), key=lambda m: m["To"] != "stranger@example.org")
    assert links_in([to_stranger]) == [] and "already has a Bulwark account" in (
        to_stranger.get_content()
    )
    assert len(links_in([to_fresh])) == 1
    assert world.stranger.memberships.count() == 1
    # The platform admin is told, and adds the account by username instead.
    with pytest.raises(ValidationError, match="stranger already has an account"):
        services.invite_member(
            platform_admin, world.mine, email="stranger@example.org", role="reporter"
        )


# --- Editing an organisation ---------------------------------------------------------------


def test_an_org_admin_is_told_why_the_type_cannot_change(world: World) -> None:
    """The defect: the form said "saved" and dropped the type and supervising authority."""
    response = Client().patch(
        f"/api/v1/organisations/{world.mine.pk}/",
        {"kind": "ci_operator", "notes": "ours"},
        content_type="application/json",
        **bearer(world.boss, ["constituency:write"]),
    )
    assert response.status_code == 400 and "platform admins" in response.json()["kind"][0]
    world.mine.refresh_from_db()
    assert world.mine.kind == "government_agency" and world.mine.notes == ""
    page = sign_in(Client(), world.boss).get(f"/organisations/{world.mine.pk}/edit/")
    text = page.content.decode()
    assert re.search(r'<select name="kind"[^>]*disabled', text)
    assert "Only the platform admins change this." in text


def test_a_type_that_would_break_the_hierarchy_is_refused_with_the_reason(
    world: World, platform_admin: User
) -> None:
    client = sign_in(Client(), platform_admin)
    form = {
        "name": "Authority",
        "kind": "government_agency",
        "country": "TW",
        "is_active": "on",
    }
    response = client.post(f"/organisations/{world.authority.pk}/edit/", form)
    assert response.status_code == 200
    assert "supervises other organisations" in response.content.decode()
    world.authority.refresh_from_db()
    assert world.authority.kind == "authority"
    # A change that is valid is saved and says so.
    ok = client.post(
        f"/organisations/{world.mine.pk}/edit/",
        {"name": "Mine", "kind": "ci_operator", "country": "TW", "is_active": "on",
         "parent": world.cert.pk},
    )  # fmt: skip
    assert ok.status_code == 302
    world.mine.refresh_from_db()
    assert (world.mine.kind, world.mine.parent_id) == ("ci_operator", world.cert.pk)


# --- Recovery codes and resetting a second factor -----------------------------------------------


def enrolled(user: User) -> tuple[TOTPDevice, list[str]]:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=False)
    return device, services.confirm_authenticator(user, device)


def test_a_recovery_code_signs_in_once(world: World) -> None:
    _device, codes = enrolled(world.colleague)
    assert len(codes) == 10 and len(set(codes)) == 10
    world.colleague.set_password(PASSWORD)
    world.colleague.save()

    def sign_in_with(code: str) -> Client:
        client = Client()
        assert (
            client.post(
                "/accounts/login/", {"username": "colleague", "password": PASSWORD}
            ).status_code
            == 302
        )
        # Having an authenticator, the reporter is asked for it.
        assert client.get("/incidents/")["Location"].startswith("/accounts/otp/")
        client.post("/accounts/otp/", {"token": code})
        return client

    first = sign_in_with(codes[0].upper()[:4] + "-" + codes[0][4:])  # typed as printed
    assert first.get("/incidents/").status_code == 200
    again = sign_in_with(codes[0])
    assert again.get("/incidents/").status_code == 302  # used: refused
    assert len(services.recovery_codes(world.colleague)) == 9
    assert AuditEntry.objects.filter(action="user.recovery_code_used").count() == 1
    # Regenerating replaces them all.
    page = first.post("/accounts/security/recovery-codes/")
    fresh = services.recovery_codes(world.colleague)
    assert len(fresh) == 10 and codes[1] not in fresh
    assert all(code in page.content.decode() for code in fresh)


def test_recovery_codes_are_shown_only_to_a_verified_session(world: World) -> None:
    enrolled(world.colleague)
    client = Client()
    client.force_login(world.colleague)  # password only
    response = client.get("/accounts/security/recovery-codes/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/otp/")
    assert client.get("/accounts/otp/setup/")["Location"].startswith("/accounts/otp/")


def test_replacing_the_authenticator_keeps_the_old_one_until_the_new_is_confirmed(
    world: World,
) -> None:
    old, _codes = enrolled(world.colleague)
    client = sign_in(Client(), world.colleague)
    client.get("/accounts/otp/setup/")
    new = TOTPDevice.objects.get(user=world.colleague, confirmed=False)
    assert TOTPDevice.objects.filter(pk=old.pk, confirmed=True).exists()
    assert client.post("/accounts/otp/setup/", {"token": totp_code(new)}).status_code == 302
    assert list(TOTPDevice.objects.filter(user=world.colleague)) == [new]
    new.refresh_from_db()
    assert new.confirmed


def test_an_org_admin_resets_a_members_second_factor_audited_and_notified(
    world: World, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    enrolled(world.colleague)
    with django_capture_on_commit_callbacks(execute=True):
        response = sign_in(Client(), world.boss).post(
            f"/users/{world.colleague.pk}/second-factor/reset/"
        )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=world.colleague).exists()
    assert not StaticDevice.objects.filter(user=world.colleague).exists()
    assert not StaticToken.objects.filter(device__user=world.colleague).exists()
    entry = AuditEntry.objects.get(action="user.second_factor_reset")
    assert entry.actor_id == world.boss.pk and entry.object_id == str(world.colleague.pk)
    assert entry.organisation_id == world.mine.pk
    assert run_queued_tasks() == 1
    message = delivered(smtp)[0]
    assert message["To"] == "colleague@example.org"
    assert "was reset by boss" in message.get_content()


def test_who_may_reset_a_second_factor(world: World, platform_admin: User) -> None:
    # Not another organisation's member (not even visible: 404), not oneself, not an
    # organisation admin of an authority for an agency's member.
    boss = sign_in(Client(), world.boss)
    assert boss.post(f"/users/{world.stranger.pk}/second-factor/reset/").status_code == 404
    assert boss.post(f"/users/{world.boss.pk}/second-factor/reset/").status_code == 403
    overseer = sign_in(Client(), world.overseer)
    assert overseer.post(f"/users/{world.colleague.pk}/second-factor/reset/").status_code == 403
    # A member who also holds a role elsewhere is the platform admins' to reset.
    services.add_membership(None, world.colleague, world.other, "reporter")
    assert boss.post(f"/users/{world.colleague.pk}/second-factor/reset/").status_code == 403
    admin = sign_in(Client(), platform_admin)
    assert admin.post(f"/users/{world.colleague.pk}/second-factor/reset/").status_code == 302
    assert AuditEntry.objects.filter(action="user.second_factor_reset").count() == 1


def test_password_change_works_for_an_invited_person(world: World) -> None:
    world.colleague.set_password(PASSWORD)
    world.colleague.save()
    client = sign_in(Client(), world.colleague)
    assert "Change password" in client.get("/accounts/security/").content.decode()
    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a different passphrase 8",
            "new_password2": "a different passphrase 8",
        },
    )
    assert response.status_code == 302
    assert Client().login(username="colleague", password="a different passphrase 8")


def test_the_api_resends_and_withdraws_with_the_same_rules(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invite_member(
            world.boss, world.mine, email="api@mine.example", role="reporter"
        )
    boss = bearer(world.boss, ["constituency:read", "constituency:write"])
    colleague = bearer(world.colleague, ["constituency:read"])
    url = f"/api/v1/invitations/{invitation.pk}/"
    # Someone who does not administer the organisation does not see it at all (a
    # reporter's token cannot hold constituency:write; its session neither sees it).
    assert Client().get(url, **colleague).status_code == 404
    member = sign_in(Client(), world.colleague)
    assert member.post(url + "resend/").status_code == 404
    assert member.delete(url).status_code == 404
    # Straight after the first mail a re-send is refused, with the wait, and sends nothing.
    early = Client().post(url + "resend/", **boss)
    assert early.status_code == 400 and "try again in 5 minutes" in str(early.json())
    Invitation.objects.update(sent_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        resent = Client().post(url + "resend/", **boss)
    assert resent.status_code == 200 and resent.json()["sent_count"] == 2
    assert run_queued_tasks() == 2
    first, second = (LINK.findall(m.body) for m in mail.outbox)
    assert first != second and len(second) == 1
    assert Client().get(urlsplit(first[0]).path).status_code == 404
    assert Client().delete(url, **boss).status_code == 204
    assert Client().get(url, **boss).json()["status"] == "revoked"
    assert Client().get(urlsplit(second[0]).path).status_code == 410


def test_a_platform_admin_invites_any_role_the_organisation_allows(
    world: World, platform_admin: User
) -> None:
    services.invite_member(platform_admin, world.cert, email="a@cert.example", role="analyst")
    with pytest.raises(ValidationError, match="national CERT only"):
        services.invite_member(platform_admin, world.mine, email="a@mine.example", role="analyst")
    page = sign_in(Client(), platform_admin).get(f"/organisations/{world.cert.pk}/")
    offered = re.search(
        r'<select name="invite-role"[^>]*>(.*?)</select>', page.content.decode(), re.S
    )
    assert offered is not None
    assert all(f'value="{role}"' in offered.group(1) for role in Role.values)


def test_one_person_cannot_mail_bomb_through_invitations(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core import mail

    settings.INVITATIONS_PER_HOUR = 3
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            services.invite_member(
                world.boss, world.mine, email=f"staff{n}@mine.example", role="reporter"
            )
    page = invite_on_the_web(sign_in(Client(), world.boss), world.mine, "one-more@mine.example")
    assert page.status_code == 400
    assert "3 invitations in the last hour" in page.content.decode()
    assert not Invitation.objects.filter(email="one-more@mine.example").exists()
    assert run_queued_tasks() == 3 and len(mail.outbox) == 3
    # An hour on, the same person invites again; the system (imports) is never limited.
    Invitation.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    services.invite_member(world.boss, world.mine, email="later@mine.example", role="reporter")
    services.invite_member(None, world.mine, email="import@mine.example", role="reporter")
