"""Load on the read API and the public feeds: locust against gunicorn on PostgreSQL.

    make load      (installs the pinned locust from pyproject's `bench` extra, then runs this)
    .venv/bin/python bench/load_api.py [--api-users 200] [--feed-users 100] [--seconds 60]

1. Creates a fresh PostgreSQL database `bulwark_load` (LOAD_DATABASE_URL), migrates, loads
   the demo data, and generates a constituency around it (--organisations agencies with
   two IPv4 prefixes and a domain each, one user each) and --publications public
   TLP:CLEAR advisories with bodies of a few kB, half with a Chinese text.
2. Serves it with gunicorn and bulwark/gunicorn_conf.py (`bulwark serve`'s settings), or
   with --server-args (e.g. the command documented before: "--workers 2 --worker-class
   gthread --threads 4").
3. Runs locust headless (bench/locust_load.py): --api-users clients on the read API with a
   bearer token (CERT analyst), then --feed-users anonymous clients on the RSS, Atom and
   JSON feeds and CSAF documents. A client waits a think time of --think seconds on average
   after each answer (uniform 0.5-1.5x; --think 0 is closed-loop).
4. Prints p50/p95/p99, requests/s, errors and unanswered requests against the targets
   (API p99 <= 500 ms, feeds p99 <= 300 ms, no error, nothing unanswered) and appends a
   JSON line to bench/results/load_api.jsonl with the commit.

--src DIR serves the code of another checkout (e.g. `git archive` of an older commit) with
this script, for a before/after comparison in the same session.
"""

import argparse
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bulwark_load"
TARGETS = {"api": 500.0, "feed": 300.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


# --- Data --------------------------------------------------------------------------------


def populate(organisations: int, publications: int) -> dict[str, Any]:
    """Runs inside a subprocess with Django set up on the load database."""
    import django

    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from bulwark.advisories.models import Advisory, AdvisoryCategory
    from bulwark.constituency.models import (
        Membership,
        NetworkClaim,
        Organisation,
        OrganisationKind,
        Role,
        Sector,
        User,
    )

    rng = random.Random(7)
    sectors = list(Sector.objects.all()) or [None]
    authorities = list(Organisation.objects.filter(kind=OrganisationKind.AUTHORITY))
    orgs = Organisation.objects.bulk_create(
        Organisation(
            name=f"Load agency {i:05d}",
            short_name=f"LA{i:05d}",
            kind=OrganisationKind.GOVERNMENT_AGENCY if i % 5 else OrganisationKind.CI_OPERATOR,
            sector=rng.choice(sectors),
            parent=rng.choice(authorities) if authorities else None,
        )
        for i in range(organisations)
    )
    claims = []
    for i, org in enumerate(orgs):
        a, b = divmod(2 * i, 256)
        claims.append(NetworkClaim(organisation=org, kind="cidr", value=f"10.{a}.{b}.0/24"))
        claims.append(NetworkClaim(organisation=org, kind="cidr", value=f"10.{a}.{b + 1}.0/24"))
        claims.append(NetworkClaim(organisation=org, kind="domain", value=f"la{i:05d}.gov.tw"))
    NetworkClaim.objects.bulk_create(claims)
    users = User.objects.bulk_create(
        User(username=f"load{i:05d}", email=f"load{i:05d}@la{i:05d}.gov.tw", password="!")
        for i in range(organisations)
    )
    Membership.objects.bulk_create(
        Membership(user=u, organisation=o, role=Role.REPORTER)
        for u, o in zip(users, orgs, strict=True)
    )

    analyst = User.objects.get(username="analyst")
    categories = list(AdvisoryCategory.objects.all())
    body = "\n\n".join(
        [
            "## Summary\n\nA flaw in the **example** product lets a remote attacker run code.",
            "\n".join(f"- affected build {n}.{n % 7}.{n % 3}" for n in range(20)),
            "## Mitigation\n\n1. Upgrade.\n2. Restrict access.\n3. Watch the logs.\n\n"
            "```\nexample-ctl --disable-feature remote\n```",
            "Details: " + "lorem ipsum dolor sit amet " * 60,
        ]
    )
    now = timezone.now()
    kinds = ["alert", "news", "guideline"]
    Advisory.objects.bulk_create(
        Advisory(
            reference=f"BWA-2026-{9000 + i:05d}",
            title=f"Load publication {i}",
            title_zh_hant=f"負載公告 {i}" if i % 2 else "",
            summary="Remote code execution in an example product; patch now.",
            summary_zh_hant="範例產品遠端執行程式碼 請立即更新" if i % 2 else "",
            body=body,
            body_zh_hant=("中文內容。\n\n" + body) if i % 2 else "",
            category=categories[i % len(categories)],
            severity="high",
            tlp="clear",
            publication=kinds[i % 3],
            cves=[{"id": f"CVE-2026-{10000 + i}", "cvss_score": 8.1, "cvss_vector": ""}],
            affected_products=[{"vendor": "example", "product": "httpd", "versions": "<2.4.60"}],
            status="sent",
            author=analyst,
            approved_by=analyst,
            approved_at=now,
            sent_by=analyst,
            sent_at=now - timedelta(hours=i),
        )
        for i in range(publications)
    )
    return {
        "organisations": Organisation.objects.count(),
        "networks": NetworkClaim.objects.count(),
        "users": User.objects.count(),
        "public_advisories": Advisory.objects.public().count(),
        "org_ids": list(Organisation.objects.values_list("pk", flat=True)[:2000]),
        "references": list(Advisory.objects.public().values_list("reference", flat=True)[:60]),
    }


def fresh_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# --- Runs --------------------------------------------------------------------------------


def run_locust(
    scenario: str, users: int, seconds: int, port: int, env: dict[str, str], think: float
) -> dict[str, Any]:
    out = Path(tempfile.mkstemp(prefix=f"load-{scenario}-", suffix=".json")[1])
    spawn = max(1, users // 5)  # everyone connected within 5 s
    started = time.time()
    subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locust_load.py"),
            "--headless", "--users", str(users), "--spawn-rate", str(spawn),
            "--run-time", f"{seconds}s", "--stop-timeout", "15", "--host",
            f"http://127.0.0.1:{port}", "--only-summary", "--loglevel", "ERROR",
            "--exit-code-on-error", "0",
        ],
        env={**env, "LOAD_SCENARIO": scenario, "LOAD_OUT": str(out), "LOAD_THINK": str(think)},
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    samples = json.loads(out.read_text())
    out.unlink()
    latencies = [s[1] for s in samples]
    unanswered = [s for s in samples if s[2] == 0]
    errors = [s for s in samples if s[2] != 200 and s[2] != 0]
    span = (max(s[0] for s in samples) - min(s[0] for s in samples)) if samples else 1.0
    return {
        "users": users,
        "think_s": think,
        "seconds": round(time.time() - started, 1),
        "requests": len(samples),
        "rps": round(len(samples) / max(span, 1e-9), 1),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "errors": len(errors),
        "unanswered": len(unanswered),
        "error_examples": sorted({s[3] for s in errors + unanswered})[:5],
    }


def wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start listening within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-users", type=int, default=200)
    parser.add_argument("--feed-users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60, help="per scenario")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, s")
    parser.add_argument("--organisations", type=int, default=2000)
    parser.add_argument("--publications", type=int, default=200)
    parser.add_argument("--server-args", default="", help="gunicorn arguments instead of -c")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="code to serve")
    parser.add_argument("--label", default="", help="free text stored with the result")
    parser.add_argument("--skip", choices=["api", "feed"], help="run one scenario only")
    parser.add_argument("--reuse-data", action="store_true", help="keep bulwark_load as it is")
    parser.add_argument("--populate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.populate:
        print(json.dumps(populate(args.organisations, args.publications)))
        return

    url = os.environ.get("LOAD_DATABASE_URL", DEFAULT_DB)
    data_dir = tempfile.mkdtemp(prefix="bulwark-load-")
    src = args.src.resolve()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BULWARK_DATA_DIR": data_dir,
        "PYTHONPATH": str(src),
        "DJANGO_SETTINGS_MODULE": "bulwark.settings",
        "BULWARK_LOG_LEVEL": "WARNING",
    }
    bulwark = [sys.executable, "-m", "bulwark.cli"]
    info_file = Path(data_dir) / "data.json"
    if not args.reuse_data:
        fresh_database(url)
        subprocess.run([*bulwark, "demo", "--no-serve"], env=env, check=True, capture_output=True)
        populated = subprocess.run(
            [sys.executable, __file__, "--populate", "--organisations", str(args.organisations),
             "--publications", str(args.publications)],
            env=env, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        info = json.loads(populated.strip().splitlines()[-1])
    else:
        info = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--populate", "--organisations", "0",
                 "--publications", "0"],
                env=env, check=True, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]
        )  # fmt: skip
    info_file.write_text(json.dumps(info))
    token = subprocess.run(
        [*bulwark, "token", "create", "--user", "analyst", "--scope", "constituency:read"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    port = free_port()
    server_args = args.server_args.split() or ["--config", "python:bulwark.gunicorn_conf"]
    server_cmd = [
        sys.executable, "-m", "gunicorn", *server_args, "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning", "bulwark.wsgi:application",
    ]  # fmt: skip
    server = subprocess.Popen(server_cmd, env=env, cwd=data_dir)
    load_env = {
        **env,
        "LOAD_TOKEN": token,
        "LOAD_ORG_IDS": ",".join(map(str, info["org_ids"])),
        "LOAD_REFERENCES": ",".join(info["references"]),
        "LOAD_NET_OCTETS": str(2 * args.organisations // 256),
    }
    results: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    try:
        wait_for(port, server)
        for scenario, users in (("api", args.api_users), ("feed", args.feed_users)):
            if args.skip and args.skip != scenario:
                continue
            results[scenario] = run_locust(
                scenario, users, args.seconds, port, load_env, args.think
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=45)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    for scenario, r in results.items():
        r["target_p99_ms"] = TARGETS[scenario]
        r["meets_target"] = (
            r["p99_ms"] <= TARGETS[scenario] and r["errors"] == 0 and r["unanswered"] == 0
        )
    result = {
        "bench": "load_api",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": git("-C", str(src), "rev-parse", "--short", "HEAD") or "unknown",
        "dirty": bool(git("-C", str(src), "status", "--porcelain", "--", ".")),
        "label": args.label,
        "database": "postgresql",
        "server": " ".join(server_args),
        "data": {k: v for k, v in info.items() if k not in ("org_ids", "references")},
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        **results,
    }
    out = ROOT / "bench" / "results" / "load_api.jsonl"
    with out.open("a") as fh:
        fh.write(json.dumps(result) + "\n")
    print(f"load_api  {result['at']}  commit {result['commit']}  server: {result['server']}")
    print(f"data: {result['data']}  load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    for scenario, r in results.items():
        verdict = "PASS" if r["meets_target"] else "FAIL"
        print(
            f"{verdict} {scenario:4} {r['users']} clients, think {r['think_s']} s: "
            f"p50 {r['p50_ms']} p95 {r['p95_ms']} p99 {r['p99_ms']} ms (target <= "
            f"{r['target_p99_ms']:.0f}), {r['rps']} req/s, {r['requests']} requests, "
            f"{r['errors']} errors, {r['unanswered']} unanswered"
        )
        for example in r["error_examples"]:
            print(f"      {example}")
    sys.exit(0 if all(r["meets_target"] for r in results.values()) else 1)


if __name__ == "__main__":
    main()
