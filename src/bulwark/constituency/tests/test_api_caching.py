"""The constituency's version stamp and what is kept under it (viewers, API answers):
kept answers are served again only to the same viewer, and never after the constituency
changed, however it changed (services, bulk writes, raw SQL), and a rolled-back change
never leaves its stamp to a later one."""

from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bulwark.conftest import bearer
from bulwark.constituency import services
from bulwark.constituency.access import current_stamp
from bulwark.constituency.models import (
    VERSIONED_TABLES,
    ApiToken,
    Membership,
    NetworkClaim,
    Organisation,
    Sector,
    User,
)
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory


def get(headers: dict[str, str], path: str) -> tuple[int, Any, int]:
    """Status, JSON body and the number of SQL queries the request ran."""
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(path, HTTP_ACCEPT="application/json", **headers)
    return response.status_code, response.json(), len(queries.captured_queries)


@pytest.fixture
def agency(cert: Organisation) -> Organisation:
    return OrganisationFactory(name="Agency A", kind="government_agency")


@pytest.fixture
def officer(agency: Organisation) -> User:
    user = UserFactory(username="officer-a")
    services.add_membership(None, user, agency, "org_admin")
    return user


def test_every_versioned_table_changes_the_stamp_however_it_is_written(
    agency: Organisation, officer: User
) -> None:
    seen = {current_stamp()}

    def changed() -> bool:
        stamp = current_stamp()
        new = stamp not in seen
        seen.add(stamp)
        return new

    Organisation.objects.filter(pk=agency.pk).update(notes="bulk update")
    assert changed()
    NetworkClaim.objects.bulk_create(
        [NetworkClaim(organisation=agency, kind="cidr", value="192.0.2.0/24")]
    )
    assert changed()
    Sector.objects.create(code="space", name="Space")
    assert changed()
    User.objects.filter(pk=officer.pk).update(first_name="Renamed")
    assert changed()
    Membership.objects.filter(user=officer).delete()
    assert changed()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE constituency_organisation SET notes = 'raw' WHERE id = %s", [agency.pk]
        )
    assert changed()
    # A token's use is recorded without touching the constituency: kept answers survive it.
    ApiToken.objects.update(name="renamed")
    assert not changed()
    assert set(VERSIONED_TABLES) == {
        m._meta.db_table for m in (Organisation, Sector, NetworkClaim, User, Membership)
    }


def test_a_rolled_back_change_never_lends_its_stamp(agency: Organisation) -> None:
    before = current_stamp()
    with pytest.raises(RuntimeError), transaction.atomic():
        Organisation.objects.filter(pk=agency.pk).update(notes="never committed")
        inside = current_stamp()
        raise RuntimeError
    assert current_stamp() == before and inside != before
    Organisation.objects.filter(pk=agency.pk).update(notes="committed")
    assert current_stamp() not in (before, inside)


def test_a_kept_answer_is_served_again_without_reading_the_constituency(
    platform_admin: User, agency: Organisation
) -> None:
    headers = bearer(platform_admin, ["constituency:read"])
    status, first, queries_first = get(headers, "/api/v1/organisations/?limit=50")
    status_again, again, queries_again = get(headers, "/api/v1/organisations/?limit=50")
    assert status == status_again == 200 and first == again
    assert {o["name"] for o in again["results"]} == {"National CERT", "Agency A"}
    # Only the token (with the stamp) is read; the count, the page and the viewer are kept.
    assert queries_again == 1 < queries_first


def test_a_change_is_seen_at_once_by_every_reader(
    platform_admin: User, officer: User, agency: Organisation
) -> None:
    admin, agency_admin = bearer(platform_admin), bearer(officer)
    path = "/api/v1/networks/"
    for headers in (admin, agency_admin):
        assert get(headers, path)[1]["count"] == 0
    services.add_network(platform_admin, agency, "cidr", "192.0.2.0/24")
    for headers in (admin, agency_admin):
        assert [n["value"] for n in get(headers, path)[1]["results"]] == ["192.0.2.0/24"]
    # Written behind the services' back (a shell, a bulk import): seen at once too.
    NetworkClaim.objects.filter(organisation=agency).update(value="198.51.100.0/24")
    assert [n["value"] for n in get(agency_admin, path)[1]["results"]] == ["198.51.100.0/24"]


def test_an_answer_kept_for_one_viewer_is_never_served_to_another(
    platform_admin: User, officer: User, cert: Organisation, agency: Organisation
) -> None:
    other = OrganisationFactory(name="Agency B", kind="government_agency")
    services.add_network(None, other, "cidr", "203.0.113.0/24")
    path = "/api/v1/organisations/?limit=50"
    everyone = get(bearer(platform_admin), path)[1]
    assert {o["name"] for o in everyone["results"]} == {"National CERT", "Agency A", "Agency B"}
    own = get(bearer(officer), path)[1]
    assert {o["name"] for o in own["results"]} == {"Agency A"}
    resolve = "/api/v1/networks/resolve/?ip=203.0.113.9"
    assert get(bearer(platform_admin), resolve)[1]["organisations"] == [other.pk]
    assert get(bearer(officer), resolve)[0] == 404


def test_a_lost_membership_takes_effect_on_the_next_request(
    platform_admin: User, officer: User, agency: Organisation
) -> None:
    headers = bearer(officer, ["constituency:read", "constituency:write"])
    path = f"/api/v1/organisations/{agency.pk}/"
    assert get(headers, path)[0] == 200
    assert get(headers, path)[0] == 200  # kept
    services.remove_membership(platform_admin, Membership.objects.get(user=officer))
    status, _body, _queries = get(headers, path)
    # The kept viewer and answer are gone with the stamp: the token no longer reaches the
    # organisation.
    assert status == 404


def test_a_revoked_token_is_refused_although_its_answer_is_kept(officer: User) -> None:
    token, secret = services.create_api_token(
        None, officer, name="t", scopes=["constituency:read"], days=1
    )
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert get(headers, "/api/v1/users/")[0] == 200
    assert get(headers, "/api/v1/users/")[0] == 200
    services.revoke_api_token(officer, token)
    status, body, _queries = get(headers, "/api/v1/users/")
    assert status == 401 and body["detail"] == "This token has been revoked."
    fresh = bearer(officer, ["constituency:read"])
    assert get(fresh, "/api/v1/users/")[0] == 200
    User.objects.filter(pk=officer.pk).update(is_active=False)
    assert get(fresh, "/api/v1/users/")[0] == 401


def test_sessions_and_other_formats_are_never_served_a_kept_answer(
    platform_admin: User, admin_client: Client
) -> None:
    headers = bearer(platform_admin)
    get(headers, "/api/v1/sectors/")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/api/v1/sectors/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and len(queries.captured_queries) > 1
    html = Client().get("/api/v1/sectors/", HTTP_ACCEPT="text/html", **headers)
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
