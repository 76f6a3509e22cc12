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
