"""The advisory categories ship as data (the statistics count advisories by category)."""

from typing import Any

from django.db import migrations

CATEGORIES = [
    ("vulnerability-alert", "Vulnerability alert", "漏洞警訊"),
    ("early-warning", "Early warning", "預警"),
    ("malware-alert", "Malware alert", "惡意程式警訊"),
    ("incident-notice", "Incident notice", "事件通報"),
    ("policy-notice", "Policy notice", "政策公告"),
    ("security-news", "Security news", "資安新聞"),
    ("guideline", "Guideline", "指引"),
]


def add(apps: Any, schema_editor: Any) -> None:
    category = apps.get_model("advisories", "Category")
    for code, name, name_zh in CATEGORIES:
        category.objects.update_or_create(
            code=code, defaults={"name": name, "name_zh_hant": name_zh}
        )


class Migration(migrations.Migration):
    dependencies = [("advisories", "0001_initial")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
