"""STIX ingest: a bundle of 100 k indicators validated and stored. Target: >= 20 k objects/s.
Peer: `stix2.parse` on objects of the same bundle (the OASIS library; parsing only, nothing
stored), about 500-800 objects/s.

The bundle is generated deterministically (seeded): indicators for IPv4 addresses (45 %),
domains (20 %), URLs (10 %), SHA-256 (15 %) and MD5 (5 %) values, and 5 % with two values
joined by OR; TLP:GREEN markings; 2 % repeat a value already used (shared values).
Each run starts from an empty store in a fresh database (SQLite in a temporary directory
by default, or a dedicated PostgreSQL database with --postgres), then times
bytes -> orjson -> boundary validation (envelope, pattern, markings) -> batched writes of
objects, values, provenance and indicators, in one transaction with its audit entry
(`services.ingest_objects`, the same call TAXII POST and uploads make).

The peer parses a seeded sample of the same bundle (default 10 000 objects; --peer-full
parses all of them, about three minutes) and its rate is compared with ours.
One JSON line is appended to bench/results/intel_ingest.jsonl.

Usage: python bench/intel_ingest.py [--objects 100000] [--runs 3] [--postgres]
       [--peer-sample 10000 | --peer-full] [--seed 20260101]
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
TARGET = 20_000
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
PG_URL = "postgres://postgres@127.0.0.1:5432/bulwark_bench_intel"


def value_for(rng: random.Random, n: int) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.45:
        return "ipv4-addr:value", f"{rng.randint(1, 223)}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    if roll < 0.65:
        return "domain-name:value", f"host{n}.{rng.choice(['example', 'test', 'invalid'])}.net"
    if roll < 0.75:
        return "url:value", f"http://dl{n}.example.org/payload/{rng.getrandbits(32):08x}.bin"
    if roll < 0.90:
        return "file:hashes.'SHA-256'", f"{rng.getrandbits(256):064x}"
    return "file:hashes.MD5", f"{rng.getrandbits(128):032x}"


def make_bundle(count: int, seed: int) -> bytes:
    import orjson

    rng = random.Random(seed)
    objects = []
    used: list[tuple[str, str]] = []
    for n in range(count):
        path, value = rng.choice(used) if used and rng.random() < 0.02 else value_for(rng, n)
        used.append((path, value))
        pattern = f"[{path} = '{value}']"
        if rng.random() < 0.05:
            other_path, other = value_for(rng, n + count)
            pattern = f"[{path} = '{value}' OR {other_path} = '{other}']"
        day = 1 + n % 28
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                "created": f"2026-01-{day:02d}T08:00:00.000Z",
                "modified": f"2026-01-{day:02d}T08:00:00.000Z",
                "name": f"Seen in campaign {n % 97}",
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": f"2026-01-{day:02d}T08:00:00Z",
                "confidence": rng.choice([30, 50, 70, 90]),
                "object_marking_refs": [GREEN],
            }
        )
    bundle = {
        "type": "bundle",
        "id": f"bundle--{uuid.UUID(int=seed, version=4)}",
        "objects": objects,
    }
    return orjson.dumps(bundle)


def setup_django(postgres: bool) -> None:
    if postgres:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS bulwark_bench_intel")
            c.execute("CREATE DATABASE bulwark_bench_intel")
        os.environ["DATABASE_URL"] = PG_URL
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["BULWARK_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-intel-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def empty_store() -> None:
    from django.db import connection

    from bulwark.intel.models import Indicator, Provenance, StixObject, Submission, Value

    with connection.cursor() as cursor:
        for model in (Provenance, Indicator, StixObject, Value, Submission):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def ours(body: bytes, runs: int) -> list[dict[str, Any]]:
    import orjson

    from bulwark.core import bulk
    from bulwark.intel import services
    from bulwark.intel.models import Collection

    collection, _ = Collection.objects.get_or_create(
        title="Bench", defaults={"requires_review": False}
    )
    results = []
    for _run in range(runs):
        empty_store()
        started = time.perf_counter()
        with bulk.collector_paused():  # as TAXII POST and uploads parse and store
            objects = orjson.loads(body)["objects"]
            count = len(objects)
            shared = services.ingest_objects(None, collection, objects, raw=body.decode())
            del objects
        seconds = time.perf_counter() - started
        assert not shared.outcome.failures, shared.outcome.failures[:3]
        results.append(
            {"seconds": round(seconds, 3), "objects_per_s": round(count / seconds),
             "stored": shared.outcome.stored}
        )  # fmt: skip
        print(f"  ours: {count} objects in {seconds:.2f} s = {count / seconds:,.0f}/s")
    return results


def peer(body: bytes, sample: int, seed: int) -> dict[str, Any]:
    import orjson
    import stix2

    objects = orjson.loads(body)["objects"]
    if sample and sample < len(objects):
        objects = random.Random(seed).sample(objects, sample)
    started = time.perf_counter()
    for obj in objects:
        stix2.parse(obj, allow_custom=False, version="2.1")
    seconds = time.perf_counter() - started
    rate = len(objects) / seconds
    print(f"  stix2.parse: {len(objects)} objects in {seconds:.2f} s = {rate:,.0f}/s")
    return {"objects": len(objects), "seconds": round(seconds, 3), "objects_per_s": round(rate)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--peer-sample", type=int, default=10_000)
    parser.add_argument("--peer-full", action="store_true")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()

    load_before = os.getloadavg()
    setup_django(args.postgres)
    from django.db import connection

    body = make_bundle(args.objects, args.seed)
    print(f"bundle: {args.objects} indicators, {len(body) / 1e6:.1f} MB, {connection.vendor}")
    runs = ours(body, args.runs)
    theirs = peer(body, 0 if args.peer_full else args.peer_sample, args.seed)
    median = statistics.median(r["objects_per_s"] for r in runs)
    ratio = median / theirs["objects_per_s"]
    print(f"median {median:,.0f} objects/s (target >= {TARGET:,}); {ratio:.0f}x stix2.parse")
    record = {
        "bench": "intel_ingest",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": connection.vendor,
        "objects": args.objects,
        "bundle_bytes": len(body),
        "runs": runs,
        "median_objects_per_s": median,
        "target_objects_per_s": TARGET,
        "meets_target": median >= TARGET,
        "peer": {"name": "stix2.parse (stix2 3.0.2, parse only)", **theirs},
        "ratio_to_peer": round(ratio, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    out = ROOT / "bench" / "results" / "intel_ingest.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(record) + "\n")
    if args.postgres:
        connection.close()


if __name__ == "__main__":
    main()
