"""`bulwark backup` / `bulwark restore`: a restored platform is the same platform.

The restore runs as the operator runs it (the `bulwark` command in its own process, with
DATABASE_URL naming a second database: a second file on SQLite, a second database on
PostgreSQL, whichever the suite runs on), then every table is compared row for row with
the original, the files byte for byte, and `bulwark audit verify` must pass.
"""

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone

from bulwark.constituency import services as cs
from bulwark.constituency.models import User
from bulwark.core import audit
from bulwark.core.models import AuditEntry
from bulwark.incidents import services as incident_services
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Evidence, Incident
from bulwark.incidents.services import add_evidence, report_incident
from bulwark.incidents.tests.test_journey import People

pytestmark = pytest.mark.django_db(transaction=True)

SQLITE = connection.vendor == "sqlite"


@pytest.fixture(autouse=True)
def _site_dirs(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.DATA_DIR = tmp_path / "data"
    settings.SIGNING_KEY_FILE = tmp_path / "data" / "signing-key.pem"
    (tmp_path / "data").mkdir()


@pytest.fixture
def platform(settings: Any) -> People:
    """A platform with rows in many apps, evidence files, a signed referral package, an
    audit anchor file, and incidents counted by the database's triggers."""
    people = People()
    reporter = User.objects.get(username="reporter")
    incidents = [
        report_incident(
            reporter,
            people.agency,
            title=f"Intrusion {n}",
            description="d" * n,
            rsit_class="intrusions",
            rsit_type="system-compromise",
            answers=Answers(integrity="minor"),
            aware_at=timezone.now() - timedelta(minutes=n),
        )
        for n in range(1, 4)
    ]
    for n, incident in enumerate(incidents):
        data = bytes(range(256)) * (n + 1) + f"evidence {n}".encode()
        add_evidence(reporter, incident, ContentFile(data, name=f"capture-{n}.pcap"))
    lea = cs.create_organisation(None, name="Police", kind="lea", country="TW")
    incident_services.refer(User.objects.get(username="duty"), incidents[0], lea, note="urgent")
    (settings.DATA_DIR / "audit-anchor-2026-12.json").write_text('{"seq": 1}')
    (settings.DATA_DIR / "unrelated.txt").write_text("not archived")
    return people


def database_url(database: dict[str, Any]) -> str:
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    user = quote(database.get("USER") or "")
    password = f":{quote(database['PASSWORD'])}" if database.get("PASSWORD") else ""
    host = database.get("HOST") or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{database.get('PORT') or 5432}/{database['NAME']}"


def raw_connection(database: dict[str, Any]) -> Any:
    if database["ENGINE"].endswith("sqlite3"):
        import sqlite3

        return sqlite3.connect(database["NAME"])
    import psycopg

    return psycopg.connect(
        dbname=database["NAME"], user=database.get("USER") or None,
        password=database.get("PASSWORD") or None, host=database.get("HOST") or None,
        port=database.get("PORT") or None, autocommit=True,
    )  # fmt: skip


def table_digests(database: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of the rows of every table, plus the triggers and (on
    PostgreSQL) the sequences' positions, so a restored database can be compared."""
    conn = raw_connection(database)
    try:
        if database["ENGINE"].endswith("sqlite3"):
            tables = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            triggers = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
            sequences = "SELECT name, seq FROM sqlite_sequence"
        else:
            tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            triggers = (
                "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal"
            )
            sequences = "SELECT sequencename, last_value FROM pg_sequences"
        digests: dict[str, tuple[int, str]] = {}
        extra = {"__triggers__": triggers, "__sequences__": sequences}
        queries = {name: f'SELECT * FROM "{name}"' for (name,) in conn.execute(tables).fetchall()}
        for name, sql in (queries | extra).items():
            rows = sorted(repr(tuple(row)) for row in conn.execute(sql).fetchall())
            digests[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        return digests
    finally:
        conn.close()


def files_of(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def second_database(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An empty database beside the test database, of the same kind."""
    database = dict(connections["default"].settings_dict)
    if SQLITE:
        database["NAME"] = str(tmp_path / "restored.sqlite3")
        yield database
        return
    name = f"{database['NAME']}_restored"
    admin = raw_connection({**database, "NAME": "postgres"})
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**database, "NAME": name}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def bulwark(tmp_path: Path, database: dict[str, Any], *args: str) -> subprocess.CompletedProcess:
    """The `bulwark` command as an operator runs it on the restored site."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(database),
        "BULWARK_MEDIA_DIR": str(tmp_path / "restored-files"),
        "BULWARK_DATA_DIR": str(tmp_path / "restored-data"),
        "BULWARK_SIGNING_KEY_FILE": str(tmp_path / "data" / "signing-key.pem"),
    }
    return subprocess.run(
        [sys.executable, "-m", "bulwark.cli", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_restored_platform_has_every_row_file_and_a_whole_audit_chain(
    platform: People, tmp_path: Path, settings: Any, second_database: dict[str, Any]
) -> None:
    archive = tmp_path / "backup" / "bulwark.tar"
    # The platform keeps running: audit entries are written while the backup is taken.
    stop = threading.Event()

    def keep_writing() -> None:
        try:
            while not stop.is_set():
                audit.record(None, "test.running", object_type="test", object_id="x")
        finally:
            connections.close_all()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        call_command("backup", str(archive))
    finally:
        stop.set()
        writer.join()
    source = dict(connections["default"].settings_dict)
    assert Incident.objects.count() == 3 and Evidence.objects.count() == 3
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    restored = bulwark(tmp_path, second_database, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    verified = bulwark(tmp_path, second_database, "audit", "verify")
    assert verified.returncode == 0, verified.stderr + verified.stdout
    assert "audit log intact" in verified.stdout

    before, after = table_digests(source), table_digests(second_database)
    # Every model's table is compared, and the interesting ones are not empty.
    models = {m._meta.db_table for m in apps.get_models(include_auto_created=True)}
    assert models <= after.keys()
    for table in ["incidents_incident", "incidents_incidentcount", "incidents_evidence",
                  "core_auditentry", "constituency_user", "incidents_referral"]:  # fmt: skip
        assert after[table][0] > 0, table
    # Rows written after the snapshot are missing from it (and only those): the entries
    # the writer added meanwhile; everything else is identical.
    written_later = before["core_auditentry"][0] - after["core_auditentry"][0]
    assert written_later >= 0
    differing = {t for t in before.keys() | after.keys() if before.get(t) != after.get(t)}
    assert differing <= {"core_auditentry", "core_audithead", "__sequences__", "sqlite_sequence"}
    if written_later == 0:
        assert not differing

    def audit_rows(database: dict[str, Any], up_to: int) -> list[tuple[Any, ...]]:
        conn = raw_connection(database)
        try:
            sql = f"SELECT * FROM core_auditentry WHERE seq <= {int(up_to)} ORDER BY seq"
            return [tuple(row) for row in conn.execute(sql).fetchall()]
        finally:
            conn.close()

    restored_entries = audit_rows(second_database, 10**9)
    assert len(restored_entries) == after["core_auditentry"][0]
    assert audit_rows(source, len(restored_entries)) == restored_entries

    assert files_of(tmp_path / "restored-files") == files_of(settings.MEDIA_ROOT)
    assert len(files_of(settings.MEDIA_ROOT)) == 4  # three evidence files and a package
    restored_data = files_of(tmp_path / "restored-data")
    assert restored_data["audit-anchor-2026-12.json"][0] == b'{"seq": 1}'
    assert "unrelated.txt" not in restored_data

    # A second restore over the restored site is refused; forced, it replaces it.
    again = bulwark(tmp_path, second_database, "restore", str(archive))
    assert again.returncode != 0 and "the database is not empty" in again.stderr
    forced = bulwark(tmp_path, second_database, "restore", "--force", str(archive))
    assert forced.returncode == 0, forced.stderr
    assert table_digests(second_database) == after
    assert files_of(tmp_path / "restored-files") == files_of(settings.MEDIA_ROOT)
    assert list(tmp_path.glob("restored-files.before-restore-*"))  # the old files are kept


def test_the_archive_holds_key_fingerprints_never_keys(
    platform: People, tmp_path: Path, settings: Any
) -> None:
    settings.AUDIT_CHAIN_KEY = "an-audit-key-" + "k" * 40
    settings.BACKUP_EXTRA_FILES = ["*"]  # even a pattern that names the signing key
    archive = tmp_path / "b.tar"
    call_command("backup", str(archive))
    data = archive.read_bytes()
    assert settings.AUDIT_CHAIN_KEY.encode() not in data
    assert settings.SECRET_KEY.encode() not in data
    assert b"PRIVATE KEY" not in data
    from bulwark.core import backup

    manifest = backup.verify(archive)
    assert manifest["audit_key_fingerprint"] == backup.audit_key_fingerprint(
        settings.AUDIT_CHAIN_KEY
    )
    assert manifest["signing_key"]["public_key_sha256"]
    assert manifest["signing_key"]["file"] == str(settings.SIGNING_KEY_FILE)
    names = {entry["name"] for entry in manifest["files"]}
    assert "data/unrelated.txt" in names and "data/signing-key.pem" not in names


def fake_tool(directory: Path, name: str, version_line: str) -> None:
    directory.mkdir(exist_ok=True)
    tool = directory / name
    tool.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    tool.chmod(0o755)


def test_pg_tools_older_than_the_server_or_missing_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bulwark.core import backup

    fake_tool(tmp_path / "bin", "pg_dump", "pg_dump (PostgreSQL) 13.16")
    fake_tool(tmp_path / "bin", "pg_restore", "pg_restore (PostgreSQL) 15.20 (Debian)")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(backup.BackupError, match="pg_dump is version 13 but the server is 15"):
        backup._pg_tool("pg_dump", 15)
    assert backup._pg_tool("pg_restore", 15) == str(tmp_path / "bin" / "pg_restore")
    with pytest.raises(backup.BackupError, match="pg_restore is version 15 but the server is 16"):
        backup._pg_tool("pg_restore", 16)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(backup.BackupError, match="pg_dump is not on PATH"):
        backup._pg_tool("pg_dump", 15)


def test_restore_refuses_a_damaged_archive_before_touching_anything(
    platform: People, tmp_path: Path
) -> None:
    archive = tmp_path / "b.tar"
    call_command("backup", str(archive))
    call_command("restore", "--check", str(archive))  # intact
    data = bytearray(archive.read_bytes())
    at = data.index(b"evidence 1")
    data[at] ^= 0x01
    archive.write_bytes(bytes(data))
    with pytest.raises(
        CommandError, match=r"media/evidence/[0-9a-f]{2}/[0-9a-f]{64} does not match"
    ):
        call_command("restore", "--check", str(archive))
    with pytest.raises(CommandError, match="does not match its checksum"):
        call_command("restore", "--force", str(archive))
    assert Incident.objects.count() == 3  # nothing was restored over the running site


def test_restore_refuses_a_non_empty_database_and_a_different_audit_key(
    platform: People, tmp_path: Path, settings: Any
) -> None:
    archive = tmp_path / "b.tar"
    call_command("backup", str(archive))
    with pytest.raises(CommandError, match="the database is not empty"):
        call_command("restore", str(archive))
    settings.AUDIT_CHAIN_KEY = "another-key-" + "x" * 40
    with pytest.raises(CommandError, match=r"audit key .* is not the one"):
        call_command("restore", str(archive))
    assert AuditEntry.objects.count() > 0


def test_backup_and_restore_name_bad_input_clearly(platform: People, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar"
    call_command("backup", str(archive))
    with pytest.raises(CommandError, match="exists"):
        call_command("backup", str(archive))
    with pytest.raises(CommandError, match="is not a file"):
        call_command("restore", str(tmp_path / "missing.tar"))
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not an archive at all" * 100)
    with pytest.raises(CommandError, match="not a Bulwark backup"):
        call_command("restore", "--check", str(junk))


def test_restore_into_a_database_that_cannot_be_reached_says_so(
    platform: People, tmp_path: Path, second_database: dict[str, Any]
) -> None:
    archive = tmp_path / "b.tar"
    call_command("backup", str(archive))
    if SQLITE:
        unreachable = {**second_database, "NAME": str(tmp_path / "no-such-dir" / "x" / "db")}
        (tmp_path / "no-such-dir").write_text("a file where a directory should be")
    else:
        unreachable = {**second_database, "NAME": "bulwark_no_such_database_h4"}
    result = bulwark(tmp_path, unreachable, "restore", str(archive))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("CommandError: "), result.stderr
    expected = "Not a directory" if SQLITE else "cannot connect to the database"
    assert expected in result.stderr


@pytest.mark.parametrize(
    "manifest",
    [
        {"format": "bulwark-backup/1"},
        {"format": "bulwark-backup/1", "files": "x", "database": {}},
        {"format": "bulwark-backup/1", "files": [], "database": {"engine": "sqlite"}},
        {"format": "bulwark-backup/1", "files": [{"name": 1}], "database": []},
    ],
)
def test_a_forged_or_truncated_manifest_is_refused_with_a_message(
    tmp_path: Path, manifest: dict[str, Any]
) -> None:
    import io
    import json
    import tarfile

    archive = tmp_path / "forged.tar"
    body = json.dumps(manifest).encode()
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    with pytest.raises(CommandError, match="manifest is malformed"):
        call_command("restore", "--check", str(archive))


def test_a_target_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    from bulwark.core import backup

    junk = tmp_path / "bulwark.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    target = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(junk)}
    with pytest.raises(backup.BackupError, match="is not an SQLite database"):
        backup.database_is_empty(target)
