"""The constituency's version stamp (models.ConstituencyVersion): database triggers give it
a new random value, inside the writing transaction, on every change to the tables that
decide what a viewer sees and what the constituency API answers."""

from django.db import migrations, models

TABLES = (
    "constituency_organisation",
    "constituency_sector",
    "constituency_networkclaim",
    "constituency_user",
    "constituency_membership",
)

# An upsert, so a flushed (truncated) version table comes back on the next write.
PG_BUMP = """INSERT INTO constituency_version (id, stamp) VALUES (1, md5(random()::text || clock_timestamp()::text))
ON CONFLICT (id) DO UPDATE SET stamp = EXCLUDED.stamp"""
SQLITE_BUMP = """INSERT INTO constituency_version (id, stamp) VALUES (1, lower(hex(randomblob(16))))
ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp;"""

FORWARD = {
    "postgresql": [
        f"""CREATE FUNCTION constituency_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {PG_BUMP};
  RETURN NULL;
END $$""",
        *(
            f"""CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
ON {table} FOR EACH STATEMENT EXECUTE FUNCTION constituency_version_bump()"""
            for table in TABLES
        ),
        PG_BUMP,
    ],
    "sqlite": [
        *(
            f"CREATE TRIGGER {table}_version_{op.lower()} AFTER {op} ON {table} "
            f"BEGIN {SQLITE_BUMP} END"
            for table in TABLES
            for op in ("INSERT", "UPDATE", "DELETE")
        ),
        SQLITE_BUMP.rstrip(";"),
    ],
}
BACKWARD = {
    "postgresql": [
        *(f"DROP TRIGGER IF EXISTS {table}_version ON {table}" for table in TABLES),
        "DROP FUNCTION IF EXISTS constituency_version_bump()",
    ],
    "sqlite": [
        f"DROP TRIGGER IF EXISTS {table}_version_{op}"
        for table in TABLES
        for op in ("insert", "update", "delete")
    ],
}


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("constituency", "0005_s27h8_user_time_zone"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConstituencyVersion",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("stamp", models.CharField(max_length=40)),
            ],
            options={"db_table": "constituency_version"},
        ),
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
    ]
