"""STIX objects shared in the community collection through the intel app's ingest, and
the agencies' sightings of some of their values."""

import hashlib
import random
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from bulwark.analytics.demo.common import (
    COMMUNITY,
    MARKER,
    PER_YEAR,
    Month,
    count_in,
    insert_rows,
    moment_in,
    pick,
    stable_uuid,
    update_rows,
)
from bulwark.analytics.demo.exchange import MALWARE
from bulwark.constituency.models import Organisation
from bulwark.core.tlp import STIX_MARKING_IDS, TLP
from bulwark.intel import services
from bulwark.intel.models import (
    Category,
    Collection,
    Provenance,
    Sighting,
    StixObject,
    Submission,
    Value,
)

# --------------------------------------------------------------------------- intel

# (category code, share, STIX object kinds it is shared as)
SHARED_MIX: list[tuple[str, float, tuple[str, ...]]] = [
    ("early-warning", 45, ("ipv4", "domain", "url")),
    ("vulnerability", 15, ("vulnerability",)),
    ("malware", 12, ("sha256", "malware")),
    ("phishing", 10, ("url", "domain")),
    ("intrusion", 6, ("ipv4", "course-of-action")),
    ("ddos", 4, ("ipv4",)),
    ("spam", 3, ("ipv4", "domain")),
    ("fraud", 3, ("domain", "url")),
    ("other", 2, ("ipv4",)),
]
SHARED_TLP = [(TLP.GREEN, 55), (TLP.AMBER, 25), (TLP.CLEAR, 15), (TLP.AMBER_STRICT, 5)]
SHARERS = ("Financial ISAC (demo)", "Academic ISAC (demo)", "Communications ISAC (demo)",
           "Formosa Managed Security (demo)")  # fmt: skip
PATHS = {
    "ipv4": "ipv4-addr:value", "domain": "domain-name:value", "url": "url:value",
    "sha256": "file:hashes.'SHA-256'",
}  # fmt: skip


def load_shared(rng: random.Random, months: list[Month]) -> int:
    """STIX objects through the intel app's own ingest, one submission a month (the
    community's monthly exchange), then each placed at its time of sharing with its
    category and the member that shared it (None: the CERT itself)."""

    if Submission.objects.filter(raw=MARKER).exists():
        return 0
    collection = Collection.objects.filter(title=COMMUNITY).first()
    categories = dict(Category.objects.values_list("code", "pk"))
    if collection is None or not categories:
        return 0
    sharers = list(Organisation.objects.filter(name__in=SHARERS).values_list("pk", flat=True))
    sources: list[int | None] = [None, *sharers]
    mix = [((code, kinds), share) for code, share, kinds in SHARED_MIX if code in categories]
    stored = 0
    serial = 0
    for month in months:
        objects = []
        placed: dict[str, tuple[datetime, int | None, int]] = {}
        for when in sorted(
            moment_in(rng, month) for _i in range(count_in(rng, PER_YEAR["shared"], month))
        ):
            code, kinds = pick(rng, mix)
            serial += 1
            stix = _stix(rng, serial, rng.choice(kinds), code, when)
            objects.append(stix)
            placed[stix["id"]] = (when, rng.choice(sources), categories[code])
        if not objects:
            continue
        shared = services.ingest_objects(None, collection, objects, raw=MARKER, channel="demo")
        rows = [
            (*placed[stix_id], pk)
            for stix_id, pk in StixObject.objects.filter(submission=shared.submission).values_list(
                "stix_id", "pk"
            )
            if stix_id in placed
        ]
        update_rows(StixObject, ("date_added", "source_org", "category"), rows)
        last = max(when for when, _source, _category in placed.values())
        Submission.objects.filter(pk=shared.submission.pk).update(
            received_at=last, processed_at=last
        )
        stored += len(rows)
    _sightings(rng)
    return stored


def _sightings(rng: random.Random) -> None:
    """Agencies saw a few of the shared values in their logs (some false positives),
    within weeks of the sharing; the values' counters as record_sighting keeps them."""

    agencies = list(
        Organisation.objects.filter(kind__in=["government_agency", "ci_operator"])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    shared = (
        Provenance.objects.filter(stix_object__submission__raw=MARKER)
        .order_by("value_id")
        .values_list("value_id", "stix_object__date_added")
    )
    now = timezone.now()
    rows: list[Sighting] = []
    counters: dict[int, list[Any]] = {}  # value id -> [sightings, false positives, last]
    for value_id, added in shared:
        if not agencies or rng.random() > 0.05:
            continue
        for _n in range(rng.choice((1, 1, 2, 3))):
            first = added + timedelta(days=rng.uniform(0, 30))
            last = min(first + timedelta(hours=rng.uniform(0, 72)), now)
            if first > now:
                continue
            count, false_positive = rng.randint(1, 40), rng.random() < 0.08
            rows.append(
                Sighting(
                    value_id=value_id, organisation_id=rng.choice(agencies), count=count,
                    first_seen=first, last_seen=last, source="firewall log",
                    false_positive=false_positive, recorded_at=last,
                )
            )  # fmt: skip
            cell = counters.setdefault(value_id, [0, 0, last])
            cell[1 if false_positive else 0] += 1 if false_positive else count
            cell[2] = max(cell[2], last)
    insert_rows(Sighting, rows)
    values = Value.objects.in_bulk(list(counters))
    update_rows(
        Value,
        ("sighting_count", "false_positive_count", "last_sighted_at"),
        [
            (
                values[pk].sighting_count + seen,
                values[pk].false_positive_count + wrong,
                max(last, values[pk].last_sighted_at or last),
                pk,
            )
            for pk, (seen, wrong, last) in counters.items()
        ],
    )


def _stix(
    rng: random.Random, serial: int, kind: str, category: str, when: datetime
) -> dict[str, Any]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    tlp = pick(rng, SHARED_TLP)
    common = {
        "spec_version": "2.1", "created": stamp, "modified": stamp,
        "object_marking_refs": [STIX_MARKING_IDS[tlp]],
    }  # fmt: skip
    oid = stable_uuid("stix", serial)
    if kind == "vulnerability":
        cve = f"CVE-{when.year}-{20000 + serial % 30000}"
        return {"type": "vulnerability", "id": f"vulnerability--{oid}", "name": cve,
                "external_references": [{"source_name": "cve", "external_id": cve}], **common}  # fmt: skip
    if kind == "malware":
        return {"type": "malware", "id": f"malware--{oid}", "name": rng.choice(MALWARE).title(),
                "is_family": True, **common}  # fmt: skip
    if kind == "course-of-action":
        return {"type": "course-of-action", "id": f"course-of-action--{oid}",
                "name": "Block the reported addresses at the perimeter", **common}  # fmt: skip
    value = _observable(serial, kind)
    return {
        "type": "indicator", "id": f"indicator--{oid}",
        "name": f"{category.replace('-', ' ').capitalize()}: {value}",
        "indicator_types": ["malicious-activity"], "pattern": f"[{PATHS[kind]} = '{value}']",
        "pattern_type": "stix", "valid_from": stamp, "confidence": rng.choice((50, 70, 85)),
        **common,
    }  # fmt: skip


def _observable(serial: int, kind: str) -> str:
    if kind == "ipv4":
        return f"203.0.{113 if serial % 2 else 112}.{serial % 254 + 1}"
    if kind == "domain":
        return f"h{serial}.history-demo.example"
    if kind == "url":
        return f"http://h{serial}.history-demo.example/login"
    return hashlib.sha256(f"history-sample-{serial}".encode()).hexdigest()
