"""Log matching throughput: 2 M Zeek DNS JSON lines (~430 B) against 1 M indicators
(600 k domains, 100 k CIDRs, 100 k addresses, 100 k hashes, 60 k URLs, 40 k e-mails).

Targets (docs/PERFORMANCE.md): >= 1.5 M lines/s on 2 cores, load+compile <= 15 s,
RSS <= 3x the indicator file. Peers in the same run: `LC_ALL=C grep -F -f domains` on a
slice of the same log (rate and false positives) and `cat` (the read ceiling).
Inputs are generated once (seeded) under var/bench-monitor/. Appends a JSON line to
bench/results/monitor_match.jsonl. Usage: python bench/monitor_match.py [--lines N]
[--indicators N] [--runs 3] [--workers 2] [--grep-lines 100000]
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bulwark.monitoring.engine import FORMATS, Snapshot, load_indicator_file  # noqa: E402
from bulwark.monitoring.engine.corpus import corpus_paths, write_corpus  # noqa: E402
from bulwark.monitoring.engine.matcher import match_paths  # noqa: E402


def rss_kb(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cli_peak_rss_kb(indicators: Path, log: Path) -> int:
    """Peak RSS of `bulwark monitor match --workers 1` in a fresh process (ru_maxrss of
    its own child, so this process's memory does not count)."""
    command = [sys.executable, "-m", "bulwark.cli", "monitor", "match", "--indicators",
               str(indicators), "--format", "zeek-dns-json", "--workers", "1", "--output",
               os.devnull, str(log)]  # fmt: skip
    probe = (
        "import resource, subprocess, sys; "
        f"subprocess.run({command!r}, check=True, stderr=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, check=True)
    return int(out.stdout)


def timed(cmd: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    out = subprocess.run(cmd, shell=True, capture_output=True, check=False).stdout
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--grep-lines", type=int, default=100_000)
    args = parser.parse_args()
    load_before = os.getloadavg()
    data = ROOT / "var" / "bench-monitor"
    # Generated in a child process, so this process's memory is the matcher's alone.
    subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from bulwark.monitoring.engine.corpus import write_corpus; "
         f"write_corpus(Path({str(data)!r}), {args.indicators}, {args.lines})"],
        check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    # The truth (hit line numbers) is read after the memory figures: it is the bench's.
    ind_path, dom_path, log_path = corpus_paths(data, args.indicators, args.lines)
    baseline_kb = rss_kb()

    # 1. load + compile
    started = time.perf_counter()
    refused: list[tuple[int, str]] = []
    snapshot = Snapshot.build(load_indicator_file(ind_path, refused), refused)
    load_seconds = time.perf_counter() - started
    after_load_kb = rss_kb()
    ind_bytes = ind_path.stat().st_size

    # 2. matching, median of runs
    fmt = FORMATS["zeek-dns-json"]
    rates: list[float] = []
    summary = None
    for _ in range(args.runs):
        summary = match_paths(snapshot, fmt, [str(log_path)], workers=args.workers)
        rates.append(summary.result.lines / summary.seconds)
    assert summary is not None
    truth = write_corpus(data, args.indicators, args.lines)[3]
    hit_lines = {h.line - 1 for h in summary.result.hits}
    domain_hit_lines = {h.line - 1 for h in summary.result.hits if h.type == "domain"}
    engine_fp = len(hit_lines - set(truth.hit_lines))
    engine_missed = len(set(truth.hit_lines) - domain_hit_lines)
    children_peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    # 3. peers: grep -F on a slice, cat on the whole file
    slice_path = data / f"slice-{args.grep_lines}.json"
    if not slice_path.exists():
        subprocess.run(
            f"head -n {args.grep_lines} {log_path} > {slice_path}", shell=True, check=True
        )
    grep_seconds, grep_out = timed(f"LC_ALL=C grep -F -n -f {dom_path} {slice_path}")
    grep_lines = {int(line.split(b":", 1)[0]) - 1 for line in grep_out.splitlines()}
    slice_truth = {n for n in truth.hit_lines if n < args.grep_lines}
    grep_fp = len(grep_lines - slice_truth)
    grep_rate = args.grep_lines / grep_seconds
    cat_times = [timed(f"cat {log_path} > /dev/null")[0] for _ in range(3)]
    cat_rate = args.lines / statistics.median(cat_times)
    # 4. the real command's peak memory (Django included), with 1 M indicators and with one
    one = data / "one-indicator.txt"
    one.write_text("evil.example\n")
    cli_peak_kb = cli_peak_rss_kb(ind_path, slice_path)
    cli_base_kb = cli_peak_rss_kb(one, slice_path)

    rate = statistics.median(rates)
    result = {
        "bench": "monitor_match",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "lines": args.lines,
        "log_bytes": log_path.stat().st_size,
        "indicators": snapshot.size,
        "indicator_file_bytes": ind_bytes,
        "workers": args.workers,
        "lines_per_s_runs": [round(r) for r in rates],
        "lines_per_s_median": round(rate),
        "hits": len(summary.result.hits),
        "true_hit_lines": len(truth.hit_lines),
        "engine_false_positive_lines": engine_fp,
        "engine_missed_lines": engine_missed,
        "load_compile_s": round(load_seconds, 2),
        "rss_after_compile_mb": round(after_load_kb / 1024, 1),
        "rss_baseline_mb": round(baseline_kb / 1024, 1),
        "rss_to_file_ratio": round(after_load_kb * 1024 / ind_bytes, 2),
        "snapshot_data_to_file_ratio": round((after_load_kb - baseline_kb) * 1024 / ind_bytes, 2),
        "parent_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "worker_peak_rss_mb": round(children_peak_kb / 1024, 1),
        "cli_peak_rss_mb": round(cli_peak_kb / 1024, 1),
        "cli_peak_rss_one_indicator_mb": round(cli_base_kb / 1024, 1),
        "cli_indicator_peak_to_file_ratio": round(
            (cli_peak_kb - cli_base_kb) * 1024 / ind_bytes, 2
        ),
        "grep_lines": args.grep_lines,
        "grep_lines_per_s": round(grep_rate),
        "grep_matched_lines": len(grep_lines),
        "grep_true_lines": len(slice_truth),
        "grep_false_positive_lines": grep_fp,
        "engine_to_grep_ratio": round(rate / grep_rate, 1),
        "cat_lines_per_s": round(cat_rate),
        "engine_to_cat_ratio": round(rate / cat_rate, 3),
        "targets": {"lines_per_s": 1_500_000, "load_compile_s": 15, "rss_to_file_ratio": 3},
    }
    out = ROOT / "bench" / "results" / "monitor_match.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as handle:
        handle.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
