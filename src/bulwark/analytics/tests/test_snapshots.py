"""Materialised figures: read while fresh, recounted when stale, never shared across
scopes that see different rows."""

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.analytics import figures, periods, snapshots
from bulwark.analytics.models import Snapshot
from bulwark.analytics.tests.dataset import Dataset, build
from bulwark.conftest import bearer
from bulwark.constituency import services as cs
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Membership
from bulwark.constituency.tests.factories import UserFactory
from bulwark.incidents.models import Incident

YEAR = periods.year(2025)


@pytest.fixture
def data(db: Any) -> Dataset:
    return build(incidents=60, events=30, items=30)


def test_a_fresh_snapshot_is_read_and_a_stale_one_recounted(data: Dataset) -> None:
    first, at = snapshots.compute("incidents_by_level", data.duty, YEAR)
    assert first == figures.compute("incidents_by_level", data.duty, YEAR)
    in_2025 = {"reported_at__gte": YEAR.start, "reported_at__lt": YEAR.end}
    Incident.objects.filter(**in_2025).update(level=4)  # the data changes
    again, again_at = snapshots.compute("incidents_by_level", data.duty, YEAR)
    assert (again, again_at) == (first, at)  # fresh: read, not recounted
    Snapshot.objects.update(computed_at=timezone.now() - timedelta(hours=1))
    recounted, later = snapshots.compute("incidents_by_level", data.duty, YEAR)
    assert later > at and [row[0] for row in recounted.rows if row[1]] == ["Level 4"]


def test_cert_staff_share_a_scope_everyone_else_has_their_own(data: Dataset) -> None:
    analyst = UserFactory(username="analyst2")
    cs.add_membership(None, analyst, data.cert, "analyst")
    snapshots.compute("incidents_by_level", data.duty, YEAR)
    snapshots.compute("incidents_by_level", analyst, YEAR)
    assert Snapshot.objects.filter(key="incidents_by_level").count() == 1

    agency, _at = snapshots.compute("incidents_by_level", data.reporter, YEAR)
    assert agency == figures.compute("incidents_by_level", data.reporter, YEAR)
    assert agency.total < figures.compute("incidents_by_level", data.duty, YEAR).total
    assert set(Snapshot.objects.values_list("scope", flat=True)) == {
        "cert",
        snapshots.personal_scope(viewer_of(data.reporter)),
    }
    # TLP:RED intelligence reaches named people only, so each CERT member counts their own.
    snapshots.compute("isac_sharing_by_category", data.duty, YEAR)
    snapshots.compute("isac_sharing_by_category", analyst, YEAR)
    assert Snapshot.objects.filter(key="isac_sharing_by_category").count() == 2


def test_a_scope_never_reads_another_scopes_snapshot(data: Dataset) -> None:
    snapshots.compute("incidents_by_level", data.duty, YEAR)
    assert not Snapshot.objects.visible_to(data.reporter).exists()
    assert Snapshot.objects.visible_to(data.duty).count() == 1
    assert not Snapshot.objects.visible_to(data.outsider).filter(scope="cert").exists()


def test_the_task_keeps_the_certs_common_periods_fresh(data: Dataset) -> None:
    today = date(2026, 2, 10)
    labels = [p.label for p in snapshots.common_periods(today)]
    assert labels == [
        "2026 (to 2026-02-10)",
        "2026",
        "2025",
        "2026-Q1",
        "2025-Q4",
        "2026-02",
        "2026-01",
    ] or labels[1:] == ["2026", "2025", "2026-Q1", "2025-Q4", "2026-02", "2026-01"]
    shared = [k for k in figures.DASHBOARDS if k not in snapshots.PER_USER_KEYS]
    n = snapshots.refresh(today)
    assert n == len(shared) * len(labels)
    assert snapshots.refresh(today) == 0  # still fresh
    Snapshot.objects.update(computed_at=timezone.now() - timedelta(days=2))
    assert snapshots.refresh(today) == n  # stale ones recounted, very old ones dropped first
    cert_2025 = Snapshot.objects.get(
        scope="cert", key="incidents_by_level", period="2025-01-01..2025-12-31"
    )
    assert cert_2025.figure["rows"] == [
        list(r) for r in figures.compute("incidents_by_level", data.duty, YEAR).rows
    ]


def test_a_trend_is_kept_and_read_back_whole(data: Dataset) -> None:
    from bulwark.analytics import trends

    until = date(2025, 12, 1)
    counted, at = snapshots.trend("incidents_by_category", data.duty, until=until, horizon=3)
    assert counted == trends.trend(data.duty, "incidents_by_category", until=until, horizon=3)
    again, again_at = snapshots.trend("incidents_by_category", data.duty, until=until, horizon=3)
    assert (again, again_at) == (counted, at)  # rebuilt from the snapshot, forecasts included
    mine, _at = snapshots.trend("incidents_by_category", data.reporter, until=until, horizon=3)
    assert sum(mine.series[0].history) < sum(counted.series[0].history)


def test_old_snapshots_are_dropped_even_without_a_cert(data: Dataset) -> None:
    snapshots.compute("incidents_by_level", data.reporter, YEAR)
    Snapshot.objects.update(computed_at=timezone.now() - timedelta(days=2))
    data.duty.memberships.all().delete()
    assert snapshots.refresh(date(2026, 2, 10)) == 0
    assert not Snapshot.objects.exists()


def _total(secret: dict[str, str]) -> int:
    response = Client(**secret).get("/api/v1/stats/incidents_by_level/?period=2025")
    assert response.status_code == 200
    return int(response.json()["total"])


def test_a_revoked_membership_shows_at_once_in_the_figures(data: Dataset) -> None:
    """Issue 20: a reviewer's snapshot outlived the loss of their membership for 15 min."""
    secret = bearer(data.reviewer, ["stats:read"])
    supervised = _total(secret)
    assert supervised > 0
    admin = UserFactory(username="admin2")
    cs.add_membership(None, admin, data.cert, "platform_admin")
    for membership in Membership.objects.filter(user=data.reviewer):
        cs.remove_membership(admin, membership)
    assert _total(secret) == 0  # at once, not after FRESH_SECONDS
    # Given the role back, they see the authority's figure again.
    cs.add_membership(admin, data.reviewer, data.authority, "reviewer")
    assert _total(secret) == supervised


def test_a_moved_membership_recounts_the_figures(data: Dataset) -> None:
    """A reporter moved from one agency to another reads the new agency's figure at once
    (and a CERT duty officer moved to an agency stops reading the CERT's shared one)."""
    for user, org in ((data.reporter, data.other_agency), (data.duty, data.agencies[0])):
        secret = bearer(user, ["stats:read"])
        before = _total(secret)
        Membership.objects.filter(user=user).update(organisation=org, role="reporter")
        moved = type(user).objects.get(pk=user.pk)  # as the next request loads them
        now = figures.compute("incidents_by_level", moved, YEAR).total
        assert now != before
        assert _total(secret) == now
