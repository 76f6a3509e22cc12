"""The audit log anchored outside the database: signed checkpoints of its head catch a
log emptied together with its head row, which the hash chain alone calls whole."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from bulwark.conftest import run_queued_tasks
from bulwark.constituency import services
from bulwark.constituency.models import Organisation, User
from bulwark.core import anchor, audit
from bulwark.core.models import AuditEntry


@pytest.fixture
def history(platform_admin: User, cert: Organisation) -> list[AuditEntry]:
    for i in range(4):
        services.create_organisation(
            platform_admin, name=f"Agency {i}", kind="government_agency", country="TW"
        )
    return list(AuditEntry.objects.order_by("seq"))


def wipe(statement: str) -> None:
    """What an intruder with the database does: empty the log and its head alike."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditentry DISABLE TRIGGER USER")
        for table in ("core_auditentry", "core_audithead"):
            cursor.execute(statement.format(table=table))


def test_an_emptied_log_without_a_checkpoint_still_looks_whole(history: list[AuditEntry]) -> None:
    """Why the anchor exists: the chain alone cannot tell an empty log from a wiped one."""
    wipe("DELETE FROM {table}")
    assert audit.verify().ok


def test_deleting_every_row_fails_against_the_checkpoint(
    history: list[AuditEntry], settings: object
) -> None:
    call_command("audit", "verify")  # a whole log, then its checkpoint
    point = anchor.latest()
    assert point is not None and point.seq == history[-1].seq and point.count == len(history)
    wipe("DELETE FROM {table}")
    result = audit.verify()
    assert not result.ok
    assert f"holds 0 entries but the checkpoint of {point.at}" in result.reason
    assert f"recorded {len(history)}: entries were deleted" in result.reason
    with pytest.raises(CommandError, match="entries were deleted"):
        call_command("audit", "verify")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_fails_against_the_checkpoint(history: list[AuditEntry]) -> None:
    assert anchor.checkpoint() is not None
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE core_auditentry, core_audithead")
    result = audit.verify()
    assert not result.ok and "entries were deleted" in result.reason


def test_a_checkpointed_entry_rewritten_fails(history: list[AuditEntry]) -> None:
    """Replacing the tail with other entries chained from the genesis (a forger who has
    the key, or a restored older database) does not match the checkpointed hash."""
    assert anchor.checkpoint() is not None
    target = history[-1]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditentry DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS core_auditentry_append_only_update")
        cursor.execute("DELETE FROM core_auditentry WHERE seq = %s", [target.seq])
        cursor.execute(
            "UPDATE core_audithead SET seq = %s, hash = %s", [history[-2].seq, history[-2].hash]
        )
    audit.record(None, "test.replacement", object_type="test", object_id="1")
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == target.seq
    assert f"entry #{target.seq} does not have the hash recorded by the checkpoint" in result.reason


def test_normal_appends_after_a_checkpoint_still_verify(
    history: list[AuditEntry], platform_admin: User, capsys: pytest.CaptureFixture[str]
) -> None:
    first = anchor.checkpoint()
    assert first is not None
    services.create_organisation(
        platform_admin, name="Later", kind="government_agency", country="TW"
    )
    assert audit.verify().ok
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert f"{len(history) + 1} entries verified" in out
    assert f"everything the checkpoint of {first.at} (entry #{first.seq}" in out
    # verify wrote a new checkpoint of the new head, and it verifies too
    newest = anchor.latest()
    assert newest is not None and newest.seq == first.seq + 1
    assert len(anchor.read_checkpoints()) == 2
    assert audit.verify().ok


def test_a_forged_anchor_file_fails(history: list[AuditEntry], settings: object) -> None:
    """Someone who lowers the checkpoint to hide a deletion cannot sign it."""
    anchor.checkpoint()
    path = Path(settings.AUDIT_ANCHOR_FILE)  # type: ignore[attr-defined]
    record = json.loads(path.read_text())
    record.update(seq=1, count=1, hash=history[0].hash)
    path.write_text(json.dumps(record) + "\n")
    result = audit.verify()
    assert not result.ok and "line 1 has a bad signature" in result.reason
    with pytest.raises(CommandError, match="bad signature"):
        call_command("audit", "verify")
    path.write_text("not json\n")
    assert "line 1 is not a checkpoint" in audit.verify().reason


def test_the_anchor_file_is_appended_to_and_private(history: list[AuditEntry]) -> None:
    anchor.checkpoint()
    audit.record(None, "test.more", object_type="test", object_id="2")
    anchor.checkpoint()
    path = anchor.anchor_path()
    assert len(path.read_text().splitlines()) == 2
    assert path.stat().st_mode & 0o777 == 0o600
    assert anchor.checkpoint() is None  # the head has not moved: nothing new


def test_scheduler_task_checkpoints_periodically_and_mails(
    history: list[AuditEntry], settings: object
) -> None:
    settings.AUDIT_ANCHOR_EMAIL = ["archive@cert.example"]  # type: ignore[attr-defined]
    call_command("scheduler", "--once")
    run_queued_tasks()
    point = anchor.latest()
    assert point is not None and point.seq == history[-1].seq
    sent = [m for m in mail.outbox if m.to == ["archive@cert.example"]]
    assert len(sent) == 1 and f"#{point.seq}" in sent[0].subject
    assert f'"hash": "{point.hash}"' in sent[0].body
    # The next run within the interval writes nothing, even though the log moved.
    audit.record(None, "test.more", object_type="test", object_id="3")
    assert anchor.checkpoint(periodic=True) is None
    later = timezone.now() + anchor.CHECKPOINT_EVERY + timedelta(seconds=1)
    again = anchor.checkpoint(periodic=True, now=later)
    assert again is not None and again.seq == point.seq + 1
