"""CPU and queries per read-API request, in one process, on the load data.

    .venv/bin/python bench/load_api.py --skip feed --seconds 5   (once: builds bulwark_load)
    .venv/bin/python bench/api_cost.py [--src DIR] [--repeat 15] [--profile FILE]

Runs every request of bench/locust_load.py's API mix through the whole Django stack
(middleware, authentication, DRF, serializers) with the CERT analyst's bearer token, on
the PostgreSQL database `bulwark_load` that bench/load_api.py populates, and prints, per
request, the median CPU time (process time, so other work on the machine counts little)
and the SQL queries it ran. "cold" is the first request of its kind in the process, "warm"
the median of the repeats that follow, "fresh" the median when the constituency changed
just before each request (every cache keyed by it misses). --src serves another checkout
for a before/after comparison in the same session. Appends a JSON line to
bench/results/api_cost.jsonl.

The load target this explains (docs/operations.md, "Capacity"): 200 clients thinking 1 s
ask about 190 requests/s; on 2 cores shared with the load generator the server has about
one core, so the mix must cost well under 5 ms of CPU per request on average.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bulwark_load"

# The locust API mix (bench/locust_load.py) with its weights.
MIX: list[tuple[str, float]] = [
    ("/api/v1/organisations/?limit=50", 0.25),
    ("/api/v1/organisations/{org}/", 0.15),
    ("/api/v1/organisations/?kind=government_agency", 0.15),
    ("/api/v1/networks/?limit=100", 0.15),
    ("/api/v1/networks/resolve/?ip=10.{a}.{b}.9", 0.15),
    ("/api/v1/users/", 0.15),
]


def measure(repeat: int, profile_to: str | None) -> dict[str, Any]:
    import django

    django.setup()
    import random

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bulwark.constituency.models import Organisation, User
    from bulwark.constituency.services import create_api_token

    analyst = User.objects.get(username="analyst")
    token = create_api_token(None, analyst, name="api-cost", scopes=["constituency:read"])[1]
    org_ids = list(Organisation.objects.values_list("pk", flat=True)[:2000])
    claims = Organisation.objects.count()
    rng = random.Random(3)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT="application/json")

    def path_of(template: str) -> str:
        return template.format(
            org=rng.choice(org_ids), a=rng.randrange(max(1, 2 * claims // 256)),
            b=rng.randrange(256),
        )  # fmt: skip

    def one(template: str) -> tuple[float, int]:
        path = path_of(template)
        with CaptureQueriesContext(connection) as queries:
            started = time.process_time()
            response = client.get(path)
            cpu = time.process_time() - started
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code} {response.content[:200]!r}")
        return cpu * 1000, len(queries.captured_queries)

    def touch() -> None:
        # A write that changes nothing a viewer sees, made the way operators make it.
        org = Organisation.objects.get(pk=org_ids[0])
        org.save()

    rows: dict[str, Any] = {}
    profile = None
    if profile_to:
        import cProfile

        profile = cProfile.Profile()
    for template, weight in MIX:
        cold, cold_q = one(template)
        if profile:
            profile.enable()
        warm = [one(template) for _ in range(repeat)]
        if profile:
            profile.disable()
        fresh = []
        for _ in range(max(3, repeat // 3)):
            touch()
            fresh.append(one(template))
        rows[template] = {
            "weight": weight,
            "cold_ms": round(cold, 2),
            "warm_ms": round(statistics.median(c for c, _q in warm), 2),
            "warm_queries": statistics.median(q for _c, q in warm),
            "fresh_ms": round(statistics.median(c for c, _q in fresh), 2),
            "fresh_queries": statistics.median(q for _c, q in fresh),
            "cold_queries": cold_q,
        }
    if profile and profile_to:
        profile.dump_stats(profile_to)
    mix_warm = sum(r["weight"] * r["warm_ms"] for r in rows.values())
    return {"requests": rows, "mix_warm_ms": round(mix_warm, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--profile", help="write a cProfile of the warm requests here")
    parser.add_argument("--label", default="")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(measure(args.repeat, args.profile)))
        return
    src = args.src.resolve()
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("LOAD_DATABASE_URL", DEFAULT_DB),
        "PYTHONPATH": str(src),
        "DJANGO_SETTINGS_MODULE": "bulwark.settings",
        "BULWARK_LOG_LEVEL": "WARNING",
        "BULWARK_ALLOWED_HOSTS": "testserver",
    }
    cmd = [sys.executable, __file__, "--inner", "--repeat", str(args.repeat)]
    if args.profile:
        cmd += ["--profile", args.profile]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=src)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    commit = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    record = {
        "bench": "api_cost",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit or "unknown",
        "label": args.label,
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "load_average": round(os.getloadavg()[0], 2),
        **result,
    }
    with (ROOT / "bench" / "results" / "api_cost.jsonl").open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    print(f"api_cost {record['at']} commit {record['commit']} load {record['load_average']}")
    print(f"{'request':48} {'cold':>7} {'warm':>7} {'fresh':>7}  queries cold/warm/fresh")
    for path, r in result["requests"].items():
        print(
            f"{path:48} {r['cold_ms']:7.2f} {r['warm_ms']:7.2f} {r['fresh_ms']:7.2f}  "
            f"{r['cold_queries']}/{r['warm_queries']}/{r['fresh_queries']}"
        )
    print(f"mix, warm: {result['mix_warm_ms']} ms of CPU per request")


if __name__ == "__main__":
    main()
