from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0010_pending_events_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="columnmapping",
            name="options",
            field=models.JSONField(blank=True, default=dict, verbose_name="options"),
        ),
    ]
