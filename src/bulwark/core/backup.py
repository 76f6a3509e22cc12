"""Backup and restore: one archive with the database, the files and the key references.

The archive is a tar file:

    database/bulwark.sqlite3 | database/bulwark.pgdump   one consistent snapshot
    media/...                                            BULWARK_MEDIA_DIR (evidence, packages)
    data/...                                             BULWARK_DATA_DIR files named by
                                                         BULWARK_BACKUP_FILES (audit anchors)
    manifest.json                                        size and SHA-256 of every member,
                                                         key fingerprints, versions

Consistency while the platform runs: the database is copied first, in one snapshot
(SQLite's online backup API in a single step; `pg_dump`, which reads in one repeatable-read
transaction), then the files. Files are written before the rows that name them commit and
are never rewritten (evidence is content-addressed), so every file the snapshot names is
already there; a file added after the snapshot is a harmless orphan.

Not `dumpdata`/`loaddata`: loading fires the incident-count triggers a second time and the
JSON round trip cuts timestamps to milliseconds, which breaks the audit chain's hashes. A
copy of the database itself restores every row, trigger and sequence exactly.

Keys never enter the archive: the manifest holds an HMAC fingerprint of the audit key (the
database already holds HMACs made with it, so this tells an attacker nothing new) and the
signing key's path and public-key fingerprint. The restore refuses an audit key that does
not match (the chain would not verify) unless forced.
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

FORMAT = "bulwark-backup/1"
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024
SQLITE_MEMBER = "database/bulwark.sqlite3"
PG_MEMBER = "database/bulwark.pgdump"
# libpq connection keywords that Django's OPTIONS may carry (the rest are Django's own).
LIBPQ_OPTIONS = {
    "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword", "channel_binding",
    "gssencmode", "connect_timeout", "application_name", "options", "target_session_attrs",
    "service", "passfile",
}  # fmt: skip


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Site:
    """Where a platform keeps its state: the database (Django's settings dict for it),
    the media directory and the data directory with the extra files to keep."""

    database: dict[str, Any]
    media_dir: Path
    data_dir: Path
    extra_files: tuple[str, ...] = ()  # glob patterns relative to data_dir
    audit_key: str = ""
    signing_key_file: Path | None = None


@dataclass
class Report:
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


# --- fingerprints -------------------------------------------------------------------------


def audit_key_fingerprint(key: str) -> str:
    return hmac.new(key.encode(), b"bulwark audit key fingerprint", hashlib.sha256).hexdigest()[:32]


def signing_key_reference(path: Path | None) -> dict[str, Any]:
    reference: dict[str, Any] = {"file": str(path) if path else None, "public_key_sha256": None}
    if path is None or not path.exists():
        return reference
    # Lazy: cryptography only when the backup is encrypted to a key.
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    except (ValueError, TypeError, OSError) as exc:
        reference["error"] = f"unreadable: {type(exc).__name__}"
        return reference
    reference["public_key_sha256"] = hashlib.sha256(public).hexdigest()
    return reference


# --- database engines -------------------------------------------------------------------


def engine_of(database: dict[str, Any]) -> str:
    engine = str(database["ENGINE"])
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise BackupError(f"unsupported database engine {engine}")


def _conninfo(database: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment for pg tools
    (the password travels in PGPASSWORD, never on a command line)."""
    # Lazy: psycopg is installed and needed only with PostgreSQL.
    from psycopg.conninfo import make_conninfo

    options = {k: str(v) for k, v in (database.get("OPTIONS") or {}).items() if k in LIBPQ_OPTIONS}
    params = {
        "dbname": database.get("NAME") or "",
        "user": database.get("USER") or "",
        "host": database.get("HOST") or "",
        "port": str(database.get("PORT") or ""),
        **options,
    }
    conninfo = make_conninfo("", **{k: v for k, v in params.items() if v})
    env = dict(os.environ)
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = str(database["PASSWORD"])
    return conninfo, env


def _pg_connect(database: dict[str, Any]) -> Any:
    # Lazy: psycopg is installed and needed only with PostgreSQL.
    import psycopg

    conninfo, _env = _conninfo(database)
    try:
        return psycopg.connect(conninfo, password=database.get("PASSWORD") or None, autocommit=True)
    except psycopg.OperationalError as exc:
        raise BackupError(f"cannot connect to the database: {str(exc).strip()}") from exc


def _pg_tool(name: str, server_major: int) -> str:
    """The path of pg_dump/pg_restore, refused when older than the server (it could not
    read the server's catalog, or the dump)."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL {server_major} client tools"
            f" (Debian: postgresql-client-{server_major})."
        )
    # The PostgreSQL client tools, found on PATH; no argument comes from outside.
    version = [path, "--version"]
    out = subprocess.run(version, capture_output=True, text=True, check=False).stdout  # noqa: S603
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    major = int(found.group(1)) if found else 0
    if major < server_major:
        raise BackupError(
            f"{name} is version {major or out.strip()!r} but the server is {server_major}:"
            f" install postgresql-client-{server_major} and put it first on PATH."
        )
    return path


def _pg_server_major(database: dict[str, Any]) -> int:
    with _pg_connect(database) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    return int(row[0]) // 10000


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def _dump_database(database: dict[str, Any], into: Path) -> tuple[str, dict[str, Any]]:
    """One consistent snapshot of the database in `into`; its archive member name and facts."""
    if engine_of(database) == "sqlite":
        source_path = Path(str(database["NAME"]))
        if not source_path.exists():
            raise BackupError(f"the SQLite database {source_path} does not exist")
        target = into / "bulwark.sqlite3"
        source = sqlite3.connect(source_path, timeout=60)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # one step (pages=-1): one read transaction, one snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        finally:
            copy.close()
            source.close()
        return SQLITE_MEMBER, {"engine": "sqlite", "sqlite_version": sqlite3.sqlite_version}
    server_major = _pg_server_major(database)
    pg_dump = _pg_tool("pg_dump", server_major)
    conninfo, env = _conninfo(database)
    target = into / "bulwark.pgdump"
    _run(
        [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}",
         f"--dbname={conninfo}"],
        env, "pg_dump",
    )  # fmt: skip
    return PG_MEMBER, {"engine": "postgresql", "server_major": server_major}


# --- writing the archive ------------------------------------------------------------------


class _HashingReader:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def _files_under(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path


def _extra_files(site: Site) -> list[Path]:
    found: set[Path] = set()
    for pattern in site.extra_files:
        found.update(p for p in site.data_dir.glob(pattern) if p.is_file() and not p.is_symlink())
    # The signing key stays out even when a pattern names it: archives travel, keys do not.
    key = site.signing_key_file.resolve() if site.signing_key_file else None
    return sorted(p for p in found if p.resolve() != key)


def create(archive: Path, site: Site) -> Report:
    """Write the archive (refusing to replace one); returns its manifest."""
    if archive.exists():
        raise BackupError(f"{archive} exists: give a new file name")
    archive.parent.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".bulwark-backup-") as scratch:
        member, database_facts = _dump_database(site.database, Path(scratch))
        partial = Path(scratch) / "archive.tar"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:

            def add(path: Path, name: str) -> None:
                info = tar.gettarinfo(str(path), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with path.open("rb") as handle:
                    reader = _HashingReader(handle)
                    tar.addfile(info, reader)
                if reader.size != info.size:
                    raise BackupError(f"{path} changed size while it was copied; run again")
                entries.append(
                    {"name": name, "size": info.size, "sha256": reader.digest.hexdigest(),
                     "mode": info.mode & 0o777}
                )  # fmt: skip

            add(Path(scratch) / PurePosixPath(member).name, member)
            for path in _files_under(site.media_dir):
                add(path, "media/" + path.relative_to(site.media_dir).as_posix())
            for path in _extra_files(site):
                add(path, "data/" + path.relative_to(site.data_dir).as_posix())
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).isoformat(),
                "database": {**database_facts, "member": member},
                "audit_key_fingerprint": audit_key_fingerprint(site.audit_key),
                "signing_key": signing_key_reference(site.signing_key_file),
                "files": entries,
            }
            body = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o600, int(datetime.now(UTC).timestamp())
            tar.addfile(info, _BytesReader(body))
        os.replace(partial, archive)
    return Report(manifest)


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.at + size
        chunk, self.at = self.data[self.at : end], min(end, len(self.data))
        return chunk


# --- verifying ----------------------------------------------------------------------------


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        not path.is_absolute()
        and ".." not in path.parts
        and path.parts[:1] in {("database",), ("media",), ("data",), (MANIFEST,)}
        and (len(path.parts) > 1 or name == MANIFEST)
    )


def verify(archive: Path) -> dict[str, Any]:
    """Check every member against the manifest (names, sizes, SHA-256); the manifest."""
    if not archive.is_file():
        raise BackupError(f"{archive} is not a file")
    try:
        tar = tarfile.open(archive, mode="r:")  # noqa: SIM115 (closed by the `with` below)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a Bulwark backup archive: {exc}") from exc
    found: dict[str, tuple[int, str]] = {}
    manifest: dict[str, Any] | None = None
    with tar:
        try:
            for info in tar:
                if not info.isfile() or not _safe_name(info.name) or info.name in found:
                    raise BackupError(f"the archive holds an unexpected member {info.name!r}")
                handle = tar.extractfile(info)
                assert handle is not None  # a regular file
                if info.name == MANIFEST:
                    try:
                        manifest = json.loads(handle.read(16 * CHUNK))
                    except ValueError as exc:
                        raise BackupError("the archive's manifest is not valid JSON") from exc
                    continue
                digest = hashlib.sha256()
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                found[info.name] = (info.size, digest.hexdigest())
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"the archive is damaged: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"the archive has no {FORMAT} manifest: not a Bulwark backup")
    try:
        listed = {e["name"]: (e["size"], e["sha256"]) for e in manifest["files"]}
        database = manifest["database"]
        if not (
            database["engine"] in {"sqlite", "postgresql"}
            and database["member"] in {SQLITE_MEMBER, PG_MEMBER}
            and isinstance(manifest["audit_key_fingerprint"], str)
            and isinstance(manifest.get("signing_key") or {}, dict)
            and all(isinstance(e.get("mode", 0), int) for e in manifest["files"])
        ):
            raise TypeError
    except (KeyError, TypeError, AttributeError) as exc:
        raise BackupError(
            "the archive's manifest is malformed: not written by bulwark backup"
        ) from exc
    for name in sorted(listed.keys() | found.keys()):
        if name not in found:
            raise BackupError(f"the archive lacks {name}, which its manifest lists")
        if name not in listed:
            raise BackupError(f"the archive holds {name}, which its manifest does not list")
        if listed[name] != found[name]:
            raise BackupError(f"{name} does not match its checksum in the manifest: damaged")
    if database["member"] not in found:
        raise BackupError("the archive holds no database")
    return manifest


# --- restoring ----------------------------------------------------------------------------


def database_is_empty(database: dict[str, Any]) -> bool:
    if engine_of(database) == "sqlite":
        path = Path(str(database["NAME"]))
        if not path.exists() or path.stat().st_size == 0:
            return True
        conn = sqlite3.connect(path)
        try:
            row = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not an SQLite database ({exc})") from exc
        finally:
            conn.close()
        return bool(row[0] == 0)
    with _pg_connect(database) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
        ).fetchone()
    return bool(row[0] == 0)


def _restore_database(database: dict[str, Any], dump: Path, force: bool) -> None:
    if engine_of(database) == "sqlite":
        target_path = Path(str(database["NAME"]))
        target_path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(dump)
        target = sqlite3.connect(target_path, timeout=60)
        try:
            source.backup(target)  # replaces every page of the target, in one transaction
        finally:
            target.close()
            source.close()
        return
    pg_restore = _pg_tool("pg_restore", _pg_server_major(database))
    if force:
        with _pg_connect(database) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")
    conninfo, env = _conninfo(database)
    _run(
        [pg_restore, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
         f"--dbname={conninfo}", str(dump)],
        env, "pg_restore",
    )  # fmt: skip


def _occupied(directory: Path) -> bool:
    return directory.is_dir() and any(directory.iterdir())


def _extract(tar: tarfile.TarFile, info: tarfile.TarInfo, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tar.extractfile(info)
    assert handle is not None
    partial = target.with_name(f".{target.name}.restoring")
    with partial.open("wb") as out:
        shutil.copyfileobj(handle, out, CHUNK)
    os.chmod(partial, mode)
    os.replace(partial, target)


def restore(archive: Path, site: Site, *, force: bool = False) -> Report:
    """Restore into an empty database and media directory (or, forced, over them)."""
    manifest = verify(archive)
    report = Report(manifest)
    engine = engine_of(site.database)
    if manifest["database"]["engine"] != engine:
        raise BackupError(
            f"the archive holds a {manifest['database']['engine']} database but DATABASE_URL"
            f" names a {engine} one: restore into the same kind of database"
        )
    if manifest["audit_key_fingerprint"] != audit_key_fingerprint(site.audit_key):
        message = (
            "the audit key (BULWARK_AUDIT_KEY) is not the one the backup was made with"
            f" (fingerprint {manifest['audit_key_fingerprint']}): set it from the offline copy,"
            " or `bulwark audit verify` will fail after the restore"
        )
        if not force:
            raise BackupError(message + " (--force restores anyway)")
        report.warnings.append(message)
    if not force:
        if not database_is_empty(site.database):
            raise BackupError(
                "the database is not empty: restore into a new database, or give --force to"
                " replace everything in it"
            )
        if _occupied(site.media_dir):
            raise BackupError(
                f"{site.media_dir} is not empty: restore into an empty BULWARK_MEDIA_DIR,"
                " or give --force (the current one is kept beside it)"
            )
        taken = [
            e["name"]
            for e in manifest["files"]
            if e["name"].startswith("data/") and (site.data_dir / e["name"][5:]).exists()
        ]
        if taken:
            raise BackupError(f"{taken[0][5:]} exists in {site.data_dir}: give --force to replace")
    with (
        tempfile.TemporaryDirectory(prefix=".bulwark-restore-") as scratch,
        tarfile.open(archive, mode="r:") as tar,
    ):
        modes = {e["name"]: int(e.get("mode", 0o600)) & 0o777 for e in manifest["files"]}
        members = tar.getmembers()
        # The database first: if it fails, no file has been touched.
        dump = Path(scratch) / "database"
        for info in members:
            if info.name == manifest["database"]["member"]:
                _extract(tar, info, dump, 0o600)
        _restore_database(site.database, dump, force)
        if force and _occupied(site.media_dir):
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            aside = site.media_dir.with_name(f"{site.media_dir.name}.before-restore-{stamp}")
            site.media_dir.rename(aside)
            report.warnings.append(f"the previous media directory is kept as {aside}")
        for info in members:
            name = info.name
            if name.startswith("media/"):
                _extract(tar, info, site.media_dir / name[len("media/") :], modes[name])
            elif name.startswith("data/"):
                _extract(tar, info, site.data_dir / name[len("data/") :], modes[name])
    recorded = manifest.get("signing_key") or {}
    current = signing_key_reference(site.signing_key_file)
    if recorded.get("public_key_sha256") and (
        current["public_key_sha256"] != recorded["public_key_sha256"]
    ):
        report.warnings.append(
            "the referral signing key at "
            f"{site.signing_key_file} is missing or not the one in use when the backup was made"
            f" (public key SHA-256 {recorded['public_key_sha256']}): restore it from its"
            " offline copy before signing referrals"
        )
    return report
