"""The organisation list page and `GET /api/v1/organisations/` filter through one selector
(constituency/selectors.py): the same search, kind and country give the same rows."""

import pytest
from django.test import Client
from django.urls import reverse

from bulwark.conftest import bearer
from bulwark.constituency.models import Organisation, User
from bulwark.constituency.tests.factories import OrganisationFactory


@pytest.fixture
def orgs(cert: Organisation) -> None:
    OrganisationFactory(name="Water Board", short_name="WB", country="TW")
    OrganisationFactory(name="Harbour Authority", short_name="WATERWAYS", country="JP")
    OrganisationFactory(name="Rail Office", short_name="RO", kind="authority", country="TW")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=water", {"Water Board", "Harbour Authority"}),  # name or short name
        ("q=water&country=tw", {"Water Board"}),  # the country in either case
        ("kind=authority", {"Rail Office"}),
        ("country=JP", {"Harbour Authority"}),
    ],
)
def test_page_and_api_filter_alike(
    orgs: None, admin_client: Client, platform_admin: User, query: str, expected: set[str]
) -> None:
    page = admin_client.get(reverse("organisation-list") + "?" + query)
    assert {o.name for o in page.context["page"].object_list} == expected
    api = Client(**bearer(platform_admin))
    body = api.get("/api/v1/organisations/?" + query).json()
    assert {o["name"] for o in body["results"]} == expected
