"""The source organisation of an object and of a provenance row is indexed where set.

Objects and provenance that the platform itself imports (feeds, the CERT's own bundles)
have no source organisation, and they are the bulk of a store: a full index kept an entry
for each of them that no lookup reads (`source_org_id IN (...)` and `= x` imply
`IS NOT NULL`, so PostgreSQL and SQLite use the partial index for them, as for the
audience and sharing-group indexes of 0004). Measured with bench/intel_ingest.py.
"""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [  # Django's names for the foreign-key indexes, the same on both databases
    ("intel_stixobject_source_org_id_58a31289", "intel_stixobject", "source_org_id"),
    ("intel_provenance_organisation_id_a44dc27b", "intel_provenance", "organisation_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("constituency", "0002_critical_infrastructure_sectors"),
        ("intel", "0004_lean_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="stixobject",
                    name="source_org",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="constituency.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="provenance",
                    name="organisation",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="constituency.organisation",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for name, table, column in DROPPED
            ],
        ),
        migrations.AddIndex(
            model_name="stixobject",
            index=models.Index(
                condition=models.Q(("source_org__isnull", False)),
                fields=["source_org"],
                name="intel_obj_source",
            ),
        ),
        migrations.AddIndex(
            model_name="provenance",
            index=models.Index(
                condition=models.Q(("organisation__isnull", False)),
                fields=["organisation"],
                name="intel_prov_org",
            ),
        ),
    ]
