"""The dashboards' tally (`FindingTally`): kept by database triggers, folded here."""

from django.db import connection, transaction

TALLY = "findings_findingtally"
_KEY = "organisation_id, status, severity, deadline, resolved"


def compact_tally() -> int:
    """Fold the tally's rows into one per key and drop the empty ones; returns the rows
    left. On PostgreSQL the triggers append a signed row per key and statement (so that
    writers never wait on each other), which this sums, in one statement: rows appended
    meanwhile by transactions not yet committed are left as they are, still counted. No
    audit entry: the tally holds no fact of its own, only counts of the findings."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH gone AS (DELETE FROM {TALLY} RETURNING {_KEY}, n) "  # noqa: S608
                f"INSERT INTO {TALLY} ({_KEY}, n) SELECT {_KEY}, SUM(n) FROM gone "
                f"GROUP BY {_KEY} HAVING SUM(n) <> 0"
            )
        else:
            cursor.execute(f"DELETE FROM {TALLY} WHERE n = 0")  # noqa: S608
        cursor.execute(f"SELECT COUNT(*) FROM {TALLY}")  # noqa: S608
        row = cursor.fetchone()
    return int(row[0]) if row else 0


# --- An import's new findings, counted once per batch (SQLite) --------------------------
_INSERT_TRIGGER = "findings_tally_insert"
_RESOLVED_AT = "COALESCE(fixed_at, mitigated_at, closed_at)"
# The new rows' keys and counts, as migration 0003's triggers compute them
_GROUPED = (
    f"SELECT organisation_id, status, severity, deadline, "  # noqa: S608
    f"CASE WHEN deadline IS NULL OR {_RESOLVED_AT} IS NULL THEN 0 "
    f"WHEN {_RESOLVED_AT} <= deadline THEN 1 ELSE 2 END AS resolved, COUNT(*) AS c "
    f"FROM findings_finding WHERE id BETWEEN %s AND %s GROUP BY 1, 2, 3, 4, 5"
)
_MATCH = (
    "t.organisation_id = g.organisation_id AND t.status = g.status AND "
    "t.severity = g.severity AND t.deadline IS g.deadline AND t.resolved = g.resolved"
)
# SQLite keeps one row per key: those there added to, the others inserted
_ADD = f"UPDATE {TALLY} AS t SET n = t.n + g.c FROM ({_GROUPED}) AS g WHERE {_MATCH}"  # noqa: S608
_NEW = (
    f"INSERT INTO {TALLY} ({_KEY}, n) SELECT g.* FROM ({_GROUPED}) AS g "  # noqa: S608
    f"WHERE NOT EXISTS (SELECT 1 FROM {TALLY} AS t WHERE {_MATCH})"
)


class InsertTally:
    """The tally of an import's new findings, on SQLite: the per-row insert trigger
    (an UPDATE and an INSERT ... WHERE NOT EXISTS per finding, a fifth of a 100,000-finding
    import) dropped inside the import's transaction, each batch's new rows counted by one
    grouped query instead, and the trigger created again, exactly as stored, before the
    transaction commits. SQLite's schema changes are transactional and writers take turns,
    so no other connection ever writes a finding while the trigger is absent; if the
    import fails, the rollback restores it. Updates and deletions keep their triggers.

    On PostgreSQL the triggers are per statement already (one grouped insert per COPY),
    and dropping one would lock the findings table against every reader: nothing here."""

    def __init__(self) -> None:
        self.trigger_sql = ""

    def pause(self) -> None:
        if connection.vendor != "sqlite" or self.trigger_sql:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s",
                [_INSERT_TRIGGER],
            )
            row = cursor.fetchone()
            if row is None:  # not installed (a database migrated without it)
                return
            self.trigger_sql = str(row[0])
            cursor.execute(f"DROP TRIGGER {_INSERT_TRIGGER}")

    def inserted(self, first: int, last: int) -> None:
        """Count the findings just inserted with ids first..last (while paused)."""
        if not self.trigger_sql:
            return
        with connection.cursor() as cursor:
            cursor.execute(_ADD, [first, last])
            cursor.execute(_NEW, [first, last])

    def resume(self) -> None:
        """The trigger back, in the same transaction (call before it commits)."""
        if not self.trigger_sql:
            return
        with connection.cursor() as cursor:
            cursor.execute(self.trigger_sql)
        self.trigger_sql = ""
