"""TAXII GET objects?limit=1000 over 1 M stored objects on PostgreSQL (target p95 <= 150 ms),
medallion 3.0.0 (memory backend) on the same objects in the same run (the peer, at growing
sizes up to 100 k while a page takes under 20 s),
and correlation: a value's siblings (target <= 5 ms) at the same scale.

Builds a dedicated database `bulwark_bench_taxii` (dropped and recreated, migrated), a CERT,
a member organisation with one ISAC member and a bearer token, one community collection,
then N TLP:GREEN indicator objects shared by the CERT (one seeded `INSERT ... SELECT
generate_series`), their values (90 % of N distinct IPv4 addresses, so 10 % of values have
two sources), one provenance row per object, 256 /16 prefixes that contain them, then
VACUUM ANALYZE. Indicator rows (used by the indicator pages, not by TAXII or correlation)
are not generated.

Measured in-process through Django's test Client with the member's token (no socket), so
the visibility rule (TLP, collections, sharing groups) is applied as for any member:
  walk     first page, then 20 pages following `next`
  jump     20 pages starting at random added_after timestamps
Correlation: `selectors.siblings(member, value)` (the readable objects carrying the value)
for 300 random values, and the whole value page's `selectors.correlate` (siblings,
incident indicators, containing prefixes with counts, sightings).
Peer: medallion's memory backend loaded with the first 100 k objects (same JSON), GET
objects?limit=1000 through Flask's test client: first page and following `next`.
One JSON line is appended to bench/results/taxii_page.jsonl.

Usage: python bench/taxii_page.py [--objects 1000000] [--peer-objects 100000] [--reuse]
"""

import argparse
import base64
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DB = "bulwark_bench_taxii"
TARGET_P95_MS = 150.0
TARGET_CORRELATION_MS = 5.0
TAXII = "application/taxii+json;version=2.1"
PEER_GIVE_UP_S = 20.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def setup(reuse: bool) -> None:
    if not reuse:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {DB}")
            c.execute(f"CREATE DATABASE {DB}")
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    os.environ.setdefault("BULWARK_ALLOWED_HOSTS", "testserver,localhost")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(objects: int) -> tuple[Any, Any, str]:
    from django.db import connection

    from bulwark.constituency import services as cs
    from bulwark.constituency.models import Organisation, User
    from bulwark.intel.models import Collection, StixObject

    cert, _ = Organisation.objects.get_or_create(
        name="Bench CERT", defaults={"kind": "national_cert"}
    )
    member_org, _ = Organisation.objects.get_or_create(
        name="Bench bank", defaults={"kind": "ci_operator"}
    )
    member, created = User.objects.get_or_create(
        username="bench-member", defaults={"email": "bench-member@example.org"}
    )
    if created:
        cs.add_membership(None, member, member_org, "isac_member")
    collection, _ = Collection.objects.get_or_create(
        title="Bench community", defaults={"requires_review": False}
    )
    _token, secret = cs.create_api_token(None, member, name="bench", scopes=["intel:read"])
    if StixObject.objects.filter(collection=collection).count() >= objects:
        return member, collection, secret
    distinct = int(objects * 0.9)
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO intel_stixobject (id, collection_id, stix_id, type, spec_version, created,
                modified, version, date_added, is_latest, tlp, source_org_id, audience_org_id,
                sharing_group_id, submitted_by_id, status, category_id, raw)
            SELECT g, %(c)s, s.sid, 'indicator', '2.1', s.t, s.t, s.t,
                timestamptz '2026-01-01 00:00:00+00' + g * interval '7 milliseconds', true, 1,
                %(org)s, NULL, NULL, NULL, 'published', NULL,
                json_build_object(
                    'type', 'indicator', 'spec_version', '2.1', 'id', s.sid,
                    'created', to_char(s.t, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'modified', to_char(s.t, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'name', 'Scanner seen by the sensor network',
                    'indicator_types', json_build_array('malicious-activity'),
                    'pattern', '[ipv4-addr:value = ''' || s.ip || ''']',
                    'pattern_type', 'stix',
                    'valid_from', to_char(s.t, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                    'confidence', 70,
                    'object_marking_refs',
                    json_build_array('marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb')
                )::text
            FROM generate_series(1, %(n)s) g,
            LATERAL (SELECT
                'indicator--' || md5('bench' || g)::uuid AS sid,
                timestamptz '2025-12-01 00:00:00+00' + (g %% 10000) * interval '1 minute' AS t,
                '10.' || (((g - 1) %% %(d)s + 1) >> 16) || '.'
                    || ((((g - 1) %% %(d)s + 1) >> 8) & 255) || '.'
                    || (((g - 1) %% %(d)s + 1) & 255) AS ip) s
            """,
            {"c": collection.pk, "org": cert.pk, "n": objects, "d": distinct},
        )
        cur.execute(
            """
            INSERT INTO intel_value (id, kind, value, net_key, sighting_count,
                false_positive_count)
            SELECT g, 'ipv4', '10.' || (g >> 16) || '.' || ((g >> 8) & 255) || '.' || (g & 255),
                '4:' || lpad(to_hex(167772160 + g), 8, '0'), 0, 0
            FROM generate_series(1, %(d)s) g
            """,
            {"d": distinct},
        )
        cur.execute(
            """
            INSERT INTO intel_value (id, kind, value, net_key, sighting_count,
                false_positive_count)
            SELECT %(d)s + k + 1, 'cidr', '10.' || k || '.0.0/16',
                '4:' || lpad(to_hex(167772160 + k * 65536), 8, '0'), 0, 0
            FROM generate_series(0, 255) k
            """,
            {"d": distinct},
        )
        cur.execute(
            """
            INSERT INTO intel_provenance (value_id, stix_object_id, organisation_id, confidence,
                tlp)
            SELECT (g - 1) %% %(d)s + 1, g, %(org)s, 70, 1 FROM generate_series(1, %(n)s) g
            UNION ALL
            SELECT %(d)s + k + 1, k + 1, %(org)s, 50, 1 FROM generate_series(0, 255) k
            """,
            {"d": distinct, "n": objects, "org": cert.pk},
        )
        for table in ("intel_stixobject", "intel_value"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    connection.commit() if not connection.get_autocommit() else None
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"built {objects} objects in {time.perf_counter() - started:.0f} s")
    return member, collection, secret


def measure_ours(collection: Any, secret: str, rng: random.Random) -> dict[str, Any]:
    from django.test import Client

    from bulwark.intel.models import StixObject

    client = Client()
    headers = {"HTTP_ACCEPT": TAXII, "HTTP_AUTHORIZATION": f"Bearer {secret}"}
    url = f"/taxii2/api/collections/{collection.uuid}/objects/"
    client.get(url, {"limit": 1000}, **headers)  # warm caches
    walk: list[float] = []
    params: dict[str, Any] = {"limit": 1000}
    for _ in range(21):
        t = time.perf_counter()
        r = client.get(url, params, **headers)
        walk.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.content[:300]
        body = json.loads(r.content)
        assert len(body["objects"]) == 1000
        if not body["more"]:
            break
        params = {"limit": 1000, "next": body["next"]}
    first = StixObject.objects.filter(collection=collection).order_by("date_added").first()
    last = StixObject.objects.filter(collection=collection).order_by("-date_added").first()
    assert first is not None and last is not None
    span = (last.date_added - first.date_added).total_seconds()
    jump: list[float] = []
    for _ in range(20):
        at = first.date_added.timestamp() + rng.random() * span * 0.99
        stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        t = time.perf_counter()
        r = client.get(url, {"limit": 1000, "added_after": stamp}, **headers)
        jump.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    everything = walk + jump
    return {
        "requests": len(everything),
        "p50_ms": round(statistics.median(everything), 1),
        "p95_ms": round(p95(everything), 1),
        "walk_p95_ms": round(p95(walk), 1),
        "jump_p95_ms": round(p95(jump), 1),
        "bytes_per_page": len(r.content),
    }


def measure_correlation(member: Any, rng: random.Random, objects: int) -> dict[str, Any]:
    from bulwark.intel import selectors
    from bulwark.intel.models import Value

    distinct = int(objects * 0.9)
    ids = [rng.randint(1, distinct) for _ in range(300)]
    values = {v.pk: v for v in Value.objects.filter(pk__in=ids)}
    selectors.correlate(member, values[ids[0]])  # warm the viewer cache
    times: list[float] = []
    page: list[float] = []
    siblings = 0
    for pk in ids:
        t = time.perf_counter()
        found = selectors.siblings(member, values[pk])
        times.append((time.perf_counter() - t) * 1000)
        siblings += len(found)
        t = time.perf_counter()
        whole = selectors.correlate(member, values[pk])
        page.append((time.perf_counter() - t) * 1000)
        assert whole.broader, "every address has its /16"
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_total_relation_size('intel_value')"
            " + pg_total_relation_size('intel_provenance')"
        )
        size = cur.fetchone()[0]
    rows = Value.objects.count()
    return {
        "lookups": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(p95(times), 2),
        "mean_sources": round(siblings / len(times), 2),
        "full_correlation_p50_ms": round(statistics.median(page), 2),
        "full_correlation_p95_ms": round(p95(page), 2),
        "values": rows,
        "value_and_provenance_bytes": size,
        "bytes_per_value": round(size / rows),
    }


def _medallion_app(collection: Any, rows: list[Any]) -> Any:
    from medallion import application_instance, register_blueprints, set_config

    from bulwark.intel.taxii_server import ts

    objects = [json.loads(raw) for raw, *_ in rows]
    manifest = [
        {"id": sid, "date_added": ts(added), "version": ts(version),
         "media_type": "application/stix+json;version=2.1"}
        for _raw, sid, added, version in rows
    ]  # fmt: skip
    data = {
        "/discovery": {"title": "bench", "default": "http://localhost/api1/",
                       "api_roots": ["http://localhost/api1/"]},
        "api1": {
            "information": {"title": "bench", "versions": [TAXII], "max_content_length": 10**8},
            "status": [],
            "collections": [
                {"id": str(collection.uuid), "title": "bench", "can_read": True,
                 "can_write": True, "media_types": ["application/stix+json;version=2.1"],
                 "objects": objects, "manifest": manifest}
            ],
        },
    }  # fmt: skip
    path = ROOT / "var" / "bench-medallion.json"
    path.write_text(json.dumps(data))
    config = {
        "backend": {"module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend", "filename": str(path)},
        "users": {"bench": "bench"},
        "taxii": {"max_page_size": 1000},
    }  # fmt: skip
    set_config(application_instance, "users", config)
    set_config(application_instance, "taxii", config)
    set_config(application_instance, "backend", config)
    if "objects" not in application_instance.blueprints:
        register_blueprints(application_instance)
    path.unlink()
    return application_instance.test_client()


def measure_medallion(collection: Any, sizes: list[int]) -> dict[str, Any]:
    """medallion's memory backend filters by copying and scanning the whole collection on
    every request, and its version filter compares every object with every manifest entry,
    so its time grows with the square of the collection: it is measured at growing sizes
    (one first page of limit=1000 each, the same objects as ours) until a page takes more
    than PEER_GIVE_UP_S, and the growth is reported."""
    from bulwark.intel.models import StixObject

    rows_all = list(
        StixObject.objects.filter(collection=collection)
        .order_by("date_added", "pk")
        .values_list("raw", "stix_id", "date_added", "version")[: max(sizes)]
    )
    auth = {"Authorization": "Basic " + base64.b64encode(b"bench:bench").decode(), "Accept": TAXII}
    url = f"/api1/collections/{collection.uuid}/objects/?limit=1000"
    results = []
    for size in sizes:
        client = _medallion_app(collection, rows_all[:size])
        t = time.perf_counter()
        r = client.get(url, headers=auth)
        ms = (time.perf_counter() - t) * 1000
        assert r.status_code == 200, r.data[:300]
        assert len(r.get_json()["objects"]) == min(1000, size)
        results.append({"objects": size, "first_page_ms": round(ms, 1)})
        print(f"  medallion {size} objects: first page {ms:.0f} ms", flush=True)
        if ms > PEER_GIVE_UP_S * 1000:
            break
    return {"sizes": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--peer-sizes", default="1000,2000,4000,8000,16000,100000")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    load_before = os.getloadavg()
    rng = random.Random(args.seed)
    setup(args.reuse)
    member, collection, secret = build(args.objects)
    print("measuring TAXII pages", flush=True)
    ours = measure_ours(collection, secret, rng)
    print(f"ours ({args.objects} objects): p50 {ours['p50_ms']} ms, p95 {ours['p95_ms']} ms")
    print("measuring correlation", flush=True)
    correlation = measure_correlation(member, rng, args.objects)
    print(f"correlation: p50 {correlation['p50_ms']} ms, p95 {correlation['p95_ms']} ms, "
          f"{correlation['bytes_per_value']} bytes/value")  # fmt: skip
    print("measuring medallion", flush=True)
    peer = measure_medallion(collection, [int(x) for x in args.peer_sizes.split(",")])
    largest = peer["sizes"][-1]
    ratio = largest["first_page_ms"] / ours["p95_ms"]
    print(f"medallion at {largest['objects']} objects / ours p95 at {args.objects} = {ratio:.1f}")
    record = {
        "bench": "taxii_page",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "postgresql",
        "objects": args.objects,
        "ours": ours,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": ours["p95_ms"] <= TARGET_P95_MS,
        "correlation": correlation,
        "correlation_target_ms": TARGET_CORRELATION_MS,
        "peer": {"name": "medallion 3.0.0 memory backend", **peer},
        "ratio_peer_largest_to_ours_p95": round(ratio, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    out = ROOT / "bench" / "results" / "taxii_page.jsonl"
    with out.open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
