"""Behavioural detection throughput (issue 25): 24 h of Zeek JSON conn + dns (+ ssl) logs
for N hosts in five agencies (the seeded labelled corpus of the tests, with heavier
browsing so a host writes ~2,000 records a day: 10,000 hosts ~ 20 M records), then
ingest plus every detector: records/s per detector, peak RSS, and in the same run the
rate at which the engine merely reads the same files (the ceiling). `--duckdb` also
measures DuckDB on the beacon detector's windowed aggregation over the same conn files
(docs/architecture.md, "Behavioural detection engine").

Target: 10,000 hosts in <= 60 s on 2 cores, RSS <= 4 GB. `--fraction` runs a part of
the hosts (the machine is shared) and extrapolates linearly: say so when quoting it.
Appends a JSON line to bench/results/behaviour_detect.jsonl.
Usage: python bench/behaviour_detect.py [--hosts 10000] [--fraction 0.05] [--duckdb]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bulwark.monitoring.engine.behaviour import detect, read_logs  # noqa: E402

BROWSE = 850  # browsing connections per host and day: ~2,000 records per host with the rest


def folder_for(hosts: int) -> Path:
    return ROOT / "var" / "bench-behaviour" / f"hosts-{hosts}"


def generate(hosts: int) -> None:
    from bulwark.monitoring.tests.behaviour_corpus import generate as build

    folder = folder_for(hosts)
    folder.mkdir(parents=True, exist_ok=True)
    corpus = build(hosts=hosts, seed=25, browse=BROWSE)
    corpus.write(folder)
    (folder / "done").write_text(str(len(corpus.conn) + len(corpus.dns) + len(corpus.ssl)))


def peak_rss_mb() -> float:
    """This process's own peak (VmHWM; ru_maxrss survives exec, so a child would report
    its parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def read_ceiling(paths: list[Path]) -> tuple[int, float, float]:
    """Lines, seconds to read the bytes (4 MB chunks, lines counted) and seconds to
    iterate the lines as Python bytes (what the reader does before parsing)."""
    started = time.perf_counter()
    lines = 0
    for path in paths:
        with open(path, "rb") as handle:
            while chunk := handle.read(4 << 20):
                lines += chunk.count(b"\n")
    raw = time.perf_counter() - started
    started = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            for _ in handle:
                pass
    return lines, raw, time.perf_counter() - started


def duckdb_beacons(paths: list[Path]) -> dict[str, float]:
    """The beacon aggregation (per internal->external pair: count, interval quartiles and
    MAD, active hours, size quartiles and MAD) in DuckDB over the same conn files."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    files = [str(p) for p in paths]
    started = time.perf_counter()
    con.execute(
        """CREATE TABLE conn AS SELECT "id.orig_h" AS src, "id.resp_h" AS dst, ts, orig_bytes
        FROM read_json(?, format = 'newline_delimited', columns = {
          'ts': 'DOUBLE', 'id.orig_h': 'VARCHAR', 'id.resp_h': 'VARCHAR',
          'orig_bytes': 'BIGINT'})""",
        [files],
    )
    load = time.perf_counter() - started
    started = time.perf_counter()
    rows = con.execute(
        """WITH d AS (
          SELECT src, dst, ts, orig_bytes,
                 ts - lag(ts) OVER (PARTITION BY src, dst ORDER BY ts) AS gap
          FROM conn WHERE src LIKE '10.%' AND dst NOT LIKE '10.%'),
        g AS (
          SELECT src, dst, count(*) AS n,
                 quantile_cont(gap, [0.25, 0.5, 0.75]) AS q, mad(gap) AS gap_mad,
                 count(DISTINCT floor(ts / 3600)) AS hours,
                 quantile_cont(orig_bytes, [0.25, 0.5, 0.75]) AS s, mad(orig_bytes) AS size_mad
          FROM d GROUP BY src, dst HAVING count(*) >= 20)
        SELECT count(*) FROM g"""
    ).fetchone()
    query = time.perf_counter() - started
    pairs = float(rows[0]) if rows else 0.0
    return {"duckdb_load_s": load, "duckdb_beacon_query_s": query, "pairs": pairs}


def numpy_beacons(paths: list[Path]) -> dict[str, float]:
    from bulwark.monitoring.engine.behaviour.detectors import Context, detect_beacons
    from bulwark.monitoring.engine.behaviour.settings import AllowList, Settings

    started = time.perf_counter()
    data = read_logs([str(p) for p in paths])
    load = time.perf_counter() - started
    ctx = Context(data, Settings(), AllowList(), {})
    started = time.perf_counter()
    detect_beacons(ctx)
    return {"python_load_s": load, "numpy_beacon_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--fraction", type=float, default=1.0)
    parser.add_argument("--duckdb", action="store_true")
    parser.add_argument("--generate-only", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engines", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only:
        generate(args.generate_only)
        return
    hosts = max(50, int(args.hosts * args.fraction))
    folder = folder_for(hosts)
    if args.engines:
        conn = sorted(folder.glob("*-conn.log"))
        figures = numpy_beacons(conn) if args.engines == 1 else duckdb_beacons(conn)
        figures["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(figures))
        return
    if not (folder / "done").exists():
        print(f"generating {hosts} hosts into {folder} ...", file=sys.stderr)
        subprocess.run([sys.executable, __file__, "--generate-only", str(hosts)], check=True)
    paths = sorted(folder.glob("*-conn.log")) + sorted(folder.glob("*-dns.log"))
    paths += sorted(folder.glob("*-ssl.log"))
    size = sum(p.stat().st_size for p in paths)
    lines, raw_s, iter_s = read_ceiling(paths)
    started = time.perf_counter()
    cpu0 = time.process_time()
    data = None
    for agency in ("MOE", "MOF", "MOH", "MOI", "MOJ"):
        mine = [str(p) for p in paths if p.name.startswith(agency + "-")]
        data = read_logs(mine, agency=agency, data=data)
    assert data is not None
    ingest_s = time.perf_counter() - started
    ingest_cpu = time.process_time() - cpu0
    timings: dict[str, float] = {}
    cpu0 = time.process_time()
    findings = detect(data, timings=timings)
    detect_cpu = time.process_time() - cpu0
    detect_s = sum(timings.values())
    total = ingest_s + detect_s
    peak = peak_rss_mb()
    scale = args.hosts / hosts
    result: dict[str, object] = {
        "bench": "behaviour_detect",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "load_average": os.getloadavg()[0],
        "hosts": hosts,
        "target_hosts": args.hosts,
        "records": lines,
        "megabytes": round(size / 1e6, 1),
        "read_ceiling_records_per_s": round(lines / raw_s),
        "line_iteration_records_per_s": round(lines / iter_s),
        "ingest_records_per_s": round(lines / ingest_s),
        "ingest_s": round(ingest_s, 2),
        "detectors_s": {k: round(v, 3) for k, v in timings.items()},
        "detector_records_per_s": {k: round(lines / v) for k, v in timings.items() if v > 0},
        "ingest_plus_detect_s": round(total, 2),
        # CPU seconds of this process: what the run costs without the other agents' load
        "ingest_cpu_s": round(ingest_cpu, 2),
        "detectors_cpu_s": round(detect_cpu, 2),
        "extrapolated_s_for_target": round(total * scale, 1),
        "peak_rss_mb": round(peak),
        "extrapolated_rss_mb_for_target": round(peak * scale),
        "findings": len(findings),
    }
    if args.duckdb:
        for engine in (1, 2):
            done = subprocess.run(
                [sys.executable, __file__, "--hosts", str(args.hosts), "--fraction",
                 str(args.fraction), "--engines", str(engine)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            result["numpy" if engine == 1 else "duckdb"] = json.loads(done.stdout)
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "behaviour_detect.jsonl"
    with out.open("a") as handle:
        handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
