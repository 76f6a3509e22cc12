"""The NATS path end to end: the monitor_match corpus (2 M Zeek DNS JSON lines, 1 M
indicators) published into a JetStream stream in 1 MB batches, then consumed by two
`bulwark monitor worker` processes sharing one durable consumer on PostgreSQL: matched,
hits stored as sightings, each batch archived and acknowledged.

Measured: lines/s from the first batch a worker matched to the last batch stored (both
workers running), the publish rate, and the stored totals (every batch stored once, the
hits equal to the CLI's). Target as for the CLI (docs/PERFORMANCE.md): >= 1.5 M lines/s on
2 cores, here with nats-server and PostgreSQL on the same two cores.
Appends a JSON line to bench/results/monitor_stream.jsonl.
Usage: python bench/monitor_stream.py [--lines N] [--indicators N] [--workers 2]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bulwark.monitoring.engine.corpus import write_corpus  # noqa: E402

NATS = "nats://127.0.0.1:4222"
DB = "bulwark_bench_stream"


def bulwark(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bulwark.cli", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def done(env: dict[str, str], *args: str) -> str:
    proc = bulwark(env, *args)
    out, err = proc.communicate(timeout=3600)
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed: {err[-2000:]}")
    return out


def follow(proc: subprocess.Popen[str], events: list[tuple[float, str, int]], worker: int) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append((time.perf_counter(), line.rstrip("\n"), worker))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data = ROOT / "var" / "bench-monitor"
    ind_path, _, log_path, _ = write_corpus(data, args.indicators, args.lines)
    home = ROOT / "var" / "bench-stream"
    subprocess.run(["rm", "-rf", str(home)], check=True)
    home.mkdir(parents=True)
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "BULWARK_DATA_DIR": str(home),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    }
    done(env, "migrate", "--noinput", "-v", "0")
    done(env, "shell", "-c", (
        "from bulwark.constituency.models import Organisation as O; "
        "O.objects.create(name='Agency one', short_name='AG1', kind='government_agency', "
        "country='TW')"
    ))  # fmt: skip
    stream = f"BENCH{uuid.uuid4().hex[:8].upper()}"
    load_before = os.getloadavg()
    started = time.perf_counter()
    out = done(env, "monitor", "publish", "--nats", NATS, "--stream", stream, "--agency", "AG1",
               "--format", "zeek-dns-json", str(log_path))  # fmt: skip
    publish_seconds = time.perf_counter() - started
    sent = int(out.split()[1])

    events: list[tuple[float, str, int]] = []
    go = home / "go"  # the workers build their snapshots, then wait for this file
    workers = [
        bulwark(env, "monitor", "worker", "--nats", NATS, "--stream", stream, "--durable",
                "bench", "--indicators", str(ind_path), "--idle-exit", "8", "--reload", "3600",
                "--start-when", str(go))
        for _ in range(args.workers)
    ]  # fmt: skip
    readers = [threading.Thread(target=follow, args=(w, events, i)) for i, w in enumerate(workers)]
    for reader in readers:
        reader.start()
    while sum(line.startswith("worker ready") for _, line, _ in events) < len(workers):
        if any(w.poll() is not None for w in workers):
            raise SystemExit("a worker exited before it was ready")
        time.sleep(0.1)
    go.touch()
    for worker in workers:
        worker.wait(timeout=3600)
    for reader in readers:
        reader.join()
    errors = [w.stderr.read()[-2000:] for w in workers if w.returncode and w.stderr]
    if errors:
        raise SystemExit("worker failed: " + "\n".join(errors))
    matched = [t for t, line, _ in events if line.startswith("matched ")]
    stored_at = [t for t, line, _ in events if line.startswith("stored ")]
    seconds = max(stored_at) - min(matched)
    # How long one worker waited at the end for the other (nothing left for it to take).
    finished = [
        max(t for t, line, i in events if i == w and line.startswith("stored "))
        for w in range(len(workers))
    ]
    spread = max(finished) - min(finished)
    totals = done(env, "shell", "-c", (
        "from django.db.models import Sum; "
        "from bulwark.monitoring.models import ProcessedBatch as B, Sighting as S; "
        "print(B.objects.count(), B.objects.aggregate(s=Sum('lines'))['s'], "
        "B.objects.aggregate(s=Sum('hits'))['s'], S.objects.aggregate(s=Sum('count'))['s'])"
    )).split()  # fmt: skip
    batches, lines, hits, sighted = (int(x) for x in totals[-4:])
    subprocess.run(["rm", "-rf", str(home)], check=True)
    subprocess.run(
        [sys.executable, "-c", "import asyncio, nats\n"
         "async def m():\n nc = await nats.connect('" + NATS + "')\n"
         " await nc.jetstream().delete_stream('" + stream + "')\n await nc.close()\n"
         "asyncio.run(m())"], check=False,
    )  # fmt: skip
    result = {
        "bench": "monitor_stream",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "workers": args.workers,
        "batches_published": sent,
        "publish_seconds": round(publish_seconds, 2),
        "publish_lines_per_s": round(args.lines / publish_seconds),
        "batches_stored": batches,
        "lines_stored": lines,
        "hits_stored": hits,
        "sighting_count_total": sighted,
        "consume_seconds": round(seconds, 2),
        "workers_finish_spread_seconds": round(spread, 3),
        "lines_per_s": round(lines / seconds),
        "target_lines_per_s": 1_500_000,
    }
    out_path = ROOT / "bench" / "results" / "monitor_stream.jsonl"
    with out_path.open("a") as handle:
        handle.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
