"""Findings' status history: every change of a finding's status is one `StatusChange` row,
so a past moment's status is known (the annual report counts the year's findings as they
stood at its end, `selectors.status_at`).

One function writes them, for one finding or for an import's thousands: the workflow's
services call it with one change, the imports with a batch (straight into the table,
`core.bulk.insert_rows`: COPY on PostgreSQL)."""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.utils import timezone

from bulwark.core.bulk import insert_rows
from bulwark.findings.models import StatusChange

_COLUMNS = ("finding_id", "from_status", "to_status", "deadline", "at", "actor_id", "scan_id")


def record_status_changes(
    changes: Iterable[tuple[int, str, str, datetime | None]],
    at: datetime | None = None,
    *,
    actor_id: int | None = None,
    scan_id: int | None = None,
) -> int:
    """Record (finding id, previous status, new status, the deadline it had until then)
    changes made at `at` (now) by `actor_id` or the import `scan_id`, in the caller's
    transaction; a "change" to the same status is skipped. Returns the rows written."""
    adapt = connection.ops.adapt_datetimefield_value
    when = adapt(at or timezone.now())
    rows = [
        (pk, str(before), str(after), adapt(deadline), when, actor_id, scan_id)
        for pk, before, after, deadline in changes
        if str(before) != str(after)
    ]
    if rows:
        insert_rows(StatusChange._meta.db_table, _COLUMNS, rows)
    return len(rows)
