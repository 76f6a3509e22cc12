"""Every form and endpoint rejects bad values with a field-level message; nothing 500s."""

import json
from typing import Any

import pytest
from django.test import Client

from bulwark.conftest import bearer
from bulwark.constituency import networks, services
from bulwark.constituency.models import NetworkClaim, Organisation, User

PGP = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGVzZXJ0\n-----END PGP PUBLIC KEY BLOCK-----\n"


@pytest.fixture
def agency(platform_admin: User, cert: Organisation) -> Organisation:
    return services.create_organisation(
        platform_admin, name="Agency", kind="government_agency", country="TW", parent=cert
    )


@pytest.fixture
def api(platform_admin: User) -> Client:
    client = Client()
    client.defaults.update(bearer(platform_admin))
    return client


def post_json(client: Client, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("kind", "value", "field_message"),
    [
        ("cidr", "10.0.0.1/8", "host bits"),
        ("cidr", "999.0.0.0/8", "not a valid"),
        ("cidr", "<script>alert(1)</script>", "not a valid"),
        ("asn", "AS99999999999", "not an AS number"),
        ("asn", "AS0", "reserved"),
        ("domain", "bad domain.tw", "not a valid domain"),
        ("domain", "x" * 300, "253"),
        ("bogus", "192.0.2.0/24", "choice"),
    ],
)
def test_invalid_network_claims(
    api: Client,
    admin_client: Client,
    agency: Organisation,
    kind: str,
    value: str,
    field_message: str,
) -> None:
    response = post_json(
        api, "/api/v1/networks/", {"organisation": agency.pk, "kind": kind, "value": value}
    )
    assert response.status_code == 400
    body = response.json()
    field = "kind" if kind == "bogus" else "value"
    assert any(field_message in m for m in body[field]), body
    page = admin_client.post(
        f"/organisations/{agency.pk}/networks/", {"kind": kind, "value": value}
    )
    assert page.status_code == 400
    assert page.context["network_form"].errors[field]
    assert not NetworkClaim.objects.filter(organisation=agency).exists()


def test_duplicate_claim_is_refused(api: Client, agency: Organisation) -> None:
    body = {"organisation": agency.pk, "kind": "cidr", "value": "192.0.2.0/24"}
    assert post_json(api, "/api/v1/networks/", body).status_code == 201
    again = post_json(api, "/api/v1/networks/", {**body, "value": " 192.0.2.0/24 "})
    assert again.status_code == 400, again.json()
    assert "already claims" in again.json()["value"][0], again.json()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"country": "XX"}, "country", "ISO 3166"),
        ({"country": "Taiwan"}, "country", "2 characters"),
        ({"kind": "pirate"}, "kind", "not a valid choice"),
        ({"name": ""}, "name", "blank"),
        ({"name": "n" * 201}, "name", "200 characters"),
        ({"sector": "nope"}, "sector", "does not exist"),
        ({"parent": 999999}, "parent", "does not exist"),
        ({"notes": "x" * 5001}, "notes", "5000 characters"),
    ],
)
def test_invalid_organisations(
    api: Client, admin_client: Client, body: dict, field: str, message: str
) -> None:
    data = {"name": "Valid", "kind": "government_agency", "country": "TW", **body}
    response = post_json(api, "/api/v1/organisations/", data)
    assert response.status_code == 400
    assert any(message in m for m in response.json()[field]), response.json()
    if field != "sector":  # the web form offers sectors as a list, by id
        page = admin_client.post("/organisations/new/", data)
        assert page.status_code == 200 and page.context["form"].errors[field]
    assert not Organisation.objects.filter(name="Valid").exists()


def test_hierarchy_rules(api: Client, agency: Organisation, cert: Organisation) -> None:
    # An agency cannot supervise; an organisation cannot be its own ancestor.
    response = post_json(
        api,
        "/api/v1/organisations/",
        {"name": "Child", "kind": "government_agency", "country": "TW", "parent": agency.pk},
    )
    assert response.status_code == 400 and "authority" in response.json()["parent"][0]
    authority = Organisation.objects.create(
        name="Auth", kind="authority", country="TW", parent=cert
    )
    loop = api.patch(
        f"/api/v1/organisations/{cert.pk}/",
        json.dumps({"parent": authority.pk}),
        content_type="application/json",
    )
    assert loop.status_code == 400 and "loop" in loop.json()["parent"][0]


def test_duplicate_organisation_name(api: Client, agency: Organisation) -> None:
    response = post_json(
        api, "/api/v1/organisations/", {"name": "Agency", "kind": "isac", "country": "TW"}
    )
    assert response.status_code == 400 and "already exists" in response.json()["name"][0]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"email": "", "phone": ""}, "non_field_errors", "e-mail address or a phone"),
        ({"phone": "call me maybe"}, "phone", "phone number"),
        ({"pgp_key": "ssh-rsa AAAA"}, "pgp_key", "OpenPGP"),
        ({"purpose": "gossip"}, "purpose", "not a valid choice"),
    ],
)
def test_invalid_contacts(
    api: Client, admin_client: Client, agency: Organisation, body: dict, field: str, message: str
) -> None:
    data = {"organisation": agency.pk, "purpose": "security", "email": "soc@agency.example", **body}
    response = post_json(api, "/api/v1/contacts/", data)
    assert response.status_code == 400
    assert any(message in m for m in response.json()[field]), response.json()
    page = admin_client.post(
        f"/organisations/{agency.pk}/contacts/",
        {k: v for k, v in data.items() if k != "organisation"},
    )
    assert page.status_code == 400
    assert agency.contacts.count() == 0


def test_valid_contact_with_pgp_key(api: Client, agency: Organisation) -> None:
    data = {
        "organisation": agency.pk,
        "purpose": "security",
        "email": "soc@agency.example",
        "phone": "+886 2 2737 7111 ext 123",
        "pgp_key": PGP,
    }
    assert post_json(api, "/api/v1/contacts/", data).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": "ghost"}, "user"),
        ({"role": "emperor"}, "role"),
        ({"organisation": 424242}, "organisation"),
    ],
)
def test_invalid_memberships(
    api: Client, agency: Organisation, platform_admin: User, body: dict, field: str
) -> None:
    data = {"user": platform_admin.username, "organisation": agency.pk, "role": "reporter", **body}
    response = post_json(api, "/api/v1/memberships/", data)
    assert response.status_code == 400 and field in response.json()


def test_cert_roles_only_at_the_cert(
    api: Client, agency: Organisation, platform_admin: User
) -> None:
    data = {"user": platform_admin.username, "organisation": agency.pk, "role": "analyst"}
    response = post_json(api, "/api/v1/memberships/", data)
    assert response.status_code == 400 and "national CERT" in response.json()["role"][0]


def test_invalid_users(api: Client) -> None:
    response = post_json(api, "/api/v1/users/", {"username": "a b", "email": "nope"})
    assert response.status_code == 400
    assert set(response.json()) >= {"username", "email"}


@pytest.mark.parametrize(
    "path", ["/api/v1/organisations/", "/api/v1/networks/", "/api/v1/contacts/"]
)
def test_oversized_bodies_are_refused(api: Client, path: str) -> None:
    huge = json.dumps({"name": "x" * (3 * 1024 * 1024)})
    response = api.post(path, huge, content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        "[]",
        '"string"',
        "null",
        '{"name": {"$gt": ""}}',
        "\x00\x01\x02",
        '{"name": "' + "\ud800" + '"}',
    ],
)
def test_broken_json_gets_400(api: Client, raw: str) -> None:
    response = api.post(
        "/api/v1/organisations/",
        raw.encode("utf-8", "surrogatepass"),
        content_type="application/json",
    )
    assert response.status_code == 400


def test_wrong_content_type_gets_415(api: Client) -> None:
    response = api.post("/api/v1/organisations/", b"<xml/>", content_type="application/xml")
    assert response.status_code == 415


@pytest.mark.parametrize(
    "query",
    [
        "ip=not-an-ip",
        "domain=exa mple",
        "asn=ASX",
        "",
        "ip=1.2.3.4&domain=x.tw",
        "ip=" + "9" * 5000,
    ],
)
def test_resolve_rejects_bad_queries(api: Client, query: str) -> None:
    response = api.get(f"/api/v1/networks/resolve/?{query}")
    assert response.status_code == 400


def test_resolve_finds_the_most_specific_owner(
    api: Client, agency: Organisation, cert: Organisation, platform_admin: User
) -> None:
    services.add_network(platform_admin, cert, "cidr", "198.18.0.0/15")
    services.add_network(platform_admin, agency, "cidr", "198.18.4.0/22")
    body = api.get("/api/v1/networks/resolve/?ip=198.18.5.1").json()
    assert body["organisations"] == [agency.pk] and body["claim"] == "198.18.4.0/22"
    assert api.get("/api/v1/networks/resolve/?ip=192.0.2.1").status_code == 404


def test_resolve_reads_only_the_claims_that_could_cover_the_query(
    api: Client, agency: Organisation, cert: Organisation, platform_admin: User
) -> None:
    """Each resolve used to load every visible claim of the kind and index them (its cost
    grew with the constituency: tens of ms per call at a few thousand claims)."""
    NetworkClaim.objects.bulk_create(
        NetworkClaim(organisation=agency, kind="cidr", value=f"10.{i // 256}.{i % 256}.0/24")
        for i in range(3000)
    )
    NetworkClaim.objects.bulk_create(
        NetworkClaim(organisation=agency, kind="domain", value=f"d{i}.gov.tw") for i in range(500)
    )
    services.add_network(platform_admin, cert, "cidr", "10.0.0.0/8")
    services.add_network(platform_admin, cert, "domain", "gov.tw")
    built: list[int] = []
    real = networks.NetworkIndex

    def counting(claims: Any) -> networks.NetworkIndex:
        claims = list(claims)
        built.append(len(claims))
        return real(claims)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(networks, "NetworkIndex", counting)
        by_ip = api.get("/api/v1/networks/resolve/?ip=10.3.7.200").json()
        outside = api.get("/api/v1/networks/resolve/?ip=10.200.0.1").json()
        by_domain = api.get("/api/v1/networks/resolve/?domain=www.d42.gov.tw").json()
    assert by_ip["claim"] == "10.3.7.0/24" and by_ip["organisations"] == [agency.pk]
    assert outside["claim"] == "10.0.0.0/8" and outside["organisations"] == [cert.pk]
    assert by_domain["claim"] == "d42.gov.tw" and by_domain["organisations"] == [agency.pk]
    assert built == [2, 1, 2]


@pytest.mark.parametrize(
    "path",
    [
        "/organisations/?page=abc",
        "/organisations/?sector=zzz",
        "/organisations/?kind=<b>",
        "/users/?q=%00",
        "/audit/?since=notadate&organisation=x",
    ],
)
def test_web_filters_tolerate_garbage(admin_client: Client, path: str) -> None:
    expected = 400 if "%00" in path else 200
    assert admin_client.get(path).status_code == expected
