from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("constituency", "0004_s27h6_invitations"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="time_zone",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="time zone"),
        ),
    ]
