"""Behavioural detection throughput (issue 25): 24 h of Zeek JSON conn + dns (+ ssl) logs
for N hosts in five agencies (the seeded labelled corpus of the tests, with heavier
browsing so a host writes ~2,200 records a day: 10,000 hosts ~ 22 M records), then
ingest plus every detector on the default engine (DuckDB, in-process): records/s per
detector, CPU seconds, peak RSS, and in the same run the rates at which the machine reads
the files' bytes and at which DuckDB merely parses them (read_json, same columns, nothing
kept): the ceiling. `--engine numpy` runs the numpy engine instead (every record through
the Python reader).

Target: 10,000 hosts in <= 60 s on 2 cores, RSS <= 4 GB. The generator holds a corpus in
memory (~9 GB for 2,500 hosts), so 10,000 hosts are made as `--replicate 4` copies of
2,500 with the internal addresses renumbered (10.a.x.y -> 10.(10k+a).x.y): 10,000
distinct hosts, the same destinations. `--fraction` runs a part of the hosts and
extrapolates linearly: say so when quoting it.
Appends a JSON line to bench/results/behaviour_detect.jsonl.
Usage: python bench/behaviour_detect.py [--hosts 10000] [--fraction 0.25] [--replicate 4]
       [--engine duckdb|numpy]
"""

import argparse
import json
import os
import platform
import re
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


def duckdb_ceiling(paths: list[Path]) -> tuple[int, float, float]:
    """Records, wall and CPU seconds for DuckDB to parse the files with the columns the
    engine reads (read_json, count only: nothing kept, no detector)."""
    import duckdb

    from bulwark.monitoring.engine.behaviour.dataset import _JSON_COLUMNS

    con = duckdb.connect()
    started, cpu0 = time.perf_counter(), time.process_time()
    records = 0
    for log in ("conn", "dns", "ssl"):
        files = [str(p) for p in paths if p.name.endswith(f"-{log}.log")]
        columns = "{" + ", ".join(f"'{k}': '{t}'" for k, t in _JSON_COLUMNS[log].items()) + "}"
        row = con.execute(
            f"SELECT count(*) FROM read_json(?, format = 'newline_delimited', columns = {columns})",
            [files],
        ).fetchone()
        records += int(row[0]) if row else 0
    con.close()
    return records, time.perf_counter() - started, time.process_time() - cpu0


INTERNAL = re.compile(rb'"10\.([0-9]{1,2})\.')


def replicate(base: int, copies: int) -> Path:
    """`copies` x `base` hosts: the base corpus's files, then copies with every internal
    address renumbered (second octet + 10 x copy), one file per agency, log and copy."""
    source, folder = folder_for(base), folder_for(base * copies)
    if (folder / "done").exists():
        return folder
    if not (source / "done").exists():
        subprocess.run([sys.executable, __file__, "--generate-only", str(base)], check=True)
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.log")):
        agency, _, rest = path.name.partition("-")
        for copy in range(copies):
            target = folder / (path.name if copy == 0 else f"{agency}-r{copy}-{rest}")
            shift = 10 * copy
            with path.open("rb") as src, target.open("wb") as out:
                for line in src:
                    out.write(
                        INTERNAL.sub(lambda m, k=shift: b'"10.%d.' % (int(m.group(1)) + k), line)
                        if shift
                        else line
                    )
    (folder / "done").write_text("replicated")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--fraction", type=float, default=1.0)
    parser.add_argument("--replicate", type=int, default=1, help="copies of hosts/N hosts")
    parser.add_argument("--engine", choices=("duckdb", "numpy"), default="duckdb")
    parser.add_argument("--generate-only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only:
        generate(args.generate_only)
        return
    hosts = max(50, int(args.hosts * args.fraction))
    if args.replicate > 1:
        folder = replicate(hosts // args.replicate, args.replicate)
    else:
        folder = folder_for(hosts)
        if not (folder / "done").exists():
            print(f"generating {hosts} hosts into {folder} ...", file=sys.stderr)
            subprocess.run([sys.executable, __file__, "--generate-only", str(hosts)], check=True)
    paths = sorted(folder.glob("*-conn.log")) + sorted(folder.glob("*-dns.log"))
    paths += sorted(folder.glob("*-ssl.log"))
    size = sum(p.stat().st_size for p in paths)
    lines, raw_s, iter_s = read_ceiling(paths)
    parsed, parse_s, parse_cpu = duckdb_ceiling(paths)
    assert parsed == lines, (parsed, lines)
    started = time.perf_counter()
    cpu0 = time.process_time()
    data = None
    for agency in ("MOE", "MOF", "MOH", "MOI", "MOJ"):
        mine = [str(p) for p in paths if p.name.startswith(agency + "-")]
        data = read_logs(mine, agency=agency, data=data, direct=args.engine == "duckdb")
    assert data is not None
    ingest_s = time.perf_counter() - started
    ingest_cpu = time.process_time() - cpu0
    timings: dict[str, float] = {}
    cpu0 = time.process_time()
    findings = detect(data, timings=timings, engine=args.engine)
    detect_cpu = time.process_time() - cpu0
    detect_s = sum(timings.values())
    total = ingest_s + detect_s
    peak = peak_rss_mb()
    scale = args.hosts / hosts
    by: dict[str, int] = {}
    for finding in findings:
        by[finding.detector] = by.get(finding.detector, 0) + 1
    result: dict[str, object] = {
        "bench": "behaviour_detect",
        "engine": args.engine,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "load_average_before": LOAD_BEFORE,
        "load_average_after": round(os.getloadavg()[0], 2),
        "hosts": hosts,
        "replicated": f"{args.replicate} x {hosts // args.replicate} hosts"
        if args.replicate > 1
        else None,
        "target_hosts": args.hosts,
        "records": lines,
        "megabytes": round(size / 1e6, 1),
        "read_bytes_records_per_s": round(lines / raw_s),
        "line_iteration_records_per_s": round(lines / iter_s),
        "duckdb_parse_only_records_per_s": round(lines / parse_s),
        "duckdb_parse_only_cpu_s": round(parse_cpu, 2),
        "ingest_records_per_s": round(lines / ingest_s),
        "ingest_s": round(ingest_s, 2),
        "detectors_s": {k: round(v, 3) for k, v in timings.items()},
        "detector_records_per_s": {k: round(lines / v) for k, v in timings.items() if v > 0},
        "ingest_plus_detect_s": round(total, 2),
        # CPU seconds of this process (DuckDB's threads included): what the run costs
        # without the other agents' load; 2 cores give at most 2 CPU seconds a second
        "ingest_cpu_s": round(ingest_cpu, 2),
        "detectors_cpu_s": round(detect_cpu, 2),
        "total_cpu_s": round(ingest_cpu + detect_cpu, 2),
        "extrapolated_s_for_target": round(total * scale, 1),
        "peak_rss_mb": round(peak),
        "extrapolated_rss_mb_for_target": round(peak * scale),
        "findings": len(findings),
        "findings_by_detector": by,
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "behaviour_detect.jsonl"
    with out.open("a") as handle:
        handle.write(json.dumps(result) + "\n")


LOAD_BEFORE = round(os.getloadavg()[0], 2)

if __name__ == "__main__":
    main()
