"""`bulwark backup` and `bulwark restore` on a site of some size: how long each takes.

A fresh database (SQLite: a temporary file; PostgreSQL: `bulwark_bench_backup`, dropped
and recreated) is migrated and filled with --entries audit entries (a real chain) and
--files evidence files of --file-kb each; then `bulwark backup` (in this process),
`bulwark restore` into a second empty database and `bulwark audit verify` there (each as
its own `bulwark` process, as an operator runs them). One JSON line per run is appended to
bench/results/backup_restore.jsonl.

Usage: python bench/backup_restore.py [--db sqlite|postgres] [--entries 200000]
       [--files 200] [--file-kb 512]
"""

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "backup_restore.jsonl"
PG = "postgres://postgres@127.0.0.1:5432/"


def recreate_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG + "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def bulwark(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bulwark.cli", *args], env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--file-kb", type=int, default=512)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bulwark-bench-backup-"))
    if args.db == "postgres":
        recreate_pg("bulwark_bench_backup")
        recreate_pg("bulwark_bench_restored")
        source_url, target_url = PG + "bulwark_bench_backup", PG + "bulwark_bench_restored"
    else:
        source_url = f"sqlite:///{work / 'source.sqlite3'}"
        target_url = f"sqlite:///{work / 'restored.sqlite3'}"
    os.environ.update(
        DATABASE_URL=source_url,
        BULWARK_DATA_DIR=str(work / "data"),
        BULWARK_MEDIA_DIR=str(work / "files"),
        DJANGO_SETTINGS_MODULE="bulwark.settings",
    )
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    from bulwark.core import audit
    from bulwark.core.models import AuditEntry, AuditHead

    call_command("migrate", verbosity=0)
    head = AuditHead.objects.filter(pk=1).first()
    seq, prev = (head.seq, head.hash) if head else (0, audit.GENESIS)
    start = datetime.now(UTC) - timedelta(days=365)
    batch: list[AuditEntry] = []
    for n in range(args.entries):
        seq += 1
        entry = AuditEntry(
            seq=seq, at=start + timedelta(seconds=n), actor_id=None, actor_label="system",
            ip=None, action="bench.entry", object_type="bench", object_id=str(n),
            object_label=f"entry {n}", organisation_id=None, changes={"n": n}, prev_hash=prev,
        )  # fmt: skip
        entry.hash = prev = audit.chain_hash(prev, entry)
        batch.append(entry)
        if len(batch) == 5000:
            AuditEntry.objects.bulk_create(batch)
            batch = []
    AuditEntry.objects.bulk_create(batch)
    AuditHead.objects.update_or_create(pk=1, defaults={"seq": seq, "hash": prev})
    for _n in range(args.files):
        data = os.urandom(args.file_kb * 1024)
        digest = hashlib.sha256(data).hexdigest()
        path = work / "files" / "evidence" / digest[:2] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o440)

    archive = work / "backup.tar"
    started = time.perf_counter()
    call_command("backup", str(archive))
    backup_s = time.perf_counter() - started
    env = {
        **os.environ,
        "DATABASE_URL": target_url,
        "BULWARK_DATA_DIR": str(work / "restored-data"),
        "BULWARK_MEDIA_DIR": str(work / "restored-files"),
    }
    restore_s = bulwark(env, "restore", str(archive))
    verify_s = bulwark(env, "audit", "verify")
    result: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "db": args.db,
        "entries": args.entries,
        "files": args.files,
        "file_kb": args.file_kb,
        "archive_mb": round(archive.stat().st_size / 2**20, 1),
        "backup_s": round(backup_s, 2),
        "restore_s": round(restore_s, 2),
        "audit_verify_s": round(verify_s, 2),
        "load_1min": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(json.dumps(result) + "\n")
    subprocess.run(["rm", "-rf", str(work)], check=False)
    if args.db == "postgres":
        from django.db import connections

        connections.close_all()
        import psycopg

        with psycopg.connect(PG + "postgres", autocommit=True) as admin:
            for name in ("bulwark_bench_backup", "bulwark_bench_restored"):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
