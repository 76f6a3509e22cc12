"""Stored values in the one canonical form of `bulwark.core.observables` (issue 21).

E-mail local parts are lower-cased, URLs lose their default port and dot segments and
have their unreserved percent-escapes decoded, an IPv6 address loses its zone. A value
that becomes equal to one already stored is merged into it: its provenance (the STIX
objects that carry it) and its sightings move over, its counts are added. A value the
rules now refuse is left as it was (nothing is lost; its objects keep their pattern).
"""

from typing import Any

from django.db import migrations

from bulwark.core.observables import InvalidIndicator, normalise

CHANGED_KINDS = ("email", "url", "ipv6")


def renormalise(apps: Any, schema_editor: Any) -> None:
    Value = apps.get_model("intel", "Value")
    Provenance = apps.get_model("intel", "Provenance")
    Sighting = apps.get_model("intel", "Sighting")
    changed: list[tuple[int, str, str]] = []
    rows = Value.objects.filter(kind__in=CHANGED_KINDS).values_list("pk", "kind", "value")
    for pk, kind, text in rows.iterator(chunk_size=5000):
        try:
            new_kind, new_text = normalise(kind, text)
        except InvalidIndicator:
            continue
        if (new_kind, new_text) != (kind, text):
            changed.append((pk, new_kind, new_text))
    for pk, kind, text in changed:
        row = Value.objects.get(pk=pk)
        survivor = Value.objects.filter(kind=kind, value=text).exclude(pk=pk).first()
        if survivor is None:
            row.kind, row.value = kind, text
            row.save(update_fields=["kind", "value"])
            continue
        Provenance.objects.filter(value_id=pk).update(value_id=survivor.pk)
        Sighting.objects.filter(value_id=pk).update(value_id=survivor.pk)
        survivor.sighting_count += row.sighting_count
        survivor.false_positive_count += row.false_positive_count
        seen = [t for t in (survivor.last_sighted_at, row.last_sighted_at) if t is not None]
        survivor.last_sighted_at = max(seen) if seen else None
        survivor.save(update_fields=["sighting_count", "false_positive_count", "last_sighted_at"])
        row.delete()


class Migration(migrations.Migration):
    dependencies = [("intel", "0006_s27h4_indicator_detect")]

    operations = [migrations.RunPython(renormalise, migrations.RunPython.noop, elidable=True)]
