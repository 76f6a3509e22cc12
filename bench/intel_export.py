"""Detection export with and without the warning-list filter (issue 18): the cost of
leaving warning-listed values out of every export.

Stores a seeded bundle of indicators (the generator of bench/intel_ingest.py: IPv4,
domains, URLs, hashes) in a fresh SQLite database, then times
`selectors.detection_values()` followed by the Suricata renderer (what the monitoring
engine and `/intel/exports/suricata/` do) with MISP's warning lists loaded and with an
empty list set, alternating, `--runs` times each. Also times building the matcher (once
per process). One JSON line is appended to bench/results/intel_export.jsonl.

Usage: python bench/intel_export.py [--objects 100000] [--runs 3] [--seed 20260101]
"""

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    import intel_ingest  # type: ignore[import-not-found]
    import orjson

    intel_ingest.setup_django(postgres=False)
    from bulwark.intel import exports, selectors, services, warninglists
    from bulwark.intel.models import Collection

    bundle = orjson.loads(intel_ingest.make_bundle(args.objects, args.seed))
    collection = Collection.objects.create(title="bench", requires_review=False)
    services.ingest_objects(None, collection, bundle["objects"], raw="")
    started = time.perf_counter()
    real = warninglists.reload()
    build_s = time.perf_counter() - started
    empty = warninglists.build([])
    timings: dict[str, list[float]] = {"with_lists": [], "without_lists": []}
    counts: dict[str, int] = {}
    for _ in range(args.runs):
        for name, matcher in (("without_lists", empty), ("with_lists", real)):
            warninglists._MATCHER = matcher
            warninglists._listed.cache_clear()
            started = time.perf_counter()
            rows = selectors.detection_values(include_decayed=True)
            exports.suricata(rows)
            timings[name].append(time.perf_counter() - started)
            counts[name] = len(rows)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "objects": args.objects,
        "matcher_build_s": round(build_s, 2),
        "lists": len(real.names),
        "rows": counts,
        "median_s": {k: round(statistics.median(v), 3) for k, v in timings.items()},
        "runs_s": {k: [round(x, 3) for x in v] for k, v in timings.items()},
        "machine": platform.node(),
    }
    print(json.dumps(result))
    with (ROOT / "bench" / "results" / "intel_export.jsonl").open("a") as out:
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
