"""Sign-ins through real identity providers running on local ports (see idp.py)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.conftest import totp_code
from bulwark.constituency import services as constituency
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Membership, Organisation, User
from bulwark.core.models import AuditEntry
from bulwark.sso import oidc, saml, services
from bulwark.sso.models import ExternalIdentity, IdentityProvider
from bulwark.sso.tests.idp import OidcProvider, SamlIdentityProvider, posted_form

PASSWORD = "correct horse battery 9"
CLIENT_ID = "bulwark-moea"
CLIENT_SECRET = "a-long-client-secret-for-the-test"


@pytest.fixture
def agency(db: None) -> Organisation:
    return Organisation.objects.create(name="Ministry of Examples", kind="government_agency")


@pytest.fixture
def admin(db: None) -> User:
    cert = Organisation.objects.create(name="National CERT", kind="national_cert")
    user = constituency.create_user(
        None, username="root", email="root@cert.example", password=PASSWORD
    )
    constituency.add_membership(None, user, cert, "platform_admin")
    return user


ROLE_MAP = {"moe-staff": "reporter", "moe-security": "org_admin"}


@pytest.fixture
def oidc_idp(
    agency: Organisation, admin: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[OidcProvider, IdentityProvider]]:
    with OidcProvider(tmp_path, oidc.redirect_uri("moe"), CLIENT_ID, CLIENT_SECRET) as idp:
        # The platform (Authlib, requests) and the test's "browser" trust the IdP's
        # certificate the way a deployment trusts its CA bundle.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(idp.ca_file))
        provider = services.create_provider(
            admin,
            organisation=agency,
            slug="moe",
            name="MOE Entra",
            protocol="oidc",
            issuer=idp.issuer,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            role_claim="groups",
            role_map=ROLE_MAP,
            organisation_claim="org",
            organisation_values=["MOE"],
        )
        yield idp, provider  # type: ignore[misc]


def oidc_sign_in(idp: OidcProvider, who: str, client: Client | None = None) -> Any:
    """The browser's trip: platform -> IdP -> platform callback."""
    client = client or Client()
    idp.signed_in = who
    start = client.get("/sso/moe/")
    assert start.status_code == 302, start.content
    assert start["Location"].startswith(idp.base + "/authorize?")
    at_idp = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert at_idp.status_code == 303, at_idp.text
    back = urlsplit(at_idp.headers["Location"])
    response = client.get(f"{back.path}?{back.query}")
    response.client = client  # type: ignore[attr-defined]
    return response


def refusals() -> list[Any]:
    """What the audit log says about refused sign-ins (shown when a test fails)."""
    return list(AuditEntry.objects.filter(action="sso.login_refused").values_list("changes"))


def memberships(user: User) -> set[tuple[str, str]]:
    return {(m.organisation.name, m.role) for m in Membership.objects.filter(user=user)}


def test_oidc_first_sign_in_creates_user_with_mapped_role(oidc_idp: Any) -> None:
    idp, _provider = oidc_idp
    idp.users["ana"] = {
        "sub": "ana-0001",
        "email": "Ana@moe.example",
        "given_name": "Ana",
        "groups": ["moe-staff", "unrelated"],
        "org": "MOE",
    }
    response = oidc_sign_in(idp, "ana")
    assert response.status_code == 302 and response["Location"] == "/", refusals()
    user = User.objects.get(external_identities__subject="ana-0001")
    assert user.email == "ana@moe.example" and not user.has_usable_password()
    assert memberships(user) == {("Ministry of Examples", "reporter")}
    identity = ExternalIdentity.objects.get(user=user)
    assert identity.issuer == idp.issuer
    # The session is the new user's: the home page answers, not the sign-in page.
    home = response.client.get("/")
    assert home.status_code == 200 and "ana@moe.example" in home.content.decode()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"user.created", "membership.granted", "sso.login", "user.login"} <= actions


def test_oidc_second_sign_in_with_changed_groups_updates_role(oidc_idp: Any) -> None:
    idp, _provider = oidc_idp
    idp.users["ana"] = {"sub": "ana-0001", "email": "ana@moe.example", "groups": ["moe-staff"]}
    idp.users["ana"]["org"] = "MOE"
    assert oidc_sign_in(idp, "ana").status_code == 302
    user = User.objects.get(email="ana@moe.example")
    idp.users["ana"]["groups"] = ["moe-security"]
    response = oidc_sign_in(idp, "ana")
    assert response.status_code == 302
    assert memberships(user) == {("Ministry of Examples", "org_admin")}
    assert User.objects.filter(email="ana@moe.example").count() == 1
    revoked = AuditEntry.objects.get(action="membership.revoked")
    assert revoked.changes["role"] == "reporter" and revoked.changes["via"] == "sso:moe"
    # An organisation admin still owes the platform's own second factor.
    assert response.client.get("/organisations/")["Location"].startswith("/accounts/otp/")


def test_oidc_sign_in_from_unmapped_organisation_is_refused(oidc_idp: Any) -> None:
    idp, _provider = oidc_idp
    idp.users["eve"] = {
        "sub": "eve-0001",
        "email": "eve@other.example",
        "groups": ["moe-security"],
        "org": "OTHER-MINISTRY",
    }
    response = oidc_sign_in(idp, "eve")
    assert response.status_code == 403
    assert "not mapped" in response.content.decode()
    assert not User.objects.filter(email="eve@other.example").exists()
    entry = AuditEntry.objects.get(action="sso.login_refused")
    assert entry.changes["reason"] == "unmapped_organisation"
    assert entry.changes["subject"] == "eve-0001"
    assert response.client.get("/")["Location"].startswith("/accounts/login/")


def test_oidc_groups_mapping_to_no_role_are_refused(oidc_idp: Any) -> None:
    idp, _provider = oidc_idp
    idp.users["bob"] = {"sub": "b-1", "email": "bob@moe.example", "groups": ["x"], "org": "MOE"}
    response = oidc_sign_in(idp, "bob")
    assert response.status_code == 403 and "grant no role" in response.content.decode()
    assert not User.objects.filter(email="bob@moe.example").exists()
    assert AuditEntry.objects.get(action="sso.login_refused").changes["reason"] == "no_role"


def test_oidc_same_email_other_subject_does_not_sign_in_as_existing_user(
    oidc_idp: Any, admin: User
) -> None:
    idp, _provider = oidc_idp
    idp.users["mallory"] = {
        "sub": "mallory-0666",
        "email": "root@cert.example",  # the platform admin's address
        "groups": ["moe-security"],
        "org": "MOE",
    }
    response = oidc_sign_in(idp, "mallory")
    assert response.status_code == 403
    assert "matched on the identity provider" in response.content.decode()
    assert response.client.get("/")["Location"].startswith("/accounts/login/")
    assert not ExternalIdentity.objects.exists()
    assert memberships(admin) == {("National CERT", "platform_admin")}
    entry = AuditEntry.objects.get(action="sso.login_refused")
    assert entry.changes["reason"] == "email_taken"


def test_oidc_deactivated_user_and_unusable_email_are_refused(oidc_idp: Any) -> None:
    idp, _provider = oidc_idp
    idp.users["ana"] = {"sub": "a-1", "email": "a@moe.example", "groups": ["moe-staff"]}
    idp.users["ana"]["org"] = "MOE"
    assert oidc_sign_in(idp, "ana").status_code == 302
    User.objects.filter(email="a@moe.example").update(is_active=False)
    refused = oidc_sign_in(idp, "ana")
    assert refused.status_code == 403 and "deactivated" in refused.content.decode()
    idp.users["odd"] = {"sub": "o-1", "email": "not an address", "groups": ["moe-staff"]}
    idp.users["odd"]["org"] = "MOE"
    odd = oidc_sign_in(idp, "odd")
    assert odd.status_code == 403 and "cannot use" in odd.content.decode()
    assert {r[0]["reason"] for r in refusals()} == {"inactive_user", "bad_email"}


def test_sso_account_cannot_get_a_local_password_by_reset(
    oidc_idp: Any, admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    """Removing someone at the identity provider must lock them out: an account it
    created has no password, and the reset form does not offer one."""
    idp, _provider = oidc_idp
    idp.users["ana"] = {"sub": "a-1", "email": "a@moe.example", "groups": ["moe-staff"]}
    idp.users["ana"]["org"] = "MOE"
    assert oidc_sign_in(idp, "ana").status_code == 302
    with django_capture_on_commit_callbacks() as sso_mail:
        Client().post("/accounts/password-reset/", {"email": "a@moe.example"})
    with django_capture_on_commit_callbacks() as local_mail:
        Client().post("/accounts/password-reset/", {"email": admin.email})
    assert len(sso_mail) == 0 and len(local_mail) == 1
    denied = Client().post("/accounts/login/", {"username": "a@moe.example", "password": ""})
    assert denied.status_code == 200  # the form again, not a session


def test_only_the_cert_idp_grants_cert_roles_and_only_when_mapped(
    admin: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = Organisation.objects.get(kind="national_cert")
    with OidcProvider(tmp_path, oidc.redirect_uri("cert"), CLIENT_ID, CLIENT_SECRET) as idp:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(idp.ca_file))
        provider = services.create_provider(
            admin,
            organisation=cert,
            slug="cert",
            name="CERT IdP",
            protocol="oidc",
            issuer=idp.issuer,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            role_map={"soc": "analyst"},
        )
        client = Client()
        idp.signed_in = "kim"
        idp.users["kim"] = {"sub": "k-1", "email": "kim@cert.example", "groups": ["soc", "root"]}
        start = client.get("/sso/cert/")
        back = urlsplit(
            requests.get(start["Location"], allow_redirects=False, timeout=10).headers["Location"]
        )
        assert client.get(f"{back.path}?{back.query}").status_code == 302, refusals()
        kim = User.objects.get(email="kim@cert.example")
        assert memberships(kim) == {("National CERT", "analyst")}  # "root" maps to nothing
        assert viewer_of(kim).cert_staff and not viewer_of(kim).platform_admin
        # CERT staff owe the platform's own TOTP before anything else.
        assert client.get("/organisations/")["Location"].startswith("/accounts/otp/")
        assert provider.role_map == {"soc": "analyst"}


def test_oidc_callback_with_forged_state_is_refused(oidc_idp: Any) -> None:
    idp, _provider = oidc_idp
    idp.users["ana"] = {"sub": "a", "email": "a@moe.example", "groups": ["moe-staff"], "org": "MOE"}
    client = Client()
    idp.signed_in = "ana"
    start = client.get("/sso/moe/")
    at_idp = requests.get(start["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(at_idp.headers["Location"])
    # Another browser (no state in its session) presents the code: login CSRF.
    response = Client().get(f"{back.path}?{back.query}")
    assert response.status_code == 403
    assert not User.objects.filter(email="a@moe.example").exists()
    assert AuditEntry.objects.get(action="sso.login_refused").changes["reason"] == (
        "invalid_response"
    )


def test_unknown_sign_in_name_is_a_clear_404(db: None) -> None:
    response = Client().get("/sso/nobody-here/")
    assert response.status_code == 404
    assert "No single sign-on is configured" in response.content.decode()
    chooser = Client().get("/sso/", {"slug": "not a slug!"})
    assert chooser.status_code == 400


# --- SAML 2.0 ---------------------------------------------------------------------------


@pytest.fixture
def saml_idp(
    agency: Organisation, admin: User, tmp_path: Path
) -> Iterator[tuple[SamlIdentityProvider, IdentityProvider]]:
    with SamlIdentityProvider(tmp_path, saml.sp_metadata("moe-saml")) as idp:
        provider = services.create_provider(
            admin,
            organisation=agency,
            slug="moe-saml",
            name="MOE ADFS",
            protocol="saml",
            metadata_url=f"{idp.base}/metadata",
            email_claim="mail",
            role_claim="memberOf",
            role_map=ROLE_MAP,
            organisation_claim="o",
            organisation_values=["MOE"],
        )
        yield idp, provider  # type: ignore[misc]


def saml_sign_in(idp: SamlIdentityProvider, who: str, client: Client | None = None) -> Any:
    client = client or Client()
    idp.signed_in = who
    start = client.get("/sso/moe-saml/")
    assert start.status_code == 302, start.content
    assert start["Location"].startswith(idp.base + "/sso/redirect?SAMLRequest=")
    page = requests.get(start["Location"], timeout=10)
    assert page.status_code == 200, page.text
    action, fields = posted_form(page.text)
    assert action == saml.acs_url("moe-saml")
    response = client.post(urlsplit(action).path, fields)
    response.client = client  # type: ignore[attr-defined]
    response.posted = fields  # type: ignore[attr-defined]
    return response


def saml_user(subject: str, mail: str, groups: list[str], org: str = "MOE") -> dict[str, Any]:
    return {"subject": subject, "attributes": {"mail": [mail], "memberOf": groups, "o": [org]}}


def test_saml_first_and_second_sign_in_follow_the_groups(saml_idp: Any) -> None:
    idp, provider = saml_idp
    assert provider.issuer == idp.entity_id  # read from the fetched metadata
    idp.users["li"] = saml_user("li-persistent-42", "li@moe.example", ["moe-security"])
    first = saml_sign_in(idp, "li")
    assert first.status_code == 302 and first["Location"] == "/", refusals()
    user = User.objects.get(external_identities__subject="li-persistent-42")
    assert user.email == "li@moe.example"
    assert memberships(user) == {("Ministry of Examples", "org_admin")}
    assert viewer_of(user).administers(provider.organisation_id)

    idp.users["li"]["attributes"]["memberOf"] = ["moe-staff"]
    second = saml_sign_in(idp, "li")
    assert second.status_code == 302
    user = User.objects.get(pk=user.pk)
    assert memberships(user) == {("Ministry of Examples", "reporter")}
    assert AuditEntry.objects.filter(action="sso.login").count() == 2


def test_saml_response_cannot_be_replayed(saml_idp: Any) -> None:
    idp, _provider = saml_idp
    idp.users["li"] = saml_user("li-persistent-42", "li@moe.example", ["moe-staff"])
    first = saml_sign_in(idp, "li")
    assert first.status_code == 302
    replay = Client().post("/sso/moe-saml/saml/acs/", first.posted)
    assert replay.status_code == 403
    assert AuditEntry.objects.get(action="sso.login_refused").changes["reason"] == (
        "invalid_response"
    )


def test_saml_unmapped_organisation_is_refused(saml_idp: Any) -> None:
    idp, _provider = saml_idp
    idp.users["x"] = saml_user("x-1", "x@elsewhere.example", ["moe-security"], org="ELSEWHERE")
    response = saml_sign_in(idp, "x")
    assert response.status_code == 403 and "not mapped" in response.content.decode()
    assert not User.objects.filter(email="x@elsewhere.example").exists()
    entry = AuditEntry.objects.get(action="sso.login_refused")
    assert entry.changes["reason"] == "unmapped_organisation"


def test_saml_same_email_other_subject_is_refused(saml_idp: Any, admin: User) -> None:
    idp, _provider = saml_idp
    idp.users["li"] = saml_user("li-persistent-42", "li@moe.example", ["moe-staff"])
    assert saml_sign_in(idp, "li").status_code == 302
    # A second person at the IdP with the same address is not Li.
    idp.users["imposter"] = saml_user("someone-else-7", "li@moe.example", ["moe-security"])
    response = saml_sign_in(idp, "imposter")
    assert response.status_code == 403
    assert response.client.get("/")["Location"].startswith("/accounts/login/")
    li = User.objects.get(email="li@moe.example")
    assert memberships(li) == {("Ministry of Examples", "reporter")}
    assert ExternalIdentity.objects.count() == 1


def test_saml_tampered_response_is_refused(saml_idp: Any) -> None:
    import base64

    idp, _provider = saml_idp
    idp.users["li"] = saml_user("li-persistent-42", "li@moe.example", ["moe-staff"])
    client = Client()
    idp.signed_in = "li"
    start = client.get("/sso/moe-saml/")
    _action, fields = posted_form(requests.get(start["Location"], timeout=10).text)
    xml = base64.b64decode(fields["SAMLResponse"]).decode()
    assert "moe-staff" in xml
    fields["SAMLResponse"] = base64.b64encode(
        xml.replace("moe-staff", "moe-security").encode()
    ).decode()
    response = client.post("/sso/moe-saml/saml/acs/", fields)
    assert response.status_code == 403
    assert not User.objects.filter(email="li@moe.example").exists()


def test_saml_unsigned_answer_is_refused_and_either_signature_is_enough(saml_idp: Any) -> None:
    idp, _provider = saml_idp
    idp.users["li"] = saml_user("li-persistent-42", "li@moe.example", ["moe-staff"])
    idp.sign_assertion = idp.sign_response = False
    unsigned = saml_sign_in(idp, "li")
    assert unsigned.status_code == 403
    assert not User.objects.filter(email="li@moe.example").exists()
    assert "signed" in refusals()[0][0]["detail"].lower(), refusals()
    idp.sign_response = True  # Keycloak's default: the response, not the assertion
    assert saml_sign_in(idp, "li").status_code == 302, refusals()
    idp.sign_response, idp.sign_assertion = False, True  # ADFS's and Entra's default
    assert saml_sign_in(idp, "li").status_code == 302, refusals()


def test_saml_metadata_page_describes_our_service_provider(saml_idp: Any) -> None:
    response = Client().get("/sso/moe-saml/saml/metadata/")
    assert response.status_code == 200
    body = response.content.decode()
    assert saml.acs_url("moe-saml") in body and "SPSSODescriptor" in body


# --- Break-glass --------------------------------------------------------------------------


def test_break_glass_admin_signs_in_with_password_and_totp_while_sso_is_on(
    oidc_idp: Any, admin: User
) -> None:
    """Single sign-on is configured, yet the local admin's password + TOTP still work,
    and the admin's account is not reachable through the provider."""
    _idp, _provider = oidc_idp
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    client = Client()
    response = client.post("/accounts/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/organisations/")["Location"].startswith("/accounts/otp/")
    verified = client.post("/accounts/otp/", {"token": totp_code(device)})
    assert verified.status_code == 302
    assert client.get("/sso/providers/").status_code == 200
    assert admin.has_usable_password() and not ExternalIdentity.objects.filter(user=admin)
