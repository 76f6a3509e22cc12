# The model's name no longer clashes with intel.Sighting (issue 21). Audit entries written
# before keep the label `monitoring.sighting`; LogSighting.audit_former_labels keeps them
# readable under the same rule.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0003_s28h1_renormalise"),
    ]

    operations = [
        migrations.RenameModel(old_name="Sighting", new_name="LogSighting"),
        migrations.AlterModelOptions(
            name="logsighting",
            options={
                "ordering": ["-hour", "indicator"],
                "verbose_name": "sighting",
                "verbose_name_plural": "sightings",
            },
        ),
    ]
