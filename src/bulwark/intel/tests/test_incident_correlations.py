"""The incident page lists what else carries the incident's values (shared indicators,
sightings, other incidents), as far as the viewer may see, in a bounded number of queries."""

from datetime import UTC, datetime

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bulwark.conftest import sign_in
from bulwark.constituency.models import User
from bulwark.core.tlp import TLP
from bulwark.incidents.models import Incident
from bulwark.intel import access, selectors, services
from bulwark.intel.tests.conftest import Community, indicator, member
from bulwark.intel.tests.test_api import report

DOMAIN = "c2.shared.example"


def _page(user: User, incident: Incident) -> str:
    r = sign_in(Client(), user).get(f"/incidents/{incident.pk}/")
    assert r.status_code == 200
    return r.content.decode()


def _setup(c: Community) -> tuple[Incident, Incident]:
    ours = report(member(c.client, "client-reporter", "reporter"), c.client,
                  [("domain", DOMAIN), ("ipv4", "192.0.2.31")])  # fmt: skip
    theirs = report(member(c.other, "other-reporter", "reporter"), c.other, [("domain", DOMAIN)])
    shared = indicator(DOMAIN, path="domain-name:value", tlp=TLP.GREEN)
    services.ingest_objects(c.sharer, c.community, [shared], raw="")
    now = datetime.now(UTC)
    services.record_sighting(DOMAIN, c.client, 1, now, now, "dns", actor=None)
    return ours, theirs


def test_the_cert_sees_every_correlation_an_unrelated_member_only_what_it_may(
    community: Community,
) -> None:
    c = community
    ours, theirs = _setup(c)

    page = _page(c.analyst, ours)
    row = _row(page, f"domain:{DOMAIN}")
    assert f'href="/intel/values/domain/{DOMAIN}"' in row
    assert theirs.reference in row and f'href="/incidents/{theirs.pk}/"' in row
    assert "<td>1</td><td>1</td>" in row  # one shared indicator, one sighting
    assert "ipv4:192.0.2.31" not in page  # nothing else carries it
    value_page = sign_in(Client(), c.analyst).get(f"/intel/values/domain/{DOMAIN}")
    assert value_page.status_code == 200 and theirs.reference in value_page.content.decode()

    # the authority above the client sees the incident, not the other member's incident;
    # the client's sighting is below it, so it is counted
    page = _page(c.sharer, ours)
    row = _row(page, f"domain:{DOMAIN}")
    assert theirs.reference not in row and "<td>1</td><td>1</td>" in row
    # the other member sees its own incident's correlation with the shared indicator,
    # neither our incident nor our sighting
    page = _page(c.other_user, theirs)
    row = _row(page, f"domain:{DOMAIN}")
    assert ours.reference not in row and "<td>1</td><td>0</td>" in row


def _row(page: str, key: str) -> str:
    start = page.index(f'data-value="{key}"')
    return page[start : page.index("</tr>", start)]


def test_a_value_only_another_incident_carries_links_to_a_value_page(
    community: Community,
) -> None:
    c = community
    ours = report(member(c.client, "client-reporter", "reporter"), c.client,
                  [("domain", "only-incidents.example")])  # fmt: skip
    theirs = report(member(c.other, "other-reporter", "reporter"), c.other,
                    [("domain", "only-incidents.example")])  # fmt: skip
    row = _row(_page(c.analyst, ours), "domain:only-incidents.example")
    assert theirs.reference in row
    r = sign_in(Client(), c.analyst).get("/intel/values/domain/only-incidents.example")
    assert r.status_code == 200 and ours.reference in r.content.decode()
    # someone who sees neither incident gets no page
    assert (
        sign_in(Client(), c.grouped_user)
        .get("/intel/values/domain/only-incidents.example")
        .status_code
        == 404
    )


def test_the_number_of_queries_does_not_grow_with_the_values(community: Community) -> None:
    c = community
    reporter = member(c.client, "client-reporter", "reporter")
    small = report(reporter, c.client, [("domain", "a0.example")])
    values = [("domain", f"a{n}.example") for n in range(30)]
    large = report(reporter, c.client, values)
    services.ingest_objects(
        c.sharer, c.community,
        [indicator(v, path="domain-name:value") for _k, v in values], raw="",
    )  # fmt: skip
    report(member(c.other, "other-reporter", "reporter"), c.other, values)

    def count(incident: Incident, user: User) -> tuple[int, int]:
        fresh = User.objects.get(pk=user.pk)  # nothing cached: the viewer is computed too
        access.forget_cached()
        with CaptureQueriesContext(connection) as queries:
            found = selectors.incident_correlations(fresh, incident)
        return len(queries), sum(link.shared for link in found)

    for user in (c.analyst, c.sharer):
        small_queries, small_shared = count(small, user)
        large_queries, large_shared = count(large, user)
        assert (small_shared, large_shared) == (1, 30)
        # the viewer's memberships and readable collections, then 5 queries for the values
        assert large_queries == small_queries <= 16
    # the whole page too
    client = sign_in(Client(), c.analyst)
    with CaptureQueriesContext(connection) as small_page:
        assert client.get(f"/incidents/{small.pk}/").status_code == 200
    with CaptureQueriesContext(connection) as large_page:
        assert client.get(f"/incidents/{large.pk}/").status_code == 200
    assert len(large_page) <= len(small_page) + 2
