"""Fewer index entries per stored object (measured: bench/intel_ingest.py, docs/intel.md).

Django indexes every foreign key. Three of those indexes repeat the leading column of a
composite index (stixobject.collection; provenance.value and provenance.stix_object), and
four foreign keys are empty on almost every row (audience, sharing group, submitter,
category): those are indexed where set instead (partial indexes; `x = 5` implies
`x IS NOT NULL`, so PostgreSQL and SQLite both use them for lookups). The old indexes are
dropped by name, on both databases, instead of SQLite's table rebuild per altered field.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


DROPPED = [  # Django's names for the foreign-key indexes, the same on both databases
    ("intel_provenance_stix_object_id_86431e36", "intel_provenance", "stix_object_id"),
    ("intel_provenance_value_id_f9e04366", "intel_provenance", "value_id"),
    ("intel_stixobject_audience_org_id_99bfd3b2", "intel_stixobject", "audience_org_id"),
    ("intel_stixobject_category_id_f1430039", "intel_stixobject", "category_id"),
    ("intel_stixobject_collection_id_15acd48d", "intel_stixobject", "collection_id"),
    ("intel_stixobject_sharing_group_id_ccf80c8a", "intel_stixobject", "sharing_group_id"),
    ("intel_stixobject_submitted_by_id_bbe91761", "intel_stixobject", "submitted_by_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("constituency", "0002_critical_infrastructure_sectors"),
        ("intel", "0003_stixobject_submission"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="provenance",
                    name="stix_object",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="intel.stixobject",
                    ),
                ),
                migrations.AlterField(
                    model_name="provenance",
                    name="value",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="provenance",
                        to="intel.value",
                    ),
                ),
                migrations.AlterField(
                    model_name="stixobject",
                    name="audience_org",
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
                    model_name="stixobject",
                    name="category",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="intel.category",
                    ),
                ),
                migrations.AlterField(
                    model_name="stixobject",
                    name="collection",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="intel.collection",
                    ),
                ),
                migrations.AlterField(
                    model_name="stixobject",
                    name="sharing_group",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="intel.sharinggroup",
                    ),
                ),
                migrations.AlterField(
                    model_name="stixobject",
                    name="submitted_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
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
                condition=models.Q(("audience_org__isnull", False)),
                fields=["audience_org"],
                name="intel_obj_audience",
            ),
        ),
        migrations.AddIndex(
            model_name="stixobject",
            index=models.Index(
                condition=models.Q(("sharing_group__isnull", False)),
                fields=["sharing_group"],
                name="intel_obj_group",
            ),
        ),
        migrations.AddIndex(
            model_name="stixobject",
            index=models.Index(
                condition=models.Q(("submitted_by__isnull", False)),
                fields=["submitted_by"],
                name="intel_obj_submitter",
            ),
        ),
        migrations.AddIndex(
            model_name="stixobject",
            index=models.Index(
                condition=models.Q(("category__isnull", False)),
                fields=["category"],
                name="intel_obj_category",
            ),
        ),
    ]
