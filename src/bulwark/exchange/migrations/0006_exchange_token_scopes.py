"""The exchange API used the incidents:* token scopes before it had its own. Tokens issued
before this migration keep working: a token with incidents:read gets exchange:read, one
with incidents:write gets exchange:write. Tokens issued afterwards need the exchange
scopes named explicitly (docs/access.md)."""

from django.db import migrations

GRANTS = {"incidents:read": "exchange:read", "incidents:write": "exchange:write"}


def grant_exchange_scopes(apps, schema_editor):  # type: ignore[no-untyped-def]
    ApiToken = apps.get_model("constituency", "ApiToken")
    for token in ApiToken.objects.all().only("pk", "scopes").iterator():
        scopes = list(token.scopes or [])
        added = [new for old, new in GRANTS.items() if old in scopes and new not in scopes]
        if added:
            token.scopes = sorted(set(scopes) | set(added))
            token.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [
        ("constituency", "0002_critical_infrastructure_sectors"),
        ("exchange", "0005_event_from_foreign"),
    ]

    operations = [migrations.RunPython(grant_exchange_scopes, migrations.RunPython.noop)]
