"""Machine-reported sightings in bulk (the monitoring centre's hits) leave the same rows
and counters as recording them one by one, and one audit entry."""

from datetime import UTC, datetime, timedelta

import pytest

from bulwark.constituency.tests.factories import OrganisationFactory
from bulwark.core.models import AuditEntry
from bulwark.intel import services
from bulwark.intel.models import Sighting, Value
from bulwark.intel.services import SeenValue

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def state() -> dict[str, tuple[int, datetime | None]]:
    return {v.value: (v.sighting_count, v.last_sighted_at) for v in Value.objects.all()}


@pytest.mark.django_db
def test_bulk_sightings_equal_one_by_one() -> None:
    org = OrganisationFactory()
    seen = [
        SeenValue("domain", "Evil.Example", 3, T0, T0 + timedelta(minutes=5)),
        SeenValue("domain", "evil.example", 2, T0 + timedelta(hours=1), T0 + timedelta(hours=1)),
        SeenValue("ipv4", "198.51.100.7", 1, T0, T0),
        SeenValue("ipv4", "999.1.1.1", 1, T0, T0),  # does not normalise: left out
        SeenValue("domain", "late.example", 1, T0 + timedelta(hours=2), T0),  # last < first
    ]
    before = AuditEntry.objects.count()
    assert services.record_sightings(org, seen, "monitor:dns.log") == 3
    bulk = state()
    assert AuditEntry.objects.count() == before + 1
    assert Sighting.objects.filter(organisation=org).count() == 3
    assert bulk == {
        "evil.example": (5, T0 + timedelta(hours=1)),
        "198.51.100.7": (1, T0),
    }

    # the same sightings one by one, on a fresh store
    Sighting.objects.all().delete()
    Value.objects.all().delete()
    for item in seen[:3]:
        services.record_sighting(
            item.value, org, item.count, item.first_seen, item.last_seen, "monitor:dns.log",
            kind=item.kind,
        )  # fmt: skip
    assert state() == bulk
    # an older sighting never moves last_sighted_at back
    services.record_sightings(org, [SeenValue("domain", "evil.example", 1, T0, T0)], "x")
    assert state()["evil.example"] == (6, T0 + timedelta(hours=1))


@pytest.mark.django_db
def test_bulk_sightings_with_nothing_valid_write_nothing() -> None:
    org = OrganisationFactory()
    before = AuditEntry.objects.count()
    assert services.record_sightings(org, [SeenValue("ipv4", "not an ip", 1, T0, T0)], "x") == 0
    assert services.record_sightings(org, [], "x") == 0
    assert AuditEntry.objects.count() == before and not Sighting.objects.exists()
