"""Categories of shared information ship as data (they feed the statistics)."""

from typing import Any

from django.db import migrations

CATEGORIES = [
    ("early-warning", "Early warning", "早期預警"),
    ("vulnerability", "Vulnerability", "漏洞"),
    ("malware", "Malware", "惡意程式"),
    ("phishing", "Phishing", "網路釣魚"),
    ("intrusion", "Intrusion", "入侵"),
    ("ddos", "Denial of service", "阻斷服務"),
    ("spam", "Spam", "垃圾郵件"),
    ("fraud", "Fraud", "詐騙"),
    ("other", "Other", "其他"),
]


def add(apps: Any, schema_editor: Any) -> None:
    Category = apps.get_model("intel", "Category")
    for code, name, name_zh in CATEGORIES:
        Category.objects.get_or_create(code=code, defaults={"name": name, "name_zh_hant": name_zh})


def remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("intel", "Category").objects.filter(code__in=[c for c, _n, _z in CATEGORIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("intel", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
