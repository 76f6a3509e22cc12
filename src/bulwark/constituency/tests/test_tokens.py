import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.constituency import services
from bulwark.constituency.models import ApiToken, User
from bulwark.core.models import AuditEntry


def api_get(secret: str, path: str = "/api/v1/organisations/") -> tuple[int, dict]:
    response = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {secret}")
    return response.status_code, response.json()


@pytest.fixture
def token(platform_admin: User) -> tuple[ApiToken, str]:
    return services.create_api_token(
        None, platform_admin, name="feed", scopes=["constituency:read"], days=30
    )


def test_valid_token_reads_and_records_use(token: tuple[ApiToken, str]) -> None:
    status, body = api_get(token[1])
    assert status == 200 and body["count"] == 1
    token[0].refresh_from_db()
    assert token[0].last_used_at is not None


def test_token_is_stored_only_as_digest(token: tuple[ApiToken, str]) -> None:
    stored, full = token
    # The secret part, whole: token_urlsafe may itself hold '_', and a short fragment after
    # the last one could occur in any column by chance (this test used to fail so, rarely).
    secret = full.removeprefix(services.TOKEN_PREFIX).split("_", 1)[1]
    assert len(secret) >= 40
    row = ApiToken.objects.values().get(pk=stored.pk)
    assert not any(secret in str(v) for v in row.values())
    assert not AuditEntry.objects.filter(changes__icontains=secret).exists()


def test_expired_token_is_refused(token: tuple[ApiToken, str]) -> None:
    ApiToken.objects.filter(pk=token[0].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    status, body = api_get(token[1])
    assert status == 401 and body["detail"] == "This token has expired."


def test_revoked_token_is_refused(platform_admin: User, token: tuple[ApiToken, str]) -> None:
    services.revoke_api_token(platform_admin, token[0])
    status, body = api_get(token[1])
    assert status == 401 and body["detail"] == "This token has been revoked."


def test_token_of_deactivated_user_is_refused(
    platform_admin: User, token: tuple[ApiToken, str]
) -> None:
    User.objects.filter(pk=platform_admin.pk).update(is_active=False)
    status, _body = api_get(token[1])
    assert status == 401


def test_wrong_secret_is_refused(token: tuple[ApiToken, str]) -> None:
    forged = token[1][:-4] + ("AAAA" if not token[1].endswith("AAAA") else "BBBB")
    status, body = api_get(forged)
    assert status == 401 and body["detail"] == "Invalid token."


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer a b",
        "Bearer not-a-token",
        "Bearer bwk_short_x",
        "Bearer bwk_0123456789_" + "x" * 200,
        "Bearer bwk_\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9_x",
    ],
)
def test_malformed_tokens_are_refused_with_a_message(db: None, header: str) -> None:
    response = Client().get("/api/v1/organisations/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert (
        "token" in response.json()["detail"].lower()
        or "header" in response.json()["detail"].lower()
    )
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_wrong_scope_is_forbidden(token: tuple[ApiToken, str], cert: object) -> None:
    response = Client().post(
        "/api/v1/organisations/",
        {"name": "New", "kind": "government_agency", "country": "TW"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token[1]}",
    )
    assert response.status_code == 403
    assert "constituency:write" in response.json()["detail"]
    status, body = api_get(token[1], "/api/v1/audit/")
    assert status == 403 and "audit:read" in body["detail"]


def test_write_scope_allows_write(platform_admin: User) -> None:
    _t, secret = services.create_api_token(
        None, platform_admin, name="w", scopes=["constituency:write"], days=1
    )
    response = Client().post(
        "/api/v1/organisations/",
        {"name": "New agency", "kind": "government_agency", "country": "TW"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 201, response.content
    assert AuditEntry.objects.filter(
        action="organisation.created", object_label="New agency"
    ).exists()


def test_token_is_never_logged(
    token: tuple[ApiToken, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api_get(token[1])
    api_get(token[1] + "x")
    assert token[1] not in caplog.text


def test_cli_prints_the_token_alone(
    platform_admin: User, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command(
        "token", "create", "--user", platform_admin.username,
        "--scope", "constituency:read", "--scope", "audit:read", "--days", "7",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    secret = out.strip()
    status, _body = api_get(secret, "/api/v1/audit/")
    assert status == 200
    stored = ApiToken.objects.get(user=platform_admin)
    assert stored.scopes == ["audit:read", "constituency:read"]
    assert 6 <= (stored.expires_at - timezone.now()).days <= 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "ghost"], "no user"),
        (["--user", "root-admin", "--scope", "everything"], "Unknown scope"),
        (["--user", "root-admin", "--days", "0"], "between 1 and"),
        (["--user", "root-admin", "--days", "10000"], "between 1 and"),
    ],
)
def test_cli_refuses_bad_arguments(platform_admin: User, args: list[str], message: str) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("token", "create", *args)


def test_tokens_page_shows_secret_once_and_revokes(client: Client, platform_admin: User) -> None:
    sign_in(client, platform_admin)
    response = client.post(
        "/accounts/tokens/", {"name": "SIEM", "scopes": ["constituency:read"], "days": 30}
    )
    secret = response.context["created_secret"]
    assert secret in response.content.decode()
    listing = client.get("/accounts/tokens/").content.decode()
    assert "SIEM" in listing and secret not in listing
    token = ApiToken.objects.get(name="SIEM")
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert api_get(secret)[0] == 401


def test_api_token_endpoint_creates_and_revokes(platform_admin: User) -> None:
    _t, manager = services.create_api_token(
        None, platform_admin, name="m", scopes=["tokens:manage", "constituency:read"], days=1
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {manager}"}
    created = Client().post(
        "/api/v1/tokens/", {"name": "bot", "scopes": ["constituency:read"], "days": 5},
        content_type="application/json", **auth,
    )  # fmt: skip
    assert created.status_code == 201
    secret = created.json()["token"]
    assert api_get(secret)[0] == 200
    listed = Client().get("/api/v1/tokens/", **auth).json()
    assert all("token" not in t and "digest" not in t for t in listed["results"])
    assert Client().delete(f"/api/v1/tokens/{created.json()['id']}/", **auth).status_code == 204
    assert api_get(secret)[0] == 401
