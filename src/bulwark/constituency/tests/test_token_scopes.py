"""Token scopes: every API endpoint x every scope, and every way to mint a token x (the
minting credential's scopes, the requested scope, the user's role).

The endpoints are read from the API's URL patterns, so an endpoint added later is in the
matrix without anyone editing this file. The scopes each role may hold are written out
here, independently of `scopes.ROLE_SCOPES`, as docs/access.md states them."""

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, reverse

from bulwark import api_urls
from bulwark.conftest import sign_in
from bulwark.constituency import services
from bulwark.constituency.api.permissions import TokenScope
from bulwark.constituency.models import ApiToken, Organisation, User
from bulwark.constituency.scopes import SCOPES
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory

READS = {
    "constituency:read", "tokens:manage", "incidents:read", "intel:read", "monitoring:read",
    "advisories:read", "stats:read", "exchange:read", "drills:read", "findings:read",
    "training:read",
}  # fmt: skip
MEMBER = READS | {
    "incidents:write", "intel:write", "advisories:write", "drills:write", "findings:write",
}  # fmt: skip
# What docs/access.md says each person may hold.
ROLE_MAY_HOLD = {
    "nobody": READS,
    "reporter": MEMBER,
    "org_admin": MEMBER | {"constituency:write", "audit:read", "training:write"},
    "analyst": MEMBER | {"monitoring:write", "exchange:write", "training:write"},
    "duty_officer": MEMBER | {"monitoring:write", "exchange:write", "training:write"},
    "platform_admin": set(SCOPES),
}
SCOPE_REFUSALS = ("lacks the scope", "no longer allow the scope", "does not accept API tokens")
ABSENT = "999999"  # an object id nobody has: a request that passes the scope check gets 404


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: str | None  # what the endpoint declares; None: tokens are refused

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _declared_scope(pattern: URLPattern, method: str) -> str | None:
    callback: Any = pattern.callback
    cls = callback.cls
    attrs = {
        name: getattr(cls, name, None)
        for name in ("required_scope", "scope_resource", "scope_exempt")
    }
    attrs.update(getattr(callback, "initkwargs", {}) or {})
    return TokenScope.scope_for(SimpleNamespace(method=method.upper()), SimpleNamespace(**attrs))


def _path(pattern: URLPattern) -> str | None:
    kwargs = {name: None for name in pattern.pattern.regex.groupindex}
    for sample in (ABSENT, "nosuchthing"):
        try:
            return reverse(f"api:{pattern.name}", kwargs={k: sample for k in kwargs})
        except NoReverseMatch:
            continue
    return None


def api_endpoints() -> list[Endpoint]:
    """Every (method, URL) the router serves under /api/v1/, format suffixes aside."""
    found: list[Endpoint] = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        callback: Any = pattern.callback
        if "format" in pattern.pattern.regex.groupindex or not hasattr(callback, "cls"):
            continue
        if getattr(callback.cls, "scope_exempt", False):
            continue  # the API root: a list of links, no data
        actions = getattr(callback, "actions", None) or {
            m: m for m in callback.cls.http_method_names if hasattr(callback.cls, m)
        }
        path = _path(pattern)
        assert path is not None, f"cannot build a URL for {pattern.pattern}"
        for method in actions:
            if method in {"options", "head"}:
                continue
            found.append(Endpoint(method, path, _declared_scope(pattern, method)))
    return found


def _refused_for_scope(response: Any) -> bool:
    if response.status_code != 403:
        return False
    detail = (
        str(response.json().get("detail", ""))
        if response.get("Content-Type", "").startswith("application/json")
        else ""
    )
    return any(reason in detail for reason in SCOPE_REFUSALS)


def test_every_api_endpoint_declares_a_known_scope() -> None:
    endpoints = api_endpoints()
    assert len(endpoints) > 60  # the enumeration found the API (it has ~100 method+URL pairs)
    undeclared = [str(e) for e in endpoints if e.scope is None]
    assert undeclared == []
    unknown = {e.scope for e in endpoints} - set(SCOPES)
    assert unknown == set()
    # Every scope guards something.
    assert {e.scope for e in endpoints} == set(SCOPES)


def test_token_scope_matrix(platform_admin: User) -> None:
    """A token holding only scope S: 403 naming the scope on every endpoint that needs
    another; on the endpoints that need S, anything but a refusal for the scope."""
    secrets = {
        scope: services.create_api_token(None, platform_admin, name=scope, scopes=[scope])[1]
        for scope in SCOPES
    }
    wrong: list[str] = []
    checked = 0
    for endpoint in api_endpoints():
        for scope, secret in secrets.items():
            client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
            call = getattr(client, endpoint.method)
            if endpoint.method in {"post", "put", "patch"}:
                response = call(endpoint.path, {}, content_type="application/json")
            else:
                response = call(endpoint.path)
            checked += 1
            refused = _refused_for_scope(response)
            if scope == endpoint.scope and refused:
                wrong.append(f"{endpoint} refused a token with its scope {scope}")
            elif scope != endpoint.scope and not refused:
                wrong.append(
                    f"{endpoint} (needs {endpoint.scope}) answered {response.status_code} "
                    f"to a token with only {scope}"
                )
    assert wrong == []
    assert checked == len(api_endpoints()) * len(SCOPES)


# --- Minting -----------------------------------------------------------------------------


@pytest.fixture
def people(cert: Organisation, platform_admin: User) -> dict[str, User]:
    agency = OrganisationFactory(name="Agency")
    users = {"platform_admin": platform_admin}
    for role, org in (
        ("reporter", agency),
        ("org_admin", agency),
        ("analyst", cert),
        ("duty_officer", cert),
    ):
        user = UserFactory(username=role)
        services.add_membership(None, user, org, role)
        users[role] = user
    users["nobody"] = UserFactory(username="nobody")
    return users


def _tokens_of(user: User) -> set[tuple[str, ...]]:
    return {tuple(t.scopes) for t in ApiToken.objects.filter(user=user, name="minted")}


def _mint_api(client: Client, scope: str, **auth: str) -> tuple[bool, str]:
    response = client.post(
        "/api/v1/tokens/",
        {"name": "minted", "scopes": [scope], "days": 1},
        content_type="application/json",
        **auth,
    )
    assert response.status_code in {201, 400, 403}, response.content
    return response.status_code == 201, response.content.decode()


@pytest.mark.parametrize("role", sorted(ROLE_MAY_HOLD))
def test_minting_through_the_api_with_a_token(people: dict[str, User], role: str) -> None:
    """A token can grant only scopes it holds itself, and only those the role allows."""
    user = people[role]
    minting_sets = [{"tokens:manage"}, ROLE_MAY_HOLD[role]]
    for held in minting_sets:
        _t, secret = services.create_api_token(None, user, name="minter", scopes=held)
        for scope in SCOPES:
            ok, body = _mint_api(Client(), scope, HTTP_AUTHORIZATION=f"Bearer {secret}")
            expected = scope in held and scope in ROLE_MAY_HOLD[role]
            assert ok == expected, (role, sorted(held), scope, body)
            if not ok:
                assert scope in body  # the refusal names the scope
    assert _tokens_of(user) == {(s,) for s in ROLE_MAY_HOLD[role]}


@pytest.mark.parametrize("role", sorted(ROLE_MAY_HOLD))
def test_minting_through_the_api_with_a_session(people: dict[str, User], role: str) -> None:
    user = people[role]
    client = sign_in(Client(), user)
    for scope in SCOPES:
        ok, body = _mint_api(client, scope)
        assert ok == (scope in ROLE_MAY_HOLD[role]), (role, scope, body)
        if not ok:
            assert scope in body
    assert _tokens_of(user) == {(s,) for s in ROLE_MAY_HOLD[role]}


@pytest.mark.parametrize("role", sorted(ROLE_MAY_HOLD))
def test_minting_on_the_web_page(people: dict[str, User], role: str) -> None:
    user = people[role]
    client = sign_in(Client(), user)
    page = client.get("/accounts/tokens/").content.decode()
    offered = {s for s in SCOPES if f'value="{s}"' in page}
    assert offered == ROLE_MAY_HOLD[role]
    for scope in SCOPES:
        response = client.post(
            "/accounts/tokens/", {"name": "minted", "scopes": [scope], "days": 1}
        )
        ok = response.context["created_secret"] is not None
        assert ok == (scope in ROLE_MAY_HOLD[role]), (role, scope)
        if not ok:
            assert scope in response.content.decode()
    assert _tokens_of(user) == {(s,) for s in ROLE_MAY_HOLD[role]}


@pytest.mark.parametrize("role", sorted(ROLE_MAY_HOLD))
def test_minting_on_the_command_line(people: dict[str, User], role: str) -> None:
    user = people[role]
    for scope in SCOPES:
        args = ["token", "create", "--user", user.username, "--scope", scope, "--name", "minted"]
        if scope in ROLE_MAY_HOLD[role]:
            call_command(*args)
        else:
            with pytest.raises(CommandError, match=scope):
                call_command(*args)
    assert _tokens_of(user) == {(s,) for s in ROLE_MAY_HOLD[role]}


@pytest.mark.parametrize("role", sorted(set(ROLE_MAY_HOLD) - {"platform_admin"}))
def test_a_platform_admin_mints_for_another_user_within_that_users_role(
    people: dict[str, User], role: str
) -> None:
    admin, user = people["platform_admin"], people[role]
    for scope in SCOPES:
        if scope in ROLE_MAY_HOLD[role]:
            services.create_api_token(admin, user, name="minted", scopes=[scope])
        else:
            with pytest.raises(Exception, match=scope) as refused:
                services.create_api_token(admin, user, name="minted", scopes=[scope])
            assert type(refused.value).__name__ == "ValidationError"
    assert _tokens_of(user) == {(s,) for s in ROLE_MAY_HOLD[role]}


def test_the_escalation_reported_in_issue_20_is_refused(people: dict[str, User]) -> None:
    """An organisation admin's token with only tokens:manage minted a token with every
    scope, and that token read the audit log."""
    _t, manager = services.create_api_token(
        None, people["org_admin"], name="m", scopes=["tokens:manage"]
    )
    response = Client().post(
        "/api/v1/tokens/",
        {"name": "escalated", "scopes": ["audit:read", "constituency:write"], "days": 1},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {manager}",
    )
    assert response.status_code == 400
    assert "audit:read, constituency:write" in response.json()["scopes"][0]
    assert not ApiToken.objects.filter(name="escalated").exists()


def test_a_token_does_no_more_than_its_users_roles_allow_today(people: dict[str, User]) -> None:
    """A token minted while its user was an organisation admin (or before minting was
    bounded by roles) loses what the roles no longer allow."""
    user = people["org_admin"]
    _t, secret = services.create_api_token(None, user, name="old", scopes=["audit:read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/audit/").status_code == 200
    membership = user.memberships.get()
    services.remove_membership(people["platform_admin"], membership)
    response = client.get("/api/v1/audit/")
    assert response.status_code == 403
    assert "audit:read" in response.json()["detail"]
