import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from bulwark.constituency import services
from bulwark.constituency.models import Organisation, User
from bulwark.core import audit
from bulwark.core.models import AuditEntry, AuditHead


@pytest.fixture
def history(platform_admin: User, cert: Organisation) -> list[AuditEntry]:
    for i in range(5):
        org = services.create_organisation(
            platform_admin, name=f"Agency {i}", kind="government_agency", country="TW"
        )
        services.add_network(platform_admin, org, "cidr", f"203.0.113.{i * 16}/28")
    return list(AuditEntry.objects.order_by("seq"))


def tamper(sql: str, params: list[object]) -> None:
    """What an intruder with database access does: bypass the append-only triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditentry DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS core_auditentry_append_only_update")
        cursor.execute(sql, params)


def test_every_service_write_is_recorded_with_who_and_what(
    history: list[AuditEntry], platform_admin: User
) -> None:
    created = [e for e in history if e.action == "organisation.created"]
    assert len(created) == 5
    assert all(e.actor_id == platform_admin.pk for e in created)
    assert (
        created[0].changes["name"] == [None, "Agency 0"]
        or created[0].changes["name"][1] == "Agency 0"
    )
    networks = [e for e in history if e.action == "network.added"]
    assert networks[0].changes["value"] == "203.0.113.0/28"


def test_verify_passes_on_an_intact_log(
    history: list[AuditEntry], capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit.verify().ok
    call_command("audit", "verify")
    assert f"{len(history)} entries verified" in capsys.readouterr().out


def test_orm_refuses_to_change_or_delete_entries(history: list[AuditEntry]) -> None:
    entry = history[2]
    entry.action = "nothing.happened"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_database_refuses_updates(history: list[AuditEntry]) -> None:
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=history[1].pk).update(action="x")


@pytest.mark.parametrize("position", [0, 3, -1])
def test_altered_row_is_detected(history: list[AuditEntry], position: int) -> None:
    target = history[position]
    tamper("UPDATE core_auditentry SET object_label = %s WHERE id = %s", ["forged", target.pk])
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == target.seq
    with pytest.raises(CommandError, match=f"first bad entry #{target.seq}"):
        call_command("audit", "verify")


@pytest.mark.parametrize("position", [0, 4, -1])
def test_deleted_row_is_detected(history: list[AuditEntry], position: int) -> None:
    target = history[position]
    tamper("DELETE FROM core_auditentry WHERE id = %s", [target.pk])
    result = audit.verify()
    assert not result.ok
    assert result.first_bad_seq == target.seq


def test_inserted_row_is_detected(history: list[AuditEntry]) -> None:
    # Insert a forged entry in the middle by shifting the later ones out of the way.
    middle = history[3]
    tamper("UPDATE core_auditentry SET seq = seq + 1000 WHERE seq >= %s", [middle.seq])
    forged = AuditEntry(
        seq=middle.seq, at=middle.at, actor_label="intruder", action="organisation.created",
        object_type="constituency.organisation", object_id="999", object_label="Fake",
        changes={}, prev_hash=history[2].hash, hash="f" * 64,
    )  # fmt: skip
    forged.save()
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == middle.seq


def test_rechained_forgery_without_the_key_is_detected(
    history: list[AuditEntry], settings: object
) -> None:
    # An intruder who recomputes the chain with a guessed key still fails verification.
    target = history[1]
    fake = AuditEntry(**{f.attname: getattr(target, f.attname) for f in AuditEntry._meta.fields})
    fake.object_label = "forged"
    settings.AUDIT_CHAIN_KEY = "guessed"  # type: ignore[attr-defined]
    forged_hash = audit.chain_hash(target.prev_hash, fake)
    settings.AUDIT_CHAIN_KEY = "insecure-bulwark-development-key-never-use-in-production"  # type: ignore[attr-defined]
    tamper(
        "UPDATE core_auditentry SET object_label = %s, hash = %s WHERE id = %s",
        ["forged", forged_hash, target.pk],
    )
    assert audit.verify().first_bad_seq == target.seq


def test_sequence_continues_after_head(history: list[AuditEntry]) -> None:
    head = AuditHead.objects.get(pk=1)
    assert head.seq == history[-1].seq and head.hash == history[-1].hash
    entry = audit.record(None, "test.event", object_type="test", object_id="1")
    assert entry.seq == head.seq + 1 and entry.prev_hash == head.hash


def test_request_address_is_recorded(admin_client: object, cert: Organisation) -> None:
    admin_client.post(  # type: ignore[attr-defined]
        "/organisations/new/",
        {"name": "Via web", "kind": "government_agency", "country": "TW", "is_active": "on"},
        REMOTE_ADDR="192.0.2.44",
    )
    entry = AuditEntry.objects.get(action="organisation.created", object_label="Via web")
    assert entry.ip == "192.0.2.44" and entry.actor_label == "root-admin"


def test_reading_the_log_costs_the_same_queries_however_many_entries(
    platform_admin: User, cert: Organisation
) -> None:
    """The object rule is one condition per audited model, never a query per entry."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bulwark.conftest import bearer
    from bulwark.constituency.tests.factories import UserFactory

    agency = services.create_organisation(
        platform_admin, name="Agency", kind="government_agency", country="TW"
    )
    org_admin = UserFactory(username="agency-admin")
    services.add_membership(None, org_admin, agency, "org_admin")
    client = Client()
    client.defaults.update(bearer(org_admin))

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/audit/?limit=1000").status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        audit.record(None, "test.touched", object_type="incidents.incident", object_id=str(i),
                     organisation_id=agency.pk)  # fmt: skip
    queries()  # the first request also records the token's use
    few = queries()
    for i in range(60):
        audit.record(None, "test.touched", object_type="incidents.incident", object_id=str(i),
                     organisation_id=agency.pk)  # fmt: skip
    assert queries() == few
