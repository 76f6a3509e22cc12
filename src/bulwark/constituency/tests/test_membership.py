"""Who may create users and attach people to organisations, and what the answers reveal
(issue 20): an organisation admin creates people only together with a membership in an
organisation they administer, attaches only people already in such an organisation, is
offered only the roles they may grant, and learns nothing about accounts elsewhere."""

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from bulwark.conftest import sign_in
from bulwark.constituency import services
from bulwark.constituency.models import Membership, Organisation, User
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory

PRIVILEGED = ("duty_officer", "analyst", "platform_admin")


class World:
    def __init__(self, cert: Organisation) -> None:
        self.cert = cert
        self.authority = OrganisationFactory(name="Authority", kind="authority")
        self.mine = OrganisationFactory(name="Mine", parent=self.authority)
        self.other = OrganisationFactory(name="Other", parent=self.authority)
        self.boss = self.member("boss", self.mine, "org_admin")
        self.colleague = self.member("colleague", self.mine, "reporter")
        self.stranger = self.member("stranger", self.other, "reporter")
        self.authority_admin = self.member("overseer", self.authority, "org_admin")

    @staticmethod
    def member(username: str, org: Organisation, role: str) -> User:
        user = UserFactory(username=username, email=f"{username}@example.org")
        services.add_membership(None, user, org, role)
        return user


@pytest.fixture
def world(cert: Organisation, platform_admin: User) -> World:
    return World(cert)


def _post_user(client: Client, world: World, **data: Any) -> Any:
    fields = {
        "username": "newcomer",
        "email": "newcomer@mine.example",
        "organisation": world.mine.pk,
        "role": "reporter",
    }
    fields.update(data)
    return client.post("/api/v1/users/", fields, content_type="application/json")


# --- Creating users -----------------------------------------------------------------------


def test_an_org_admin_cannot_create_a_user_without_a_membership(world: World) -> None:
    client = sign_in(Client(), world.boss)
    response = client.post(
        "/api/v1/users/",
        {"username": "orphan", "email": "orphan@mine.example"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "organisation" in response.json()
    assert not User.objects.filter(username="orphan").exists()
    with pytest.raises(ValidationError):
        services.create_user(world.boss, username="orphan", email="orphan@mine.example")
    assert not User.objects.filter(username="orphan").exists()


def test_an_org_admin_creates_a_user_with_a_membership_in_their_organisation(
    world: World,
) -> None:
    response = _post_user(sign_in(Client(), world.boss), world)
    assert response.status_code == 201, response.content
    assert response.json()["memberships"] == [{"organisation": world.mine.pk, "role": "reporter"}]
    created = User.objects.get(username="newcomer")
    assert list(created.memberships.values_list("organisation__name", "role")) == [
        ("Mine", "reporter")
    ]


@pytest.mark.parametrize("place", ["other", "authority"])
def test_an_org_admin_cannot_create_a_user_in_an_organisation_they_do_not_administer(
    world: World, place: str
) -> None:
    """Both or nothing: a refused membership leaves no user behind."""
    org = getattr(world, place)  # Other is invisible to them; the Authority is visible
    response = _post_user(sign_in(Client(), world.boss), world, organisation=org.pk)
    assert response.status_code in {400, 403}
    assert not User.objects.filter(username="newcomer").exists()


@pytest.mark.parametrize("role", PRIVILEGED)
def test_an_org_admin_cannot_create_a_user_with_a_privileged_role(world: World, role: str) -> None:
    response = _post_user(sign_in(Client(), world.boss), world, role=role)
    assert response.status_code == 403
    assert not User.objects.filter(username="newcomer").exists()


def test_user_and_membership_are_created_together_or_not_at_all(
    world: World, platform_admin: User
) -> None:
    # CERT roles exist only at the national CERT: the membership is invalid.
    with pytest.raises(ValidationError):
        services.create_user(
            platform_admin,
            username="newcomer",
            email="newcomer@mine.example",
            organisation=world.mine,
            role="analyst",
        )
    assert not User.objects.filter(username="newcomer").exists()


@pytest.mark.parametrize(
    "taken",
    [
        {"username": "stranger"},
        {"email": "stranger@example.org"},
        {"email": "STRANGER@example.org"},
        {"username": "stranger", "email": "stranger@example.org"},
    ],
)
def test_an_org_admin_is_not_told_that_an_account_exists_elsewhere(
    world: World, taken: dict[str, str]
) -> None:
    neutral = str(services.NEUTRAL_ACCOUNT_REFUSAL)
    api = _post_user(sign_in(Client(), world.boss), world, **taken)
    assert api.status_code == 400
    assert api.json() == {"non_field_errors": [neutral]}
    web = sign_in(Client(), world.boss).post(
        "/users/new/",
        {
            "username": "newcomer",
            "email": "newcomer@mine.example",
            "organisation": world.mine.pk,
            "role": "reporter",
            **taken,
        },
    )
    text = web.content.decode()
    assert web.status_code == 200 and neutral.split(".")[0] in text
    assert "already exists" not in text and "already exists" not in api.content.decode()
    assert User.objects.filter(username__in=["stranger", "newcomer"]).count() == 1


def test_a_platform_admin_is_told_the_precise_reason(world: World, platform_admin: User) -> None:
    response = _post_user(sign_in(Client(), platform_admin), world, username="stranger")
    assert response.status_code == 400
    assert "already exists" in response.json()["username"][0]


def test_the_create_form_offers_only_grantable_roles(world: World, platform_admin: User) -> None:
    page = sign_in(Client(), world.boss).get("/users/new/").content.decode()
    assert 'value="reporter"' in page and 'value="org_admin"' in page
    assert not any(f'value="{role}"' in page for role in PRIVILEGED)
    page = sign_in(Client(), platform_admin).get("/users/new/").content.decode()
    assert all(f'value="{role}"' in page for role in PRIVILEGED)


# --- Attaching existing users ---------------------------------------------------------------


def _attach(world: World, username: str, role: str = "reporter", actor: Any = None) -> Any:
    client = sign_in(Client(), actor or world.boss)
    return client.post(
        f"/organisations/{world.mine.pk}/members/", {"username": username, "role": role}
    )


def test_an_org_admin_cannot_attach_another_organisations_user(world: World) -> None:
    """The defect: an agency's user was joined to another agency and read its incidents."""
    response = _attach(world, "stranger")
    assert response.status_code == 400
    assert not Membership.objects.filter(user=world.stranger, organisation=world.mine).exists()
    with pytest.raises(ValidationError):
        services.add_membership(world.boss, world.stranger, world.mine, "reporter")
    # Nor may the authority's admin pull an agency's user up into the authority.
    with pytest.raises(ValidationError):
        services.add_membership(world.authority_admin, world.stranger, world.authority, "reporter")
    assert world.stranger.memberships.count() == 1


def test_unknown_and_foreign_usernames_get_the_same_answer(world: World) -> None:
    def answer(username: str) -> tuple[int, str]:
        response = _attach(world, username)
        form = response.context["member_form"]
        return response.status_code, str(form.errors)

    assert answer("stranger") == answer("no-such-user")
    status, errors = answer("stranger")
    assert status == 400 and str(services.NEUTRAL_MEMBER_REFUSAL) in errors.replace("&#x27;", "'")


def test_an_org_admin_may_give_a_colleague_another_role(world: World) -> None:
    assert _attach(world, "colleague", "org_admin").status_code == 302
    assert world.colleague.memberships.filter(role="org_admin", organisation=world.mine).exists()


def test_a_platform_admin_attaches_anyone(world: World, platform_admin: User) -> None:
    assert _attach(world, "stranger", actor=platform_admin).status_code == 302
    assert world.stranger.memberships.filter(organisation=world.mine).exists()


def test_the_member_form_offers_only_grantable_roles(world: World) -> None:
    page = sign_in(Client(), world.boss).get(f"/organisations/{world.mine.pk}/").content.decode()
    assert 'value="reporter"' in page
    assert not any(f'value="{role}"' in page for role in PRIVILEGED)
    refused = _attach(world, "colleague", "platform_admin")
    assert refused.status_code == 400
    assert not world.colleague.memberships.filter(role="platform_admin").exists()


def test_someone_who_administers_nothing_here_cannot_use_the_member_form(world: World) -> None:
    with pytest.raises(PermissionDenied):
        services.add_membership(world.colleague, world.colleague, world.mine, "org_admin")
    assert _attach(world, "colleague", "org_admin", actor=world.colleague).status_code == 403
