"""Writing and verifying the audit chain."""

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from bulwark.core import anchor
from bulwark.core.models import AuditEntry, AuditHead
from bulwark.core.permissions import Actor
from bulwark.core.request_context import current_ip

GENESIS = "0" * 64


def _canonical(entry: AuditEntry) -> bytes:
    content = [
        entry.seq,
        entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        entry.actor_id,
        entry.actor_label,
        entry.ip,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.object_label,
        entry.organisation_id,
        entry.changes,
    ]
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, entry: AuditEntry) -> str:
    key = settings.AUDIT_CHAIN_KEY.encode()
    return hmac.new(key, prev_hash.encode() + b"|" + _canonical(entry), hashlib.sha256).hexdigest()


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Model):
        return str(value.pk)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def record(
    actor: Actor | None,
    action: str,
    obj: Model | None = None,
    *,
    changes: Mapping[str, Any] | None = None,
    organisation_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    object_label: str | None = None,
) -> AuditEntry:
    """Append one entry. `actor` is a user, or None for the system itself."""
    with transaction.atomic():
        head, _created = AuditHead.objects.select_for_update().get_or_create(pk=1)
        person = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
        entry = AuditEntry(
            seq=head.seq + 1,
            at=timezone.now(),
            actor_id=person.pk if person is not None else None,
            actor_label=person.get_username() if person is not None else "system",
            ip=current_ip(),
            action=action,
            object_type=object_type or (obj._meta.label_lower if obj is not None else ""),
            object_id=object_id or (str(obj.pk) if obj is not None else ""),
            object_label=(object_label or (str(obj) if obj is not None else ""))[:300],
            organisation_id=organisation_id,
            changes=_jsonable(dict(changes or {})),
            prev_hash=head.hash or GENESIS,
        )
        # Round-trip through JSON so the hash covers exactly what the database returns.
        entry.changes = json.loads(json.dumps(entry.changes))
        entry.hash = chain_hash(entry.prev_hash, entry)
        entry.save()
        head.seq, head.hash = entry.seq, entry.hash
        head.save(update_fields=["seq", "hash"])
        return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    anchored_at: str = ""


def verify_entries(entries: Iterable[AuditEntry], head: AuditHead | None) -> VerifyResult:
    expected_seq, prev = 1, GENESIS
    checked = 0
    for entry in entries:
        if entry.seq != expected_seq:
            if entry.seq > expected_seq:
                reason = f"entries {expected_seq}..{entry.seq - 1} are missing"
                return VerifyResult(False, checked, expected_seq, reason)
            return VerifyResult(False, checked, entry.seq, "sequence number repeats")
        if entry.prev_hash != prev:
            return VerifyResult(
                False, checked, entry.seq, "does not link to the previous entry's hash"
            )
        if not hmac.compare_digest(entry.hash, chain_hash(prev, entry)):
            return VerifyResult(False, checked, entry.seq, "content does not match its hash")
        prev, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    head_seq = head.seq if head else 0
    if head_seq != checked or (head is not None and head.hash and head.hash != prev):
        first_missing = checked + 1
        reason = f"the log ends at entry {checked} but its head records entry {head_seq}"
        return VerifyResult(False, checked, first_missing, reason)
    return VerifyResult(True, checked)


def verify() -> VerifyResult:
    """The chain, then the table against the newest signed checkpoint outside the
    database (core/anchor.py), which catches a log emptied together with its head."""
    try:
        point = anchor.latest()
    except anchor.AnchorError as exc:
        return VerifyResult(False, 0, None, str(exc))
    hash_at: dict[int, str] = {}

    def watched(entries: Iterable[AuditEntry]) -> Iterable[AuditEntry]:
        for entry in entries:
            if point is not None and entry.seq == point.seq:
                hash_at[entry.seq] = entry.hash
            yield entry

    entries = AuditEntry.objects.order_by("seq").iterator(chunk_size=2000)
    result = verify_entries(watched(entries), AuditHead.objects.filter(pk=1).first())
    if not result.ok or point is None:
        return result
    problem = anchor.compare(point, result.checked, hash_at)
    if problem:
        first_bad = result.checked + 1 if result.checked < point.count else point.seq
        return VerifyResult(False, result.checked, first_bad, problem)
    return VerifyResult(True, result.checked, anchored_at=point.describe())
