"""Report exchange pipeline: Shadowserver-style CSV -> parse -> normalise -> route (a
constituency of 1 M prefixes) -> dedupe -> stored in PostgreSQL, events per second on one
core. Target (performance brief): >= 50 k events/s. Peer, same input, same run: an
IntelMQ-style pipeline, one message at a time through real Redis lists with a JSON
encode/decode per step (parser bot -> expert bot (same router) -> deduplicator bot (Redis
SET NX EX, as IntelMQ's) -> PostgreSQL output bot (one INSERT + commit per event, as
IntelMQ's postgresql output)).

The bench process is pinned to one CPU (os.sched_setaffinity); PostgreSQL and Redis run
as their own processes, for both pipelines alike. The router is compiled from 1 M claims
in memory (1 M NetworkClaim rows are not inserted: the bench measures the pipeline, and
`routing.compile_router` builds the same `Router` from the rows). Events go through the
real `store.store_batch` (insert-on-conflict, quarantine) into a dedicated database
`bulwark_bench_exchange` (dropped and recreated, migrated). Each run starts from empty
event tables; medians over --runs. One JSON line is appended to
bench/results/exchange_pipeline.jsonl.

Usage: python bench/exchange_pipeline.py [--events 200000] [--prefixes 1000000] [--runs 3]
       [--baseline-events 20000] [--seed 20261120]
"""

import argparse
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DB_NAME = os.environ.get("BENCH_DB", "bulwark_bench_exchange")  # one per parallel run
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/15")
TARGET = 50_000
HEADER = (
    "timestamp,ip,protocol,port,hostname,tag,asn,geo,region,city,naics,sic,version,clock,"
    "stratum,system\n"
)
ORGS = 1000


def prepare_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bulwark.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def prefixes(count: int) -> list[str]:
    """`count` distinct /24s in 11.0.0.0 upwards, every 50th also covered by a /16."""
    return [f"{11 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.0/24" for i in range(count)]


def generate_csv(events: int, count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    out.write(HEADER)
    for i in range(events):
        r = rng.random()
        if r < 0.90:  # in a claimed /24
            p = rng.randrange(count)
            ip = f"{11 + (p >> 16)}.{(p >> 8) & 255}.{p & 255}.{rng.randrange(1, 255)}"
        elif r < 0.95:  # at home, unclaimed
            ip = f"100.64.{rng.randrange(256)}.{rng.randrange(256)}"
        else:  # a repeat of an earlier line's address: a duplicate within the window
            ip = f"11.0.0.{rng.randrange(1, 20)}"
        minute = i % 1440
        out.write(
            f"2026-11-20 {minute // 60:02d}:{minute % 60:02d}:{i % 60:02d},{ip},udp,123,,ntp,"
            f"{64496 + (i % 16)},TW,TAIPEI,TAIPEI,0,0,4,0xe8b2c9d4.5b1c2a3f,2,UNIX\n"
        )
    return out.getvalue().encode()


def compile_router(count: int) -> tuple[Any, float]:
    from bulwark.constituency.networks import Claim
    from bulwark.exchange.engine.router import Router
    from bulwark.exchange.models import Organisation

    Organisation.objects.bulk_create(
        [Organisation(name=f"Bench org {i}", kind="government_agency") for i in range(ORGS)]
    )
    ids = list(Organisation.objects.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    claims = [Claim("cidr", p, ids[i % ORGS]) for i, p in enumerate(prefixes(count))]
    claims += [
        Claim("cidr", f"{11 + (i >> 8)}.{i & 255}.0.0/16", ids[0]) for i in range(0, 4096, 50)
    ]
    router = Router(claims)
    return router, time.perf_counter() - started


def run_bulwark(data: bytes, router: Any, batch: int) -> dict[str, Any]:
    from django.db import connection

    from bulwark.core import bulk
    from bulwark.exchange.engine import formats
    from bulwark.exchange.engine.formats.base import Context
    from bulwark.exchange.engine.pipeline import bounded, prepare
    from bulwark.exchange.models import Report
    from bulwark.exchange.store import Counts, encoded, store_batch

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE exchange_event, exchange_quarantined, exchange_report CASCADE")
    report = Report.objects.create(sha256=os.urandom(32).hex(), size=len(data), source="file")
    counts = Counts()
    cpu0 = time.process_time()
    started = time.perf_counter()
    ctx = Context(file_name="2026-11-20-scan_ntp-bench-geo.csv")
    items = formats.parse("shadowserver", io.BytesIO(data), ctx)
    batches = prepare(items, router, observed_at="2026-11-20T12:00:00+00:00", batch_size=batch)
    with bulk.quick_handoff():  # as services.process does
        for b in bounded(encoded(report.pk, batches, connection.vendor), maxsize=4):
            counts.add(store_batch(report.pk, b))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "events_per_s": round(counts.read / seconds),
        "counts": counts.as_dict() | {"rejected_lines": len(counts.rejected_lines)},
    }


def run_intelmq_style(data: bytes, router: Any, limit: int) -> dict[str, Any]:
    """One message at a time: every bot pops a JSON message from its Redis list, decodes
    it, does its step, encodes the result and pushes it to the next bot's list."""
    import redis

    from bulwark.exchange.engine.event import Invalid, dedupe_key, normalise

    r = redis.Redis.from_url(REDIS_URL)
    r.flushdb()
    pg = psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True)
    pg.execute("DROP TABLE IF EXISTS intelmq_events")
    pg.execute("CREATE TABLE intelmq_events (id bigserial primary key, data jsonb)")
    lines = data.decode().splitlines()
    header = lines[0].split(",")
    body = lines[1 : limit + 1]
    stored = duplicates = rejected = 0
    started = time.perf_counter()
    for line in body:  # collector: one message per line, base64-free but JSON-wrapped
        r.rpush("parser-queue", orjson.dumps({"raw": line, "feed.name": "shadowserver"}))
        # parser bot
        msg = orjson.loads(r.lpop("parser-queue"))
        row = msg["raw"].split(",")
        fields = dict(zip(header, row, strict=False))
        event = {
            "time.source": fields["timestamp"], "source.ip": fields["ip"],
            "source.port": fields["port"], "source.asn": fields["asn"],
            "source.geolocation.cc": fields["geo"], "classification.type": "ddos-amplifier",
            "classification.identifier": "ntp", "feed.name": msg["feed.name"],
        }  # fmt: skip
        try:
            event = normalise(event)
        except Invalid:
            rejected += 1
            continue
        r.rpush("expert-queue", orjson.dumps(event))
        # expert bot: routing
        event = orjson.loads(r.lpop("expert-queue"))
        route = router.route(event)
        event["destination.recipient"] = route.recipient
        r.rpush("dedup-queue", orjson.dumps(event))
        # deduplicator bot
        event = orjson.loads(r.lpop("dedup-queue"))
        if not r.set(f"dedup:{dedupe_key(event, 86400)}", 1, nx=True, ex=86400):
            duplicates += 1
            continue
        r.rpush("output-queue", orjson.dumps(event))
        # postgresql output bot: one insert, one commit
        event = orjson.loads(r.lpop("output-queue"))
        pg.execute("INSERT INTO intelmq_events (data) VALUES (%s)", [orjson.dumps(event).decode()])
        stored += 1
    seconds = time.perf_counter() - started
    pg.close()
    r.flushdb()
    return {
        "seconds": round(seconds, 3),
        "messages": len(body),
        "messages_per_s": round(len(body) / seconds),
        "stored": stored,
        "duplicates": duplicates,
        "rejected": rejected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--prefixes", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--baseline-events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261120)
    args = parser.parse_args()

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    load_before = os.getloadavg()
    prepare_database()
    from django.db import connection

    router, compile_seconds = compile_router(args.prefixes)
    data = generate_csv(args.events, args.prefixes, args.seed)
    runs = [run_bulwark(data, router, args.batch) for _ in range(args.runs)]
    for run in runs:
        print(f"bulwark: {run['events_per_s']:,} events/s ({run['seconds']} s)", flush=True)
    baseline = run_intelmq_style(data, router, args.baseline_events)
    print(f"intelmq-style: {baseline['messages_per_s']:,} msg/s ({baseline['seconds']} s)")
    median = statistics.median(r["events_per_s"] for r in runs)
    ratio = median / baseline["messages_per_s"]
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--", "src"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if changed:  # measured with uncommitted changes to the code
        commit += "-dirty"
    result = {
        "bench": "exchange_pipeline",
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "database": f"postgresql {connection.cursor().connection.info.server_version}",
        "machine": {
            "cpus": os.cpu_count(),
            "pinned_to_one_cpu": True,
            "python": platform.python_version(),
        },
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "code": {"commit": commit},
        "input": {"events": args.events, "bytes": len(data), "seed": args.seed},
        "constituency": {"prefixes": router.size, "compile_seconds": round(compile_seconds, 2)},
        "batch": args.batch,
        "runs": runs,
        "median_events_per_s": median,
        "target_events_per_s": TARGET,
        "meets_target": median >= TARGET,
        "peer": {"name": "IntelMQ-style per-message Redis pipeline", **baseline},
        "ratio_to_peer": round(ratio, 1),
    }
    print(
        f"median {median:,} events/s (target {TARGET:,}); IntelMQ-style "
        f"{baseline['messages_per_s']:,} msg/s; ratio {ratio:.1f}x; load {load_before}"
    )
    out = ROOT / "bench" / "results" / "exchange_pipeline.jsonl"
    with out.open("a") as handle:
        handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
