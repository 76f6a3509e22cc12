from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("intel", "0005_partial_source_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="indicator",
            name="detect",
            field=models.BooleanField(db_default=True, default=True, verbose_name="for detection"),
        ),
    ]
