"""Signed checkpoints of the audit chain's head, kept outside the database.

The hash chain proves that the entries in the table link up, and the head row catches a
tail cut off; neither survives someone who empties both tables (DELETE, or TRUNCATE on
PostgreSQL): an empty log is a whole chain. A checkpoint records the head (entry number,
hash, count, time), signed with an HMAC keyed from the audit key, as one JSON line
appended to `settings.AUDIT_ANCHOR_FILE` (and, when `AUDIT_ANCHOR_EMAIL` is set, mailed
there too), so the evidence of what the log held lives where the database's users cannot
reach it. `audit.verify` compares the table with the newest checkpoint.
"""

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from bulwark.core.mail import send_email
from bulwark.core.models import AuditEntry, AuditHead

# A periodic checkpoint is written when the head moved and the last one is this old.
CHECKPOINT_EVERY = timedelta(minutes=10)
FIELDS = ("seq", "hash", "count", "at")


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    count: int
    at: str  # ISO 8601, UTC

    def describe(self) -> str:
        return f"the checkpoint of {self.at} (entry #{self.seq}, {self.count} entries)"


class AnchorError(Exception):
    """The anchor file is damaged or forged: verification cannot trust it."""


def _key() -> bytes:
    # A key of its own, derived from the audit key, so a checkpoint's signature can never
    # be passed off as an entry's hash or the other way round.
    return hmac.new(
        settings.AUDIT_CHAIN_KEY.encode(), b"bulwark audit anchor", hashlib.sha256
    ).digest()


def _payload(point: Checkpoint) -> bytes:
    body = {name: getattr(point, name) for name in FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(point: Checkpoint) -> str:
    return hmac.new(_key(), _payload(point), hashlib.sha256).hexdigest()


def anchor_path() -> Path:
    return Path(settings.AUDIT_ANCHOR_FILE)


def read_checkpoints(path: Path | None = None) -> list[Checkpoint]:
    """Every checkpoint in the file, oldest first; AnchorError names the first line that
    is not a checkpoint with a good signature, or that goes back in the log."""
    path = path or anchor_path()
    if not path.exists():
        return []
    points: list[Checkpoint] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                point = Checkpoint(
                    int(data["seq"]), str(data["hash"]), int(data["count"]), str(data["at"])
                )
                signature = str(data["sig"])
            except (ValueError, KeyError, TypeError):
                raise AnchorError(f"{path} line {number} is not a checkpoint") from None
            if not hmac.compare_digest(signature, sign(point)):
                raise AnchorError(
                    f"{path} line {number} has a bad signature: the anchor file was forged "
                    "or damaged, or the audit key changed"
                )
            if points and point.seq < points[-1].seq:
                raise AnchorError(
                    f"{path} line {number} goes back from entry #{points[-1].seq} to #{point.seq}"
                )
            points.append(point)
    return points


def latest(path: Path | None = None) -> Checkpoint | None:
    points = read_checkpoints(path)
    return points[-1] if points else None


def _append(path: Path, line: str) -> None:
    """Append one line under an exclusive lock (two schedulers never interleave), then
    fsync: a checkpoint that is not on disk anchors nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint(*, periodic: bool = False, now: datetime | None = None) -> Checkpoint | None:
    """Record the current head when it moved since the last checkpoint; `periodic` (the
    scheduler's task) also waits until the last one is CHECKPOINT_EVERY old. Returns the
    new checkpoint, or None when none was written."""
    now = now or timezone.now()
    head = AuditHead.objects.filter(pk=1).first()
    seq, head_hash = (head.seq, head.hash) if head else (0, "")
    if seq == 0:
        return None  # an empty log anchors nothing
    previous = latest()
    if previous is not None:
        if previous.seq == seq and previous.hash == head_hash:
            return None
        if periodic and now - datetime.fromisoformat(previous.at) < CHECKPOINT_EVERY:
            return None
    point = Checkpoint(
        seq=seq,
        hash=head_hash,
        count=AuditEntry.objects.filter(seq__lte=seq).count(),
        at=now.astimezone(UTC).isoformat(timespec="seconds"),
    )
    record: dict[str, Any] = {name: getattr(point, name) for name in FIELDS}
    record["sig"] = sign(point)
    line = json.dumps(record, sort_keys=True) + "\n"
    _append(anchor_path(), line)
    recipients = list(getattr(settings, "AUDIT_ANCHOR_EMAIL", []) or [])
    if recipients:
        subject = f"[{settings.CERT_NAME}] audit checkpoint #{point.seq}"
        body = (
            "Keep this message: it records what the audit log held. `bulwark audit verify` "
            "fails if the log later holds less.\n\n" + line
        )
        send_email.enqueue(subject, body, recipients)
    return point


def compare(point: Checkpoint | None, count: int, hash_at: dict[int, str]) -> str:
    """Why the table (its entry count, and the hash it holds at the checkpointed entry)
    contradicts the checkpoint, or "" when it agrees."""
    if point is None:
        return ""
    if count < point.count:
        return (
            f"the log holds {count} entries but {point.describe()} recorded "
            f"{point.count}: entries were deleted"
        )
    if point.seq not in hash_at:
        return f"entry #{point.seq}, recorded by {point.describe()}, is missing"
    if not hmac.compare_digest(hash_at[point.seq], point.hash):
        return f"entry #{point.seq} does not have the hash recorded by {point.describe()}"
    return ""
