"""PostgreSQL: the findings' long texts (description, solution, tool output, up to 8 KiB
each) compressed with lz4 instead of pglz when they are stored out of line or inline
compressed: a COPY of 100,000 Nessus findings took 6.0 s of server CPU with pglz and
4.7 s with lz4, the table the same size (bench/findings_million.py). Rows already stored
keep their compression until rewritten. Nothing on SQLite; a server built without lz4
keeps pglz."""

from django.db import migrations

COLUMNS = ("description", "solution", "evidence")
LZ4 = (
    "DO $$ BEGIN "
    + " ".join(
        f"ALTER TABLE findings_finding ALTER COLUMN {c} SET COMPRESSION lz4;" for c in COLUMNS
    )
    + " EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL; END $$"
)
PGLZ = " ".join(
    f"ALTER TABLE findings_finding ALTER COLUMN {c} SET COMPRESSION pglz;" for c in COLUMNS
)


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LZ4, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PGLZ, params=None)


class Migration(migrations.Migration):
    dependencies = [("findings", "0005_s31h5_checklist_results_status_history")]

    operations = [migrations.RunPython(forwards, backwards, elidable=True)]
