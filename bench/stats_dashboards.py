"""Statistics dashboards at the issue's scale. Target (issue): "With 1 M incidents, 10 M
exchange events and 1 M shared items in PostgreSQL, every dashboard answers with p95 <=
300 ms and the annual report renders in <= 60 s."

Runs on the database bench/stats_data.py builds (`bulwark_bench_stats`; run that first),
in-process through the whole Django stack (django.test.Client, no socket), for three
viewers: a CERT duty officer (sees everything), an agency reporter (one organisation) and
an authority reviewer (the agencies under a ministry). Period: the last full year.

  api     GET /api/v1/stats/<key>/?period=<year>   every key the list endpoint returns
          (bearer token with the stats:read scope). The API and the pages read a figure's
          materialised snapshot (analytics/snapshots.py) while it is fresh, so each key is
          measured twice: "cold" = counted in the database (the viewer's snapshots deleted
          first: the first request, then figures.compute twice more; median of 3), and
          "warm" = N requests answered from the snapshot. The target is judged on both.
  trend   GET /api/v1/stats/<key>/trend/           the five report figures: 60 months of
          history and the forecast
  page    GET /stats/?group=<group>&period=<year>  the web dashboard, one page per group
          (signed-in session, second factor passed), charts included
  report  bulwark.analytics.report.render_pdf_timed(user, year, "en"), once per viewer
  refresh snapshots.refresh(force=True): the periodic task that recounts the CERT's
          common periods (7 periods x every CERT-wide key), once

An endpoint that takes long stops after 5 requests once its --budget is spent (the
result says how many ran). For every miss of the target the slowest SQL statement of one
request is shown with EXPLAIN (ANALYZE, BUFFERS). Results: bench/results/stats_dashboards.txt
(the tables) and bench/results/stats_dashboards.json.

Usage: python bench/stats_dashboards.py [--runs 20] [--year 2025] [--budget 30]
       [--only api,trend,page,report,refresh] [--viewers duty,reporter2,reviewer]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TARGET_P95_MS = 300.0
TARGET_REPORT_S = 60.0
VIEWERS = {
    "duty": "CERT duty officer (sees all)",
    "reporter2": "agency reporter (Centers for Disease Control)",
    "reviewer": "authority reviewer (Ministry of Economic Affairs)",
}
PAGE_GROUPS = ("report", "incidents", "timeliness", "activity", "trends")
OUT_TXT = ROOT / "bench" / "results" / "stats_dashboards.txt"
OUT_JSON = ROOT / "bench" / "results" / "stats_dashboards.json"

lines: list[str] = []


def say(text: str = "") -> None:
    print(text, flush=True)
    lines.append(text)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(samples: list[float]) -> dict[str, Any]:
    p95 = percentile(samples, 0.95) * 1000
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 0.50) * 1000, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "meets_target": p95 <= TARGET_P95_MS,
    }


def timed_runs(call: Callable[[], float], runs: int, budget_s: float) -> list[float]:
    out: list[float] = []
    started = time.perf_counter()
    for i in range(runs):
        out.append(call())
        if i + 1 >= 5 and time.perf_counter() - started > budget_s:
            break
    return out


def api_client(user: Any) -> Any:
    from django.test import Client

    from bulwark.constituency.services import create_api_token

    _token, secret = create_api_token(
        None, user, name="bench stats_dashboards", scopes=["stats:read"], days=1
    )
    return Client(headers={"authorization": f"Bearer {secret}"})


def web_client(user: Any) -> Any:
    """A browser session that has passed both factors (as the tests' sign_in)."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def dashboard_keys(client: Any) -> list[str]:
    response = client.get("/api/v1/stats/")
    if response.status_code == 200:
        return [k["key"] for k in response.json()["keys"]]
    log(f"GET /api/v1/stats/ answered {response.status_code}; keys from figures.KEYS")
    from bulwark.analytics import figures

    return list(figures.KEYS)


def measure(
    client: Any, paths: dict[str, str], runs: int, warmup: int, budget: float
) -> tuple[dict[str, Any], dict[str, list[tuple[float, str]]]]:
    """{name: summary} and, per name, the SQL of one request with each statement's time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    results: dict[str, Any] = {}
    captured: dict[str, list[tuple[float, str]]] = {}
    for name, path in paths.items():
        first = None
        for _ in range(warmup):
            started = time.perf_counter()
            response = client.get(path)
            first = first or time.perf_counter() - started
            assert response.status_code == 200, (path, response.status_code)

        def request(path: str = path) -> float:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (path, response.status_code)
            return elapsed

        results[name] = summarise(timed_runs(request, runs, budget))
        if first is not None:  # the warm-up: counts what no snapshot holds yet
            results[name]["first_ms"] = round(first * 1000, 1)
        with CaptureQueriesContext(connection) as ctx:
            client.get(path)
        captured[name] = [(float(q["time"]), q["sql"]) for q in ctx.captured_queries]
        s = results[name]
        log(f"  {name:<40} p50 {s['p50_ms']:>8} ms  p95 {s['p95_ms']:>8} ms  n={s['n']}")
    return results, captured


def explain_slowest(statements: list[tuple[float, str]]) -> dict[str, Any]:
    from django.db import connection

    seconds, sql = max(statements, default=(0.0, ""))
    total = round(sum(t for t, _sql in statements), 3)
    if not sql.lstrip().upper().startswith("SELECT"):
        return {"sql_total_s": total, "statements": len(statements)}
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        plan = [row[0] for row in cursor.fetchall()]
    return {
        "sql_total_s": total,
        "statements": len(statements),
        "seconds": seconds,
        "sql": sql[:600],
        "plan": plan[:30],
    }


def measure_cold(
    client: Any, user: Any, year: int, keys: list[str], budget: float
) -> tuple[dict[str, dict[str, Any]], dict[str, list[tuple[float, str]]]]:
    """Each key counted in the database: the viewer's snapshots are deleted, the first
    request counts (and keeps) the figure, then figures.compute counts it twice more
    (fewer when one count takes over a third of the budget)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bulwark.analytics import figures, periods
    from bulwark.analytics.models import Snapshot
    from bulwark.analytics.snapshots import scope_of

    period = periods.year(year)
    out: dict[str, dict[str, Any]] = {}
    captured: dict[str, list[tuple[float, str]]] = {}
    for key in keys:
        Snapshot.objects.filter(scope=scope_of(user, key), key=key).delete()
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/api/v1/stats/{key}/?period={year}")
        samples = [time.perf_counter() - started]
        captured[f"api {key}"] = [(float(q["time"]), q["sql"]) for q in ctx.captured_queries]
        assert response.status_code == 200, (key, response.status_code)
        while len(samples) < 3 and samples[-1] < budget / 3:
            started = time.perf_counter()
            figures.compute(key, user, period)
            samples.append(time.perf_counter() - started)
        ms = sorted(samples)[len(samples) // 2] * 1000
        out[f"api {key}"] = {
            "cold_ms": round(ms, 1),
            "cold_n": len(samples),
            "cold_meets_target": ms <= TARGET_P95_MS,
        }
        log(f"  cold {key:<35} {ms:>9.1f} ms (median of {len(samples)})")
    return out, captured


def refresh_task() -> dict[str, Any]:
    try:
        from bulwark.analytics import snapshots
    except ImportError as exc:
        say(f"snapshot refresh: not measured ({exc})")
        return {}
    started = time.perf_counter()
    recounted = snapshots.refresh(force=True)
    return {"seconds": round(time.perf_counter() - started, 1), "recounted": recounted}


def table(title: str, results: dict[str, dict[str, Any]]) -> None:
    say(f"\n{title}")
    header = f"{'viewer':<10} {'endpoint':<42} {'cold ms':>9} {'p50 ms':>8} {'p95 ms':>8}"
    header += f" {'max ms':>8} {'<=300?':>6} {'n':>3}"
    say(header)
    say("-" * len(header))
    for viewer, rows in results.items():
        for name, s in rows.items():
            ok = "yes" if s["meets_target"] else "NO"
            cold = s.get("cold_ms", f"({s['first_ms']})" if "first_ms" in s else "")
            say(
                f"{viewer:<10} {name:<42} {cold!s:>9} {s['p50_ms']:>8} {s['p95_ms']:>8}"
                f" {s['max_ms']:>8} {ok:>6} {s['n']:>3}"
            )


def data_summary() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname IN "
            "('incidents_incident', 'exchange_event', 'exchange_report', "
            "'exchange_notification', 'intel_stixobject', 'intel_indicator', "
            "'advisories_advisory', 'advisories_target') ORDER BY relname"
        )
        rows = dict(cursor.fetchall())
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()
    return {"rows": rows, "postgres": version[0] if version else "?"}


def report_render(user: Any, year: int) -> dict[str, Any]:
    try:
        from bulwark.analytics.report import render_pdf_timed
    except ImportError as exc:
        say(f"annual report: not measured (bulwark.analytics.report not importable: {exc})")
        return {}
    started = time.perf_counter()
    rendered = render_pdf_timed(user, year, "en")
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 1),
        "pages": rendered.pages,
        "bytes": len(rendered.pdf),
        "meets_target": seconds <= TARGET_REPORT_S,
    }


def code_version() -> dict[str, Any]:
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": git("status", "--porcelain", "src").splitlines(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--year", type=int, default=datetime.now(UTC).year - 1)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per endpoint")
    parser.add_argument("--only", default="api,trend,page,report,refresh")
    parser.add_argument("--viewers", default=",".join(VIEWERS))
    parser.add_argument("--database", default="bulwark_bench_stats")
    parser.add_argument("--tag", default="", help="results go to stats_dashboards_<tag>.*")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    viewers = [v for v in args.viewers.split(",") if v]

    os.environ.update(
        {
            "DATABASE_URL": f"{args.server}/{args.database}",
            "BULWARK_DATA_DIR": tempfile.mkdtemp(prefix="bw-stats-"),
            "DJANGO_SETTINGS_MODULE": "bulwark.settings",
            "BULWARK_LOG_LEVEL": "WARNING",
        }
    )
    log("migrating the bench database")
    subprocess.run([sys.executable, "-m", "bulwark.cli", "migrate", "-v0"], check=True)
    import django

    django.setup()
    from django.conf import settings

    from bulwark.analytics import figures
    from bulwark.constituency.models import User

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    started = time.perf_counter()
    data = data_summary()
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    say(f"Statistics dashboards, period {args.year}, {now}")
    say(
        f"Data ({args.database}, PostgreSQL {data['postgres']}): "
        + ", ".join(f"{k} {v:,}" for k, v in data["rows"].items())
    )
    say(f"Target: p95 <= {TARGET_P95_MS:.0f} ms a dashboard; report <= {TARGET_REPORT_S:.0f} s.")
    say(
        "Mode: in-process django.test.Client (whole Django/DRF stack, no socket); "
        f"{args.runs} requests per endpoint after {args.warmup} warm-up (fewer when one "
        f"takes over {args.budget:.0f} s in all)."
    )
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    plans: dict[str, Any] = {}
    reports: dict[str, Any] = {}
    for username in viewers:
        user = User.objects.get(username=username)
        log(f"{username}: {VIEWERS.get(username, '')}")
        api = api_client(user)
        paths: dict[str, str] = {}
        if "api" in parts:
            for key in dashboard_keys(api):
                paths[f"api {key}"] = f"/api/v1/stats/{key}/?period={args.year}"
        if "trend" in parts:
            for key in figures.FIVE:
                paths[f"trend {key}"] = f"/api/v1/stats/{key}/trend/?until={args.year}-12"
        api_paths = {k: v for k, v in paths.items() if not k.startswith("page")}
        cold: dict[str, Any] = {}
        cold_sql: dict[str, list[tuple[float, str]]] = {}
        if "api" in parts:
            keys = dashboard_keys(api)
            cold, cold_sql = measure_cold(api, user, args.year, keys, args.budget)
        rows, captured = measure(api, api_paths, args.runs, args.warmup, args.budget)
        captured.update(cold_sql)  # a miss is explained by the statements that counted
        for name, c in cold.items():
            rows[name].update(c)
            rows[name]["meets_target"] = rows[name]["meets_target"] and c["cold_meets_target"]
        if "page" in parts:
            page_paths = {f"page {g}": f"/stats/?group={g}&period={args.year}" for g in PAGE_GROUPS}
            page_rows, page_captured = measure(
                web_client(user), page_paths, args.runs, args.warmup, args.budget
            )
            rows.update(page_rows)
            captured.update(page_captured)
        results[username] = rows
        for name, s in rows.items():
            if not s["meets_target"]:
                plans[f"{username} {name}"] = explain_slowest(captured[name])
        if "report" in parts:
            log(f"{username}: rendering the {args.year} annual report (PDF, en)")
            reports[username] = report_render(user, args.year)
            log(f"  report: {reports[username]}")
    refresh: dict[str, Any] = {}
    if "refresh" in parts:
        log("snapshot refresh task (force): recounting the CERT's common periods")
        refresh = refresh_task()
        log(f"  refresh: {refresh}")
    table(
        "Dashboards (target 300 ms; cold = counted in the database, median of 3, or in"
        " brackets the first request; p50/p95/max = warm requests, from the snapshots)",
        results,
    )
    if refresh:
        say(
            f"\nSnapshot refresh task (force, CERT scope, 7 common periods): "
            f"{refresh['recounted']} figures recounted in {refresh['seconds']} s"
        )
    if reports:
        say("\nAnnual report, render_pdf (HTML + charts + WeasyPrint PDF), target 60 s")
        for username, r in reports.items():
            if r:
                ok = "yes" if r["meets_target"] else "NO"
                size = f"{r['pages']} pages  {r['bytes']:,} bytes"
                say(f"{username:<10} {r['seconds']:>6} s  {size}  <=60 s? {ok}")
    misses = [
        f"{v} {n}" for v, rows in results.items() for n, s in rows.items() if not s["meets_target"]
    ]
    say(
        f"\nEndpoints measured: {sum(len(r) for r in results.values())}; over target: {len(misses)}"
    )
    for name in misses:
        plan = plans.get(name) or {}
        if plan.get("sql"):
            say(
                f"\n--- {name}: {plan['statements']} SQL statements, {plan['sql_total_s']} s in "
                f"all; the slowest ({plan['seconds']} s): {plan['sql'][:300]}"
            )
            for line in plan["plan"][:20]:
                say(f"    {line}")
    result = {
        "bench": "stats_dashboards",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": f"postgresql {data['postgres']}",
        "data": data,
        "year": args.year,
        "runs": args.runs,
        "code": code_version(),
        "viewers": {v: VIEWERS.get(v, "") for v in viewers},
        "target_p95_ms": TARGET_P95_MS,
        "target_report_s": TARGET_REPORT_S,
        "results": results,
        "report": reports,
        "refresh": refresh,
        "misses": misses,
        "explain_misses": plans,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "total_s": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
    }
    suffix = f"_{args.tag}" if args.tag else ""
    out_txt = OUT_TXT.with_name(f"stats_dashboards{suffix}.txt")
    out_json = OUT_JSON.with_name(f"stats_dashboards{suffix}.json")
    out_txt.parent.mkdir(parents=True, exist_ok=True)
    out_txt.write_text("\n".join(lines) + "\n")
    out_json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    written = f"{out_txt.relative_to(ROOT)} and {out_json.relative_to(ROOT)}"
    log(f"wrote {written}; total {result['total_s']} s")


if __name__ == "__main__":
    main()
