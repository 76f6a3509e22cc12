"""Drills (issue 22): scheduling a campaign to 20,000 recipients in 500 agencies, and the
tracking endpoint's throughput and latency over HTTP. Targets: scheduling <= 10 s;
tracking >= 2,000 events/s on 2 cores with p99 <= 50 ms.

A fresh database (SQLite: a temporary file by default; or DATABASE_URL, which is then
migrated as it is: give it an empty database) is migrated and filled with bulk inserts:
N agencies taking part, R recipients spread over them (5 mail domains per agency), every
message delivered an hour ago. Then:

  schedule   services.launch() of the draft campaign in this process: every recipient's
             send time in business hours of its agency's zone, jittered, rate-limited
             per mail domain, until the transaction commits
  service    services.record_hit() without HTTP, in this process (what the database and
             the classifier cost per event)
  ceiling    the same server, the same client: GET /_ceiling answered 204 by a WSGI
             wrapper before Django (bench/drills_wsgi.py); the most this server and
             client can do on this machine, in the same run
  tracking   GET /d/<token>/open.gif and /d/<token>/go (alternately) with a desktop
             browser's agent, each one DrillEvent row committed before the answer
             (answered by drills/fastpath.py in front of Django, as in production)

For the ceiling and tracking phases the server's CPU time per request is recorded too
(`server_cpu_us`, from /proc: the gunicorn processes, not the database server's), the
figure least disturbed by other work on a shared machine.

The server is gunicorn with bulwark/gunicorn_conf.py (`bulwark serve`'s settings: one
worker per core, gthread), the client an asyncio loop in this process with --connections
keep-alive connections sending requests back to back (closed loop): client and server
share the machine's cores. Latency is measured by the client, from the request written
to the last byte of the answer. After the run the events are counted: exactly one per
request, or the bench fails.

One JSON line is appended to bench/results/drills_tracking.jsonl.

Usage: python bench/drills_tracking.py [--agencies 500] [--recipients 20000]
       [--hits 20000] [--connections 32] [--label text]
"""

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "drills_tracking.jsonl"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def populate(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from bulwark.constituency import services as cs
    from bulwark.constituency.models import Organisation
    from bulwark.drills import services
    from bulwark.drills.models import CampaignAgency, DrillEvent, Recipient, SendingProfile

    call_command("migrate", verbosity=0)
    cert = cs.create_organisation(None, name="CERT", kind="national_cert", country="TW")
    analyst = cs.create_user(None, username="analyst", email="a@example.org", password="p" * 14)
    cs.add_membership(None, analyst, cert, "analyst")
    orgs = Organisation.objects.bulk_create(
        Organisation(name=f"Agency {i:04d}", kind="government_agency", parent=cert)
        for i in range(args.agencies)
    )
    profile = SendingProfile.objects.create(name="bench", from_address="it@bench.example")
    campaign = services.create_campaign(
        analyst, organisations=[], name="Bench", subject_en="s", subject_zh_hant="s",
        body_en="{{link}}", body_zh_hant="{{link}}", tracking_domain="t.example",
        sending_profile=profile, starts_at=timezone.now(), spread_days=5,
    )  # fmt: skip
    CampaignAgency.objects.bulk_create(
        CampaignAgency(campaign=campaign, organisation=o) for o in orgs
    )
    Recipient.objects.bulk_create(
        (
            Recipient(
                campaign=campaign,
                organisation=orgs[i % len(orgs)],
                email=f"p{i}@d{i % (len(orgs) * 5)}.gov.example",
                language="zh-hant",
                token=services.new_token(),
            )
            for i in range(args.recipients)
        ),
        batch_size=2000,
    )
    started = time.perf_counter()
    services.launch(analyst, campaign)
    schedule_s = time.perf_counter() - started
    planned = Recipient.objects.filter(send_at__isnull=False).count()
    # Every message delivered an hour ago (the "clicked within seconds" rule stays out).
    Recipient.objects.update(sent_at=timezone.now() - timedelta(hours=1))
    tokens = list(Recipient.objects.order_by("pk").values_list("token", flat=True))
    # The service alone, on a tenth of the people (their events are removed again).
    sample = tokens[: max(1, len(tokens) // 10)]
    started, cpu = time.perf_counter(), time.process_time()
    for token in sample:
        services.record_hit(token, "opened", agent=BROWSER, ip="203.0.113.8")
    service_s, service_cpu = time.perf_counter() - started, time.process_time() - cpu
    DrillEvent.objects.all().delete()
    services.roll_up()
    connection.close()
    return {
        "database": connection.vendor,
        "planned": planned,
        "schedule_s": round(schedule_s, 2),
        "service_only_events_per_s": round(len(sample) / service_s, 1),
        "service_only_cpu_us": round(service_cpu / len(sample) * 1e6, 1),
        "tokens": tokens,
    }


async def _client(port: int, paths: list[str], latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for path in paths:
            request = (
                f"GET {path} HTTP/1.1\r\nHost: t.example\r\nUser-Agent: {BROWSER}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            if status.split(b" ")[1:2] not in ([b"200"], [b"204"], [b"302"]):
                errors.append(status.decode(errors="replace").strip())
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        errors.append(repr(exc))
    finally:
        writer.close()


def drive(port: int, paths: list[str], connections: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    shares = [paths[i::connections] for i in range(connections)]

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(_client(port, s, latencies, errors) for s in shares if s))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    return {
        "requests": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
    }


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server's processes (Linux /proc): per request, the
    figure least disturbed by other work on the machine."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for each in [pid, *map(int, children)]:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except OSError:
        return float("nan")
    return total / os.sysconf("SC_CLK_TCK")


def count_events(env: dict[str, str]) -> int:
    code = (
        "import django; django.setup(); from bulwark.drills.models import DrillEvent;"
        "print(DrillEvent.objects.exclude(kind='sent').count())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agencies", type=int, default=500)
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--hits", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server-args", default="", help="gunicorn arguments instead of -c")
    parser.add_argument("--label", default="")
    parser.add_argument("--populate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.populate:
        print(json.dumps(populate(args)))
        return

    tmp = tempfile.mkdtemp(prefix="bulwark-drills-bench-")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "bench")]),
        "DJANGO_SETTINGS_MODULE": "bulwark.settings",
        "BULWARK_DATA_DIR": tmp,
        "BULWARK_LOG_LEVEL": "WARNING",
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    populated = subprocess.run(
        [sys.executable, __file__, "--populate", "--agencies", str(args.agencies),
         "--recipients", str(args.recipients)],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    info = json.loads(populated.strip().splitlines()[-1])
    tokens: list[str] = info.pop("tokens")
    paths = [
        f"/d/{tokens[n % len(tokens)]}/{'open.gif' if n % 2 == 0 else 'go'}"
        for n in range(args.hits)
    ]
    port = free_port()
    server_args = args.server_args.split() or ["--config", "python:bulwark.gunicorn_conf"]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *server_args, "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "drills_wsgi:application"],
        env=env, cwd=tmp,
    )  # fmt: skip
    load_before = os.getloadavg()[0]
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit(f"the server exited with {server.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        drive(port, ["/_ceiling"] * 200, 4)  # warm both workers
        cpu0 = server_cpu(server.pid)
        ceiling = drive(port, ["/_ceiling"] * args.hits, args.connections)
        cpu1 = server_cpu(server.pid)
        tracking = drive(port, paths, args.connections)
        cpu2 = server_cpu(server.pid)
        ceiling["server_cpu_us"] = round((cpu1 - cpu0) / args.hits * 1e6)
        tracking["server_cpu_us"] = round((cpu2 - cpu1) / args.hits * 1e6)
    finally:
        server.terminate()
        server.wait(timeout=60)
    recorded = count_events(env)
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "label": args.label,
        **info,
        "agencies": args.agencies,
        "recipients": args.recipients,
        "server": " ".join(server_args),
        "connections": args.connections,
        "ceiling": ceiling,
        "tracking": tracking,
        "events_recorded": recorded,
        "exactly_once": recorded == tracking["requests"] and tracking["errors"] == 0,
        "share_of_ceiling": round(tracking["per_s"] / ceiling["per_s"], 2),
        "meets_target": tracking["per_s"] >= 2000 and tracking["p99_ms"] <= 50,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))
    if not result["exactly_once"]:
        raise SystemExit(f"{recorded} events for {tracking['requests']} requests")


if __name__ == "__main__":
    main()
