"""Renamed models and the chained audit log (issue 21): `exchange.Notification` became
`exchange.EventNotice` and `monitoring.Sighting` became `monitoring.LogSighting`. Entries
written before keep their old label (the chain is never rewritten); they must be read by
exactly the same people as entries under the new label: no leak (an organisation admin
who may not open the object does not read it through the log) and no loss."""

from datetime import UTC, datetime
from typing import Any

import pytest

from bulwark.constituency import services as cs
from bulwark.constituency.models import Organisation, User
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory
from bulwark.core import audit
from bulwark.core.models import AuditEntry, audited_models, object_type_labels
from bulwark.core.views import filter_audit
from bulwark.exchange.models import EventNotice
from bulwark.monitoring.models import LogSighting

pytestmark = pytest.mark.django_db

# Who reads which entry (by the organisation the entry concerns and the object it names).
# root: platform admin; admA/admB: organisation admins; analyst: CERT staff, who sees every
# object but is no reader of the log; repB: a member of B, no reader of the log either.
EXPECTED = {
    "notice of B, filed under A": {"root"},  # admA passes the organisation rule only
    "notice of B, filed under B": {"root", "admB"},
    "sighting of B": {"root", "admB"},
    "sightings of B, no one object": {"root"},  # several objects: those who see them all
}


@pytest.fixture
def world(platform_admin: User) -> dict[str, Any]:
    cert = Organisation.objects.get(kind="national_cert")
    a = OrganisationFactory(name="Agency A", kind="government_agency")
    b = OrganisationFactory(name="Agency B", kind="government_agency")
    people = {"root": platform_admin}
    for name, org, role in [
        ("admA", a, "org_admin"),
        ("admB", b, "org_admin"),
        ("analyst", cert, "analyst"),
        ("repB", b, "reporter"),
    ]:
        people[name] = UserFactory(username=name)
        cs.add_membership(None, people[name], org, role)
    notice = EventNotice.objects.create(
        key=f"{b.pk}/scanner/2026-12-07", ticket="EX20261207-0123456789", recipient=b,
        classification_type="scanner", cadence="daily", language="en",
    )  # fmt: skip
    hour = datetime(2026, 12, 7, 9, tzinfo=UTC)
    sighting = LogSighting.objects.create(
        organisation=b, indicator_type="domain", indicator="bad.example", hour=hour,
        count=3, first_seen=hour, last_seen=hour,
    )  # fmt: skip
    return {"people": people, "a": a, "b": b, "notice": notice, "sighting": sighting}


def _entries(world: dict[str, Any], old: bool) -> dict[str, AuditEntry]:
    """One entry per case, under the old labels or the current ones."""
    notice_type = "exchange.notification" if old else "exchange.eventnotice"
    sighting_type = "monitoring.sighting" if old else "monitoring.logsighting"
    a, b, notice = world["a"], world["b"], world["notice"]
    return {
        "notice of B, filed under A": audit.record(
            None, "exchange.notification.sent", notice, object_type=notice_type,
            organisation_id=a.pk,
        ),
        "notice of B, filed under B": audit.record(
            None, "exchange.notification.sent", notice, object_type=notice_type,
            organisation_id=b.pk,
        ),
        "sighting of B": audit.record(
            None, "monitoring.test", world["sighting"], object_type=sighting_type,
            organisation_id=b.pk,
        ),
        "sightings of B, no one object": audit.record(
            None, "monitoring.sightings_recorded", None, object_type=sighting_type,
            organisation_id=b.pk,
        ),
    }  # fmt: skip


def _readers(world: dict[str, Any], entry: AuditEntry) -> set[str]:
    return {
        name
        for name, user in world["people"].items()
        if AuditEntry.objects.visible_to(user).filter(pk=entry.pk).exists()
    }


def test_entries_under_a_former_label_are_read_by_exactly_the_same_people(
    world: dict[str, Any],
) -> None:
    old, new = _entries(world, old=True), _entries(world, old=False)
    assert old["sighting of B"].object_type == "monitoring.sighting"
    for case, readers in EXPECTED.items():
        assert _readers(world, new[case]) == readers, case
        assert _readers(world, old[case]) == readers, case


def test_without_the_former_label_an_old_entry_would_leak(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mechanism is what keeps the old entries behind the object's rule: without it,
    an old entry's label names no model, and the organisation rule alone lets A's admin
    read about B's notification."""
    old = _entries(world, old=True)
    monkeypatch.setattr(EventNotice, "audit_former_labels", ())
    assert "exchange.notification" not in audited_models()
    assert "admA" in _readers(world, old["notice of B, filed under A"])


def test_the_log_filter_by_object_type_finds_entries_from_before_the_rename(
    world: dict[str, Any],
) -> None:
    old, new = _entries(world, old=True), _entries(world, old=False)
    for asked in ("exchange.eventnotice", "exchange.notification"):
        found = filter_audit(AuditEntry.objects.all(), {"object_type": asked})
        assert set(found.values_list("pk", flat=True)) == {
            e.pk for e in [*old.values(), *new.values()] if e.object_type.startswith("exchange.")
        }
    assert object_type_labels("incidents.incident") == ["incidents.incident"]
    assert object_type_labels("monitoring.sighting") == [
        "monitoring.logsighting",
        "monitoring.sighting",
    ]


def test_new_entries_carry_the_new_labels_and_the_chain_holds_both(
    world: dict[str, Any],
) -> None:
    _entries(world, old=True)
    entry = audit.record(None, "exchange.notification.sent", world["notice"])
    assert entry.object_type == "exchange.eventnotice"
    assert audit.verify().ok
