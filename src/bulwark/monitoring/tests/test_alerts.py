"""Hits become hourly sightings, rules raise alerts, the CERT promotes or dismisses them;
who sees what, by every read path."""

from datetime import UTC, datetime
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.constituency.models import User
from bulwark.core.models import AuditEntry, Notification
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_journey import People
from bulwark.monitoring import services
from bulwark.monitoring.models import Alert, AlertRule, LogSighting

T0 = datetime(2026, 11, 23, 8, 15, tzinfo=UTC).timestamp()


def hit(value: str, ts: float, kind: str = "domain", score: int | None = 80) -> dict[str, Any]:
    return {"indicator": value, "type": kind, "ts": ts, "field": "query", "score": score,
            "indicator_id": "indicator--x"}  # fmt: skip


@pytest.fixture
def people(db: None) -> People:
    AlertRule.objects.create(name="scored", min_score=50)
    return People()


def test_hits_aggregate_per_indicator_agency_and_hour(people: People) -> None:
    hits = [hit("evil.com", T0), hit("evil.com", T0 + 60), hit("evil.com", T0 + 3600)]
    assert services.record_hits(people.agency, hits) == {"hits": 3, "sightings": 2, "alerts": 1}
    services.record_hits(people.agency, [hit("evil.com", T0 + 120), hit("evil.com", "bad ts")])
    rows = list(LogSighting.objects.order_by("hour").values_list("hour", "count"))
    assert rows[0] == (datetime(2026, 11, 23, 8, tzinfo=UTC), 3)
    assert rows[1] == (datetime(2026, 11, 23, 9, tzinfo=UTC), 1)
    alert = Alert.objects.get()
    assert alert.count == 5 and alert.first_seen.timestamp() == T0
    assert AuditEntry.objects.filter(action="monitoring.sightings_recorded").count() == 2


def test_rules_scores_and_suppression_per_agency(people: People) -> None:
    services.record_hits(people.agency, [hit("low.example", T0, score=20)])
    assert not Alert.objects.exists()
    services.record_hits(people.agency, [hit("bad.example", T0)])
    alert = Alert.objects.get()
    duty = User.objects.get(username="duty")
    services.mark_false_positive(duty, alert, reason="our sinkhole")
    services.record_hits(people.agency, [hit("bad.example", T0 + 7200)])
    services.record_hits(people.other, [hit("bad.example", T0 + 7200)])
    assert list(
        Alert.objects.filter(status="new").values_list("organisation__name", flat=True)
    ) == ["Other bureau"]
    mine = LogSighting.objects.filter(organisation=people.agency, indicator="bad.example")
    assert mine.count() == 2


def test_promote_opens_incident_and_notifies_agency(people: People) -> None:
    services.record_hits(people.agency, [hit("c2.example", T0)])
    alert = Alert.objects.get()
    with pytest.raises(PermissionDenied):
        services.promote_alert(User.objects.get(username="reporter"), alert)
    incident = services.promote_alert(User.objects.get(username="duty"), alert, note="seen twice")
    alert.refresh_from_db()
    assert alert.status == "promoted" and alert.incident == incident
    assert incident.organisation == people.agency
    assert list(incident.indicators.values_list("kind", "value")) == [("domain", "c2.example")]
    note = Notification.objects.get(user__username="reporter")
    assert incident.reference in note.text
    assert not Notification.objects.filter(user__username="outsider").exists()
    assert AuditEntry.objects.filter(action="monitoring.alert_promoted").count() == 1
    with pytest.raises(Exception, match="already been triaged"):
        services.promote_alert(User.objects.get(username="duty"), alert)


READ_PATHS = {
    "alert page": lambda a, s: f"/monitoring/alerts/{a.pk}/",
    "alert list": lambda a, s: "/monitoring/alerts/?status=all",
    "sighting list": lambda a, s: "/monitoring/sightings/",
    "api alert": lambda a, s: f"/api/v1/monitoring/alerts/{a.pk}/",
    "api alerts": lambda a, s: "/api/v1/monitoring/alerts/",
    "api sighting": lambda a, s: f"/api/v1/monitoring/sightings/{s.pk}/",
    "api sightings": lambda a, s: "/api/v1/monitoring/sightings/",
}


@pytest.mark.parametrize("who,sees", [("duty", True), ("reporter", True), ("reviewer", False),
                                      ("outsider", False), ("anonymous", False)])  # fmt: skip
@pytest.mark.parametrize("path", sorted(READ_PATHS))
def test_access_matrix(people: People, who: str, sees: bool, path: str) -> None:
    """The agency's own members and the CERT see its sightings and alerts; its supervising
    authority, other agencies and anonymous visitors do not, by any read path."""
    services.record_hits(people.agency, [hit("secret-c2.example", T0)])
    alert, sighting = Alert.objects.get(), LogSighting.objects.get()
    client = Client() if who == "anonymous" else sign_in(Client(), User.objects.get(username=who))
    response = client.get(READ_PATHS[path](alert, sighting), HTTP_ACCEPT="application/json")
    shown = response.status_code == 200 and b"secret-c2.example" in response.content
    assert shown is sees, (who, path, response.status_code)


def test_api_triage_false_positive(people: People) -> None:
    services.record_hits(people.agency, [hit("fp.example", T0)])
    alert = Alert.objects.get()
    scopes = ["monitoring:read", "monitoring:write"]
    clients = {
        name: Client(**bearer(User.objects.get(username=name), scopes, within_role=True))
        for name in ("reporter", "duty")
    }
    agency = clients["reporter"].post(
        f"/api/v1/monitoring/alerts/{alert.pk}/triage/", {"action": "false_positive"},
        content_type="application/json",
    )  # fmt: skip
    # An agency's token cannot even carry monitoring:write (docs/access.md).
    assert agency.status_code == 403 and b"monitoring:write" in agency.content
    cert = clients["duty"].post(
        f"/api/v1/monitoring/alerts/{alert.pk}/triage/", {"action": "false_positive",
        "note": "test"}, content_type="application/json",
    )  # fmt: skip
    assert cert.status_code == 200, cert.content
    assert cert.json()["status"] == "false_positive"
    again = clients["duty"].post(
        f"/api/v1/monitoring/alerts/{alert.pk}/triage/", {"action": "promote"},
        content_type="application/json",
    )  # fmt: skip
    assert again.status_code == 409
    assert Incident.objects.count() == 0


def test_platform_indicators_include_incident_indicators(people: People) -> None:
    from bulwark.incidents.tests.test_journey import report
    from bulwark.monitoring.indicator_sources import platform_indicators

    created = report(
        people, indicators=[{"value": "Evil-Incident.example"}, {"value": "203.0.113.9"}]
    )
    assert created.status_code == 201, created.json()
    found = {(i.type, i.value, i.id) for i in platform_indicators()}
    reference = created.json()["reference"]
    assert ("domain", b"evil-incident.example", f"incident:{reference}") in found
    assert ("ipv4", b"203.0.113.9", f"incident:{reference}") in found


class _AppsAt0003:
    """The app registry as migration 0003 names it: `LogSighting` was still `Sighting`."""

    def get_model(self, app_label: str, name: str) -> Any:
        return django_apps.get_model(app_label, "LogSighting" if name == "Sighting" else name)


def test_the_migration_stores_mapped_prefixes_as_the_indicator_holds_them(people: People) -> None:
    """Issue 21: sightings of `::ffff:0:0/96` were stored as pytricia writes the prefix."""
    migration = import_module("bulwark.monitoring.migrations.0003_s28h1_renormalise")
    services.record_hits(people.agency, [hit("::ffff:0.0.0.0/96", T0, kind="cidr")])
    services.record_hits(people.agency, [hit("::ffff:0:0/96", T0 + 60, kind="cidr")])
    services.record_hits(people.agency, [hit("2001:db8::/32", T0, kind="cidr")])
    migration.renormalise(_AppsAt0003(), None)
    rows = LogSighting.objects.order_by("indicator").values_list("indicator", "count")
    assert list(rows) == [("2001:db8::/32", 1), ("::ffff:0:0/96", 2)]
    assert set(Alert.objects.values_list("indicator", flat=True)) == {
        "::ffff:0:0/96", "2001:db8::/32"
    }  # fmt: skip
