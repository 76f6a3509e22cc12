"""Input that used to reach the database or the interpreter's limits and answer 500: huge,
negative, non-ASCII and non-numeric numbers, deeply nested JSON, NUL characters. Each now
answers 400 (or 404 for a path) with a message naming the problem."""

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from bulwark.conftest import bearer
from bulwark.constituency import services
from bulwark.constituency.models import Organisation, User

BIG = str(2**64)
# Digits to str.isdigit() (the second also to int()), but no id: superscript 1, Arabic-Indic 1.
SUPERSCRIPT_ONE, ARABIC_ONE = "\u00b9", "\u0661"
LISTS = [
    "/api/v1/organisations/",
    "/api/v1/networks/",
    "/api/v1/audit/",
    "/api/v1/incidents/",
    "/api/v1/intel/indicators/",
    "/api/v1/exchange/events/",
    "/api/v1/monitoring/alerts/",
    "/api/v1/advisories/",
]
EVERY_SCOPE = [
    "constituency:read", "constituency:write", "audit:read", "tokens:manage",
    "incidents:read", "incidents:write", "intel:read", "intel:write", "monitoring:read",
    "monitoring:write", "advisories:read", "advisories:write", "stats:read",
    "exchange:read", "exchange:write",
]  # fmt: skip


@pytest.fixture
def api(platform_admin: User) -> Client:
    client = Client()
    client.defaults.update(bearer(platform_admin, EVERY_SCOPE))
    return client


def post_raw(client: Client, path: str, body: bytes) -> Any:
    return client.post(path, body, content_type="application/json")


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", str(2**63)),
        ("limit", BIG),
        ("limit", "-1"),
        ("limit", "0"),
        ("limit", "ten"),
        ("limit", SUPERSCRIPT_ONE),
        ("limit", ARABIC_ONE),
        ("offset", str(2**63)),
        ("offset", "-5"),
        ("offset", "\u00b2"),
    ],
)
def test_bad_paging_is_400_naming_the_parameter(
    api: Client, path: str, param: str, value: str
) -> None:
    response = api.get(path, {param: value})
    assert response.status_code == 400, (path, response.content[:300])
    assert param in response.json()


def test_limits_in_range_still_page(api: Client, cert: Organisation) -> None:
    body = api.get("/api/v1/organisations/", {"limit": "1", "offset": "0"}).json()
    assert body["count"] == 1 and len(body["results"]) == 1
    assert api.get("/api/v1/organisations/", {"limit": "100000"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/organisations/", "parent"),
        ("/api/v1/networks/", "organisation"),
        ("/api/v1/audit/", "organisation"),
        ("/api/v1/incidents/", "organisation"),
        ("/api/v1/incidents/", "authority"),
        ("/api/v1/incidents/", "level"),
        ("/api/v1/incidents/stats/", "organisation"),
        ("/api/v1/exchange/events/", "recipient"),
        ("/api/v1/exchange/events/", "report"),
    ],
)
@pytest.mark.parametrize("value", [BIG, str(2**63), SUPERSCRIPT_ONE, ARABIC_ONE, "-3", "x"])
def test_bad_id_filters_are_400_naming_the_parameter(
    api: Client, path: str, param: str, value: str
) -> None:
    response = api.get(path, {param: value})
    assert response.status_code == 400, (path, param, value, response.content[:300])
    body = response.json()
    assert param in body or param in str(body.get("detail", "")), body


def test_id_filters_still_filter(api: Client, cert: Organisation, platform_admin: User) -> None:
    child = services.create_organisation(
        platform_admin, name="Agency", kind="government_agency", country="TW", parent=cert
    )
    body = api.get("/api/v1/organisations/", {"parent": str(cert.pk)}).json()
    assert [o["id"] for o in body["results"]] == [child.pk]


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/organisations/{BIG}/",
        f"/api/v1/organisations/{SUPERSCRIPT_ONE}/",
        f"/api/v1/organisations/{ARABIC_ONE}/",
        f"/api/v1/incidents/{BIG}/",
        f"/api/v1/audit/{BIG}/",
        f"/api/v1/intel/indicators/{BIG}/",
        f"/organisations/{BIG}/",
        f"/incidents/{BIG}/",
        "/api/v1/organisations/%00/",
    ],
)
def test_ids_no_row_can_have_are_404_or_400(api: Client, admin_client: Client, path: str) -> None:
    client = admin_client if not path.startswith("/api/") else api
    assert client.get(path).status_code in (400, 404)


def test_organisation_reference_beyond_64_bits_is_400(api: Client) -> None:
    body = {"name": "Child", "kind": "government_agency", "country": "TW", "parent": 2**64}
    response = post_raw(api, "/api/v1/organisations/", json.dumps(body).encode())
    assert response.status_code == 400 and "parent" in response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/organisations/",
        "/api/v1/incidents/",
        "/api/v1/intel/submissions/",
        "/api/v1/intel/sightings/",
        "/api/v1/tokens/",
    ],
)
@pytest.mark.parametrize("depth", [100_000, 101])
def test_deeply_nested_json_is_400(api: Client, path: str, depth: int) -> None:
    body = ("[" * depth + "]" * depth).encode()
    response = post_raw(api, path, body)
    assert response.status_code == 400, response.content[:300]
    detail = response.json()["detail"]
    assert "depth" in detail or "nested deeper" in detail, detail


def test_nesting_a_document_needs_is_accepted(api: Client, cert: Organisation) -> None:
    body = {"name": "Nested", "kind": "government_agency", "country": "TW", "parent": cert.pk}
    nested: Any = body
    for _ in range(20):
        nested = {"x": nested}
    # Unknown keys are ignored by the serializer; the point is that the parser takes it.
    response = post_raw(api, "/api/v1/organisations/", json.dumps(body).encode())
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/organisations/", {"name": "A\x00B", "kind": "isac", "country": "TW"}),
        ("/api/v1/incidents/", {"title": "x", "indicators": [{"value": "1.2.3.4\x00"}]}),
        ("/api/v1/intel/submissions/", {"format": "plain", "content": "198.51.100.7\x00"}),
        ("/api/v1/intel/submissions/", {"format": "stix", "content": {"k\x00": 1}}),
    ],
)
def test_nul_characters_in_json_are_400(api: Client, path: str, body: Any) -> None:
    response = post_raw(api, path, json.dumps(body).encode())
    assert response.status_code == 400, response.content[:300]
    assert "NUL" in json.dumps(response.json()), response.json()


def test_nul_characters_in_a_path_are_400(api: Client) -> None:
    assert api.get("/api/v1/stats/%00/").status_code == 400


@pytest.mark.parametrize("multipart", [False, True])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/memberships/", {"user": "ro\x00ot", "organisation": "1", "role": "reporter"}),
        ("/api/v1/advisories/", {"title": "t", "target_sectors": "fin\x00ance"}),
        ("/api/v1/organisations/", {"na\x00me": "x", "kind": "isac", "country": "TW"}),
    ],
)
def test_nul_characters_in_forms_are_400(
    api: Client, path: str, body: dict[str, str], multipart: bool
) -> None:
    """The schemathesis run found these on PostgreSQL: a NUL in a form value that a
    serializer looks up by name (a username, a sector code) reached the database."""
    if multipart:
        response = api.post(path, body)
    else:
        encoded = "&".join(f"{quote(k)}={quote(v)}" for k, v in body.items())
        response = api.post(path, encoded, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400, response.content[:300]
    assert "NUL" in json.dumps(response.json()), response.json()
