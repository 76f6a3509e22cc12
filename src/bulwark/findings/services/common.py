"""What the findings services share: limits, the kept files, the import's bulk rows."""

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import connection, models
from django.utils.translation import gettext as _

from bulwark.constituency.models import Membership
from bulwark.core.bulk import insert_rows
from bulwark.findings import deadlines
from bulwark.findings.models import (
    ACTIVE_STATUSES,
    DedupeDecision,
    Engagement,
    EngagementStatus,
    Finding,
    FindingStatus,
    Severity,
)

CHUNK = 1024 * 1024
BATCH = 2000
# A scan file can be large (a Nessus file of 100,000 findings is ~300 MB).
MAX_SCAN_BYTES = 2 * 1024 * 1024 * 1024
MAX_EVIDENCE_BYTES = 50 * 1024 * 1024

# The statuses a finding keeps when it is seen again: a decision already taken.
KEPT_WHEN_SEEN = (FindingStatus.RISK_ACCEPTED, FindingStatus.FALSE_POSITIVE)

ENGAGEMENT_FLOW: dict[str, tuple[str, ...]] = {
    EngagementStatus.PLANNED: (EngagementStatus.IN_PROGRESS, EngagementStatus.CANCELLED),
    EngagementStatus.IN_PROGRESS: (EngagementStatus.REPORTING, EngagementStatus.CANCELLED),
    EngagementStatus.REPORTING: (EngagementStatus.DELIVERED, EngagementStatus.IN_PROGRESS),
    EngagementStatus.DELIVERED: (EngagementStatus.CLOSED,),
    EngagementStatus.CLOSED: (),
    EngagementStatus.CANCELLED: (),
}


# --- Files ------------------------------------------------------------------------------
def storage() -> FileSystemStorage:
    return FileSystemStorage(
        location=Path(settings.MEDIA_ROOT) / "findings", file_permissions_mode=0o440
    )


def display_name(raw: str) -> str:
    """The uploader's name, for display only: last path part, no control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return (name or "unnamed")[:255]


def keep_file(upload: IO[bytes], limit: int) -> tuple[str, int]:
    """Store `upload` under its SHA-256 (once) and return (sha256, size)."""
    digest, size = hashlib.sha256(), 0
    upload.seek(0)
    while chunk := upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise ValidationError(
                {"file": _("The file is larger than %(n)d bytes.") % {"n": limit}}
            )
        digest.update(chunk)
    if size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    sha = digest.hexdigest()
    name = f"{sha[:2]}/{sha}"
    store = storage()
    if not store.exists(name):
        upload.seek(0)
        store.save(name, upload)
    upload.seek(0)
    return sha, size


def open_kept(sha256: str) -> IO[bytes]:
    kept: IO[bytes] = storage().open(f"{sha256[:2]}/{sha256}", "rb")
    return kept


# --- Rows written without the ORM (an import's bulk) ------------------------------------
_FINDING_FIELDS = [f for f in Finding._meta.concrete_fields if not f.primary_key]
FINDING_COLUMNS = [str(f.column) for f in _FINDING_FIELDS]
_DATETIME = {i for i, f in enumerate(_FINDING_FIELDS) if f.get_internal_type() == "DateTimeField"}
_JSON = {i for i, f in enumerate(_FINDING_FIELDS) if f.get_internal_type() == "JSONField"}
_ATTNAMES = [str(f.attname) for f in _FINDING_FIELDS]


# What deduplication reads of a stored finding: not its texts (description, tool output
# up to 8 KiB), which made a re-import of 100,000 findings read them all.
CANDIDATE_FIELDS = (
    "pk", "fingerprint", "status", "last_seen", "assignee_id", "severity", "reopened_count",
)  # fmt: skip
# A new finding's values that an import does not set (the model's defaults).
FINDING_DEFAULTS: dict[str, Any] = {
    f.attname: (f.get_default() if f.has_default() else None) for f in _FINDING_FIELDS
}
FINDING_DEFAULTS.update(false_positive_reason="", reopened_count=0, kev=False)
SEVERITIES = frozenset(Severity.values)
# (finding id, outcome, previous status, candidates, reason)
Decision = tuple[int, str, str, list[dict[str, Any]], str]


def finding_row(values: dict[str, Any], adapted: dict[Any, Any] | None = None) -> tuple[Any, ...]:
    """A new finding's column values in the database's form. `adapted` (one dict for a
    whole import) memoises the datetimes' database form: an import's rows share a few
    deadlines and sighting times, and adapting each was a tenth of an import's time."""
    adapt = connection.ops.adapt_datetimefield_value
    memo = {} if adapted is None else adapted
    row: list[Any] = []
    for i, name in enumerate(_ATTNAMES):
        value = values[name]
        if i in _DATETIME:
            if value is not None:
                found = memo.get(value)
                if found is None:
                    found = memo[value] = adapt(value)
                value = found
        elif i in _JSON:
            value = "[]" if value == [] else json.dumps(value)
        row.append(value)
    return tuple(row)


def new_ids(model: type[models.Model], n: int) -> list[int]:
    """`n` unused primary keys of `model`'s table, for rows inserted with their ids:
    PostgreSQL's sequence advanced in one query; on SQLite (one writer at a time, inside
    the writing transaction) the next after the highest ever given (AUTOINCREMENT's
    sqlite_sequence, so a deleted finding's id is never given again)."""
    if n <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, n],
            )
            return [int(row[0]) for row in cursor.fetchall()]
        quoted = connection.ops.quote_name(table)
        cursor.execute(
            "SELECT MAX(top) FROM (SELECT seq AS top FROM sqlite_sequence WHERE name = %s "  # noqa: S608
            f"UNION ALL SELECT MAX(id) FROM {quoted})",
            [table],
        )
        row = cursor.fetchone()
        top = int(row[0] or 0) if row else 0
    return list(range(top + 1, top + n + 1))


def insert_decisions(scan_id: int, decisions: list[Decision], at: datetime) -> None:
    when = connection.ops.adapt_datetimefield_value(at)
    insert_rows(
        DedupeDecision._meta.db_table,
        ("scan_id", "finding_id", "outcome", "previous_status", "candidates", "reason", "at"),
        [
            (scan_id, finding_id, outcome, previous, json.dumps(listed), reason, when)
            for finding_id, outcome, previous, listed, reason in decisions
        ],
    )


def deadline_for(engagement: Engagement, severity: str, start: datetime) -> datetime | None:
    return deadlines.profile(engagement.deadline_profile).due(severity, start)


def candidate_order(f: Finding) -> tuple[int, float, int]:
    """Which finding of the same fingerprint an import continues: one still tracked
    (active, accepted or false positive) before a resolved one; then the one seen last."""
    tracked = 0 if f.status in (*ACTIVE_STATUSES, *KEPT_WHEN_SEEN) else 1
    return (tracked, -f.last_seen.timestamp(), -f.pk)


def agency_people(org_id: int, roles: Iterable[str]) -> list[int]:
    return list(
        Membership.objects.filter(
            organisation_id=org_id, role__in=list(roles), user__is_active=True
        ).values_list("user_id", flat=True)
    )
