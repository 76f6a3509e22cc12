"""IPv4-mapped and -compatible IPv6 prefixes in sightings, alerts and suppressions in the
canonical form of `bulwark.core.observables` (issue 21): the engine reported them as
pytricia writes them (`::ffff:0.0.0.0/96`) instead of as the indicator holds them
(`::ffff:0:0/96`). Sightings of one agency, prefix and hour that become equal are added up;
a suppression that becomes a duplicate is dropped (the other one suppresses the same).
Every other monitoring value was already stored in the canonical form.
"""

from typing import Any

from django.db import migrations

from bulwark.core.observables import InvalidIndicator, normalise


def _canonical(text: str) -> str | None:
    try:
        kind, canonical = normalise("cidr", text)
    except InvalidIndicator:
        return None
    return canonical if kind == "cidr" and canonical != text else None


def renormalise(apps: Any, schema_editor: Any) -> None:
    Sighting = apps.get_model("monitoring", "Sighting")
    Alert = apps.get_model("monitoring", "Alert")
    Suppression = apps.get_model("monitoring", "Suppression")
    dotted = {"indicator_type": "cidr", "indicator__contains": ":"}
    for row in list(Sighting.objects.filter(**dotted).filter(indicator__contains=".")):
        text = _canonical(row.indicator)
        if text is None:
            continue
        twin = (
            Sighting.objects.filter(
                organisation_id=row.organisation_id, indicator_type="cidr", indicator=text,
                hour=row.hour,
            )
            .exclude(pk=row.pk)
            .first()
        )  # fmt: skip
        if twin is None:
            row.indicator = text
            row.save(update_fields=["indicator"])
            continue
        twin.count += row.count
        twin.first_seen = min(twin.first_seen, row.first_seen)
        twin.last_seen = max(twin.last_seen, row.last_seen)
        twin.save(update_fields=["count", "first_seen", "last_seen"])
        row.delete()
    for alert in list(Alert.objects.filter(**dotted).filter(indicator__contains=".")):
        text = _canonical(alert.indicator)
        if text is not None:
            alert.indicator = text
            alert.save(update_fields=["indicator"])
    for suppression in list(Suppression.objects.filter(**dotted).filter(indicator__contains=".")):
        text = _canonical(suppression.indicator)
        if text is None:
            continue
        if Suppression.objects.filter(
            organisation_id=suppression.organisation_id, indicator_type="cidr", indicator=text
        ).exists():
            suppression.delete()
        else:
            suppression.indicator = text
            suppression.save(update_fields=["indicator"])


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0002_processed_batch")]

    operations = [migrations.RunPython(renormalise, migrations.RunPython.noop, elidable=True)]
