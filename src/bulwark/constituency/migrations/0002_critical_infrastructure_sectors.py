"""The eight critical-infrastructure domains used in Taiwan, as data."""

from django.db import migrations

SECTORS = [
    ("energy", "Energy", "能源", True),
    ("water", "Water resources", "水資源", True),
    ("communications", "Communications", "通訊傳播", True),
    ("transportation", "Transportation", "交通", True),
    ("banking-finance", "Banking and finance", "銀行與金融", True),
    ("emergency-hospitals", "Emergency rescue and hospitals", "緊急救援與醫院", True),
    ("government", "Central and local government", "中央與地方政府機關", True),
    ("high-tech-parks", "High-tech parks", "高科技園區", True),
]


def add_sectors(apps, schema_editor):
    Sector = apps.get_model("constituency", "Sector")
    for code, name, name_zh, ci in SECTORS:
        Sector.objects.update_or_create(
            code=code,
            defaults={"name": name, "name_zh_hant": name_zh, "critical_infrastructure": ci},
        )


def remove_sectors(apps, schema_editor):
    apps.get_model("constituency", "Sector").objects.filter(code__in=[s[0] for s in SECTORS]).delete()


class Migration(migrations.Migration):
    dependencies = [("constituency", "0001_initial")]
    operations = [migrations.RunPython(add_sectors, remove_sectors)]
