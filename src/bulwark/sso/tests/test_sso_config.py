"""Configuring an organisation's identity provider: platform admins only, audited, the
secret never shown back, bad mappings refused with a message."""

from typing import Any

import pytest
from django.test import Client

from bulwark.conftest import sign_in
from bulwark.constituency import services as constituency
from bulwark.constituency.models import Organisation, User
from bulwark.core.models import AuditEntry
from bulwark.sso import mapping
from bulwark.sso.models import IdentityProvider

PASSWORD = "correct horse battery 9"
SECRET = "the-client-secret-never-shown"


@pytest.fixture
def orgs(db: None) -> dict[str, Organisation]:
    return {
        "cert": Organisation.objects.create(name="National CERT", kind="national_cert"),
        "agency": Organisation.objects.create(name="Agency", kind="government_agency"),
    }


@pytest.fixture
def admin(orgs: dict[str, Organisation]) -> User:
    user = constituency.create_user(None, username="root", email="r@c.example", password=PASSWORD)
    constituency.add_membership(None, user, orgs["cert"], "platform_admin")
    return user


@pytest.fixture
def agency_admin(orgs: dict[str, Organisation]) -> User:
    user = constituency.create_user(None, username="oa", email="oa@a.example", password=PASSWORD)
    constituency.add_membership(None, user, orgs["agency"], "org_admin")
    return user


def oidc_payload(org: Organisation, **extra: Any) -> dict[str, Any]:
    return {
        "organisation": org.pk,
        "slug": "agency",
        "name": "Agency IdP",
        "protocol": "oidc",
        "issuer": "https://idp.agency.example",
        "client_id": "bulwark",
        "client_secret": SECRET,
        "role_claim": "groups",
        "role_map": {"staff": "reporter", "admins": "org_admin"},
        **extra,
    }


def test_platform_admin_configures_a_provider_through_the_api(
    admin: User, orgs: dict[str, Organisation]
) -> None:
    client = sign_in(Client(), admin)
    response = client.post(
        "/api/v1/sso/providers/", oidc_payload(orgs["agency"]), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert "client_secret" not in body and SECRET not in response.content.decode()
    assert body["role_map"] == {"staff": "reporter", "admins": "org_admin"}
    listed = client.get("/api/v1/sso/providers/").json()
    assert SECRET not in str(listed) and listed["count"] == 1
    patch = client.patch(
        f"/api/v1/sso/providers/{body['id']}/",
        {"role_map": {"staff": "reporter"}, "client_secret": ""},
        content_type="application/json",
    )
    assert patch.status_code == 200, patch.content
    assert IdentityProvider.objects.get().client_secret == SECRET  # blank keeps it
    entries = AuditEntry.objects.filter(action__startswith="sso.provider_").order_by("seq")
    assert [e.action for e in entries] == ["sso.provider_created", "sso.provider_updated"]
    assert entries[0].changes["client_secret"] == "changed"
    assert SECRET not in str([e.changes for e in entries])


def test_agency_idp_may_not_grant_cert_roles(admin: User, orgs: dict[str, Organisation]) -> None:
    client = sign_in(Client(), admin)
    response = client.post(
        "/api/v1/sso/providers/",
        oidc_payload(orgs["agency"], role_map={"admins": "platform_admin"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "national CERT" in response.json()["role_map"][0]
    cert = client.post(
        "/api/v1/sso/providers/",
        oidc_payload(orgs["cert"], slug="cert", role_map={"soc": "analyst"}),
        content_type="application/json",
    )
    assert cert.status_code == 201, cert.content


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role_map": {"x": "emperor"}}, "role_map"),
        ({"role_map": {}}, "role_map"),
        ({"role_map": "reporter"}, "role_map"),
        ({"client_secret": ""}, "client_secret"),
        ({"protocol": "kerberos"}, "protocol"),
        ({"slug": "providers"}, "slug"),
        ({"organisation_claim": "org", "organisation_values": []}, "organisation_values"),
    ],
)
def test_bad_configuration_gets_400_naming_the_field(
    admin: User, orgs: dict[str, Organisation], change: dict[str, Any], field: str
) -> None:
    client = sign_in(Client(), admin)
    response = client.post(
        "/api/v1/sso/providers/",
        oidc_payload(orgs["agency"], **change),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not IdentityProvider.objects.exists()


def test_saml_metadata_that_is_not_metadata_gets_400(
    admin: User, orgs: dict[str, Organisation]
) -> None:
    client = sign_in(Client(), admin)
    for xml in ("<not-metadata/>", "<<<", ""):
        response = client.post(
            "/api/v1/sso/providers/",
            {
                **oidc_payload(orgs["agency"]),
                "protocol": "saml",
                "metadata_xml": xml,
                "metadata_url": "",
            },
            content_type="application/json",
        )
        assert response.status_code == 400, (xml, response.content)
        assert "metadata_xml" in response.json()


def test_others_cannot_see_or_configure_providers(
    admin: User, agency_admin: User, orgs: dict[str, Organisation]
) -> None:
    client = sign_in(Client(), admin)
    created = client.post(
        "/api/v1/sso/providers/", oidc_payload(orgs["agency"]), content_type="application/json"
    ).json()
    other = sign_in(Client(), agency_admin)
    assert other.get("/api/v1/sso/providers/").json()["count"] == 0
    assert other.get(f"/api/v1/sso/providers/{created['id']}/").status_code == 404
    attempt = other.post(
        "/api/v1/sso/providers/",
        oidc_payload(orgs["agency"], slug="mine"),
        content_type="application/json",
    )
    assert attempt.status_code == 403
    assert other.get("/sso/providers/").status_code == 403
    assert other.get(f"/sso/providers/{created['id']}/").status_code == 403
    assert IdentityProvider.objects.count() == 1


def test_configuration_pages(admin: User, orgs: dict[str, Organisation]) -> None:
    client = sign_in(Client(), admin)
    assert client.get("/sso/providers/new/").status_code == 200
    data = oidc_payload(orgs["agency"])
    data["role_map"] = '{"staff": "reporter"}'
    data["organisation_values"] = ""
    data["is_active"] = "on"
    data["email_claim"] = "email"
    response = client.post("/sso/providers/new/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    provider = IdentityProvider.objects.get()
    page = client.get(f"/sso/providers/{provider.pk}/").content.decode()
    assert "/sso/agency/oidc/callback/" in page and SECRET not in page
    listing = client.get("/sso/providers/").content.decode()
    assert "Agency IdP" in listing and "/sso/agency/" in listing
    bad = client.post(f"/sso/providers/{provider.pk}/", {**data, "role_map": '{"x": "king"}'})
    assert bad.status_code == 400 and "is not a role" in bad.content.decode()
    unparsable = client.post(f"/sso/providers/{provider.pk}/", {**data, "role_map": "{oops"})
    assert unparsable.status_code == 400


def test_login_page_links_to_single_sign_on(db: None) -> None:
    page = Client().get("/accounts/login/").content.decode()
    assert 'href="/sso/"' in page


# --- The mapping itself (pure) ------------------------------------------------------------


def test_decide_maps_groups_and_refuses_what_it_must() -> None:
    role_map = {"staff": "reporter", "soc": "analyst"}
    common: dict[str, Any] = {"role_claim": "groups", "role_map": role_map}
    claims = {"email": "a@b.example", "groups": ["staff", "soc"]}
    assert mapping.decide(claims, is_cert=True, **common).roles == {"reporter", "analyst"}
    # An agency provider never grants a CERT role, even if its mapping somehow had one.
    assert mapping.decide(claims, is_cert=False, **common).roles == {"reporter"}
    only_soc = {"email": "a@b.example", "groups": "soc"}
    assert mapping.decide(only_soc, is_cert=False, **common).refusal == "no_role"
    assert mapping.decide({"groups": ["staff"]}, is_cert=True, **common).refusal == "no_email"
    shared = mapping.decide(
        {**claims, "org": ["B"]},
        is_cert=True,
        organisation_claim="org",
        organisation_values=["A"],
        **common,
    )
    assert shared.refusal == "unmapped_organisation"
    # Odd claim shapes do not crash.
    assert mapping.claim_values({"g": {"a": 1}}, "g") == []
    assert mapping.claim_values({"g": [1, None, "x"]}, "g") == ["1", "x"]


def test_bulwark_check_names_what_single_sign_on_needs(
    admin: User, orgs: dict[str, Organisation], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    def sso_findings() -> str:
        try:
            call_command("check", "--deploy")
        except SystemCheckError as exc:
            return str(exc)
        return ""

    settings.SITE_URL = "http://bulwark.cert.example"
    assert "bulwark.E101" not in sso_findings()  # nothing configured yet
    IdentityProvider.objects.create(
        organisation=orgs["agency"], slug="a", name="A", protocol="saml", role_map={"s": "reporter"}
    )
    monkeypatch.setattr("bulwark.sso.checks.shutil.which", lambda name: None)
    text = sso_findings()
    assert "bulwark.E101" in text and "bulwark.E102" in text
    settings.SITE_URL = "https://bulwark.cert.example"
    monkeypatch.undo()
    text = sso_findings()
    assert "bulwark.E101" not in text and "bulwark.E102" not in text


def test_saml_metadata_without_xmlsec1_is_a_clear_503(
    orgs: dict[str, Organisation], monkeypatch: pytest.MonkeyPatch
) -> None:
    IdentityProvider.objects.create(
        organisation=orgs["agency"], slug="a", name="A", protocol="saml", role_map={"s": "reporter"}
    )
    assert Client().get("/sso/a/saml/metadata/").status_code == 200
    monkeypatch.setattr("bulwark.sso.saml.shutil.which", lambda name: None)
    response = Client().get("/sso/a/saml/metadata/")
    assert response.status_code == 503 and b"xmlsec1" in response.content
    assert Client().get("/sso/a/").status_code == 502  # the sign-in says so too
