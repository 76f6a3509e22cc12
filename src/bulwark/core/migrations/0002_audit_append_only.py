"""The database itself refuses to rewrite audit entries (and, on PostgreSQL, to delete
them), so an application bug cannot; tampering by someone who drops these triggers is
caught by `bulwark audit verify`."""

from django.db import migrations

SQLITE_UP = [
    """CREATE TRIGGER core_auditentry_append_only_update BEFORE UPDATE ON core_auditentry
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS core_auditentry_append_only_update"]

POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION bulwark_audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER core_auditentry_append_only BEFORE UPDATE OR DELETE ON core_auditentry
       FOR EACH ROW EXECUTE FUNCTION bulwark_audit_append_only()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS core_auditentry_append_only ON core_auditentry",
    "DROP FUNCTION IF EXISTS bulwark_audit_append_only()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        )
    ]
