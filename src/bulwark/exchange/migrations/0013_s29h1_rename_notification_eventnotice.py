# The model's name no longer clashes with core.Notification (issue 21). Audit entries
# written before keep the label `exchange.notification`; EventNotice.audit_former_labels
# keeps them readable under the same rule.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0012_s27h7_rsit_type_labels"),
    ]

    operations = [
        migrations.RenameModel(old_name="Notification", new_name="EventNotice"),
    ]
