"""Indicators of incidents in the one canonical form of `bulwark.core.observables`
(issue 21): e-mail local parts lower-cased; URLs without default port or dot segments,
unreserved percent-escapes decoded; IPv6 without zone. Two indicators of one incident that
become equal are merged, their tags joined. A value the rules now refuse is left as it was.
"""

from typing import Any

from django.db import migrations

from bulwark.core.observables import InvalidIndicator, normalise

CHANGED_KINDS = ("email", "url", "ipv6")


def renormalise(apps: Any, schema_editor: Any) -> None:
    IncidentIndicator = apps.get_model("incidents", "IncidentIndicator")
    changed: list[tuple[int, str, str]] = []
    rows = IncidentIndicator.objects.filter(kind__in=CHANGED_KINDS).values_list(
        "pk", "kind", "value"
    )
    for pk, kind, text in rows.iterator(chunk_size=5000):
        try:
            new_kind, new_text = normalise(kind, text)
        except InvalidIndicator:
            continue
        if (new_kind, new_text) != (kind, text):
            changed.append((pk, new_kind, new_text))
    for pk, kind, text in changed:
        row = IncidentIndicator.objects.get(pk=pk)
        twin = (
            IncidentIndicator.objects.filter(incident_id=row.incident_id, kind=kind, value=text)
            .exclude(pk=pk)
            .first()
        )
        if twin is None:
            row.kind, row.value = kind, text
            row.save(update_fields=["kind", "value"])
            continue
        twin.tags = " ".join(sorted(set(twin.tags.split()) | set(row.tags.split())))
        twin.save(update_fields=["tags"])
        row.delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0011_s27int_indicator_tags")]

    operations = [migrations.RunPython(renormalise, migrations.RunPython.noop, elidable=True)]
