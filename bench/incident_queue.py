"""Incident queues at national scale: 1 M incidents in PostgreSQL, filtered lists and the
statistics queries. Target (performance brief): p95 <= 200 ms. Peer: TheHive 4, 12 s per
search at 12.5 k cases (the published figure; TheHive is not installed or re-measured here).

Builds a dedicated database (`bulwark_bench` by default: dropped and recreated, migrated,
demo constituency loaded by `bulwark demo --no-serve`), inserts N incidents with one
seeded `INSERT ... SELECT generate_series(...)` (deterministic: hashint8extended of the row
number and the seed, times relative to the generation day), then VACUUM ANALYZE. Then
measures, in-process through Django's test `Client` with a bearer token (no HTTP socket),
for a CERT duty officer (sees all) and an agency reporter (sees one organisation):

  queue    GET /api/v1/incidents/?open=1&limit=50            (nearest deadline first)
  filter   GET /api/v1/incidents/?level=3&rsit_class=intrusions&limit=50
  search   GET /api/v1/incidents/?q=<word>&limit=50
  stats       GET /api/v1/incidents/stats/              (per-level and per-class counts)
  stats_open  GET /api/v1/incidents/stats/?open=1
  stats_year  GET /api/v1/incidents/stats/?since=<this year>-01-01
  web_queue   GET /incidents/?open=1                      (the HTML queue, signed-in session)
  web_filter  GET /incidents/?level=3&rsit_class=intrusions
  web_sorted  GET /incidents/?open=1&sort=-level           (a sortable column)

Queries that miss the target are profiled with EXPLAIN (ANALYZE, BUFFERS). With
--try-indexes the candidate indexes are created in the bench database only, everything is
measured again, and the indexes are dropped at the end. A reused database is migrated
first (new application indexes are built then). One JSON line is appended to
bench/results/incident_queue.jsonl.

Usage: python bench/incident_queue.py [--incidents 1000000] [--reuse] [--runs 30]
       [--try-indexes] [--search-word ransomware] [--seed 20260101] [--label before]

To compare code versions in one run, measure the other version's tree against the same
database: PYTHONPATH=/path/to/other/src python bench/incident_queue.py --reuse --label before
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 200.0
PEER = {
    "name": "TheHive 4",
    "search_seconds": 12.0,
    "cases": 12_500,
    "source": "published figure quoted in the performance brief; not re-measured here "
    "(TheHive cannot be installed on this machine)",
}
VIEWERS = {"duty": "CERT duty officer (sees all)", "reporter2": "agency reporter (CDC only)"}
BENCH_REF_LENGTH = len("INC-2026-0000001")  # the demo's own references have 6 digits

# --- Synthetic data ------------------------------------------------------------------

# RSIT type -> relative weight and three title phrases (valid pairs from taxonomy.RSIT).
TYPE_MIX: dict[str, tuple[int, tuple[str, str, str]]] = {
    "spam": (20, ("Spam relayed through", "Bulk spam sent from", "Spam campaign abusing")),
    "harmful-speech": (3, ("Harassment posted on", "Threats sent to", "Hate speech on")),
    "violence": (1, ("Threat of violence against", "Violent content on", "Extortion threat to")),
    "infected-system": (
        30,
        ("Ransomware on", "Malware infection on", "Infected host in"),
    ),
    "c2-server": (8, ("Beaconing to C2 from", "C2 traffic from", "Botnet callback from")),
    "malware-distribution": (
        6,
        ("Malware hosted on", "Drive-by download on", "Malicious attachment sent to"),
    ),
    "malware-configuration": (2, ("Malware config found on", "Loader config on", "Stager on")),
    "scanner": (60, ("Port scan against", "Mass scanning of", "Vulnerability scan of")),
    "sniffing": (2, ("Traffic capture on", "Sniffer found on", "Rogue tap on")),
    "social-engineering": (
        10,
        ("Pretext calls to", "Social engineering against", "Vishing aimed at"),
    ),
    "ids-alert": (90, ("IDS alert on", "Suspicious traffic to", "Blocked exploit against")),
    "brute-force": (70, ("Password spraying on", "Brute force against", "Login flood on")),
    "exploit": (30, ("Exploit attempt on", "Exploitation attempt against", "RCE probe on")),
    "privileged-account-compromise": (
        12,
        ("Admin account takeover on", "Domain admin compromise in", "Root access on"),
    ),
    "unprivileged-account-compromise": (
        40,
        ("Mailbox compromise in", "Stolen credentials used on", "Account takeover on"),
    ),
    "application-compromise": (
        15,
        ("Web shell on", "Defacement of", "Compromised application on"),
    ),
    "system-compromise": (12, ("Compromised server in", "Backdoor on", "Intrusion into")),
    "burglary": (1, ("Break-in affecting", "Stolen laptop from", "Theft of equipment at")),
    "dos": (10, ("DoS against", "Service exhaustion on", "Resource exhaustion of")),
    "ddos": (45, ("DDoS on", "Volumetric attack on", "Layer 7 flood on")),
    "misconfiguration": (
        15,
        ("Outage from misconfiguration of", "Broken config on", "Bad push to"),
    ),
    "sabotage": (1, ("Sabotage of", "Deliberate damage to", "Insider sabotage of")),
    "outage": (20, ("Outage of", "Unplanned downtime of", "Power loss affecting")),
    "unauthorised-information-access": (
        15,
        ("Unauthorised access to", "Data accessed without rights on", "Snooping on"),
    ),
    "unauthorised-information-modification": (
        5,
        ("Records altered on", "Tampering with", "Unauthorised change to"),
    ),
    "data-loss": (8, ("Data loss on", "Lost backup of", "Deleted records on")),
    "data-leak": (20, ("Data leak from", "Exposed records from", "Leaked documents from")),
    "unauthorised-use-of-resources": (
        8,
        ("Cryptomining on", "Misuse of", "Unauthorised use of"),
    ),
    "copyright": (2, ("Pirated software on", "Copyright complaint about", "Infringing files on")),
    "masquerade": (10, ("Impersonation of", "Fake site mimicking", "Spoofed sender posing as")),
    "phishing": (120, ("Phishing against", "Credential phishing aimed at", "Phishing wave at")),
    "weak-crypto": (6, ("Weak TLS on", "Obsolete ciphers on", "Expired certificate on")),
    "ddos-amplifier": (10, ("Open resolver on", "NTP amplifier on", "Memcached reflector on")),
    "potentially-unwanted-accessible": (
        25,
        ("Exposed RDP on", "Open database on", "Exposed management interface of"),
    ),
    "information-disclosure": (12, ("Directory listing on", "Info leak from", "Debug page on")),
    "vulnerable-system": (60, ("Unpatched", "Vulnerable version of", "End-of-life software on")),
    "other": (8, ("Unusual activity on", "Suspicious event on", "Anomaly reported on")),
    "undetermined": (5, ("Unclassified event on", "Unclear incident on", "Pending triage on")),
    "test": (1, ("Test incident for", "Exercise on", "Test notification on")),
}
ASSETS = [
    "the mail gateway", "a file server", "the VPN appliance", "an engineering workstation",
    "the citizen portal", "the HR system", "a SCADA gateway", "the booking system",
    "the public web site", "a domain controller", "the payment API", "a laptop",
    "the document management system", "the DNS servers", "a branch office router",
    "the ERP system", "a cloud storage bucket", "the patient records system",
    "a database server", "the intranet",
]  # fmt: skip
SENTENCES = [
    "The SOC raised an alert during the night shift.",
    "The affected host was isolated from the network.",
    "Logs were preserved and handed to the CERT.",
    "Users were asked to reset their passwords.",
    "The vendor was contacted for a fix.",
    "Firewall rules were tightened at the perimeter.",
    "No personal data appears to have left the network.",
    "Services were restored from the last good backup.",
    "The incident was detected by an external partner.",
    "Indicators were shared with the sector ISAC.",
    "A forensic image of the disk was taken.",
    "Management was informed the same day.",
    "Monitoring was increased for two weeks.",
    "The root cause is still under investigation.",
    "Remote access was suspended as a precaution.",
    "Affected accounts were disabled.",
]
LEVELS = [1] * 55 + [2] * 35 + [3] * 8 + [4] * 2
TLPS = ["amber"] * 80 + ["green"] * 8 + ["clear"] * 4 + ["amber+strict"] * 6 + ["red"] * 2
OPEN_STATUSES = (
    ["reported"] * 15 + ["reviewed"] * 10 + ["responding"] * 30 + ["recovered"] * 25
    + ["final_report"] * 15 + ["revision_required"] * 5
)  # fmt: skip
IMPACTS = ["none"] * 6 + ["minor"] * 3 + ["serious"]

# Every column without a database default is given; the rows' physical order follows
# reported_at (ids grow with time), most closed, ~5% open (mostly the latest 3%).
INSERT_SQL = """
INSERT INTO incidents_incident (
    reference, organisation_id, reported_by_id, title, description, profile, status,
    level, proposed_level, level_reason, rsit_class, rsit_type, confidentiality,
    integrity, availability, core_system, critical_infrastructure, secret,
    restored_in_time, affected_systems, tolerable_interruption_hours, tlp, is_drill,
    aware_at, reported_at, recorded_at, backfill_reason, reviewed_at, reviewed_by_id,
    forwarded_at, recovered_at, final_report_at, final_report_extended_to, closed_at,
    next_due_at
)
SELECT
    'INC-' || to_char(reported_at AT TIME ZONE 'UTC', 'YYYY') || '-' || lpad((row_number()
        OVER (PARTITION BY date_trunc('year', reported_at AT TIME ZONE 'UTC') ORDER BY i)
    )::text, 7, '0'),
    org_id, reporter_id, title,
    title || '. ' || (%(sentences)s::text[])[1 + h8 %% 16] || ' '
        || (%(sentences)s::text[])[1 + h9 %% 16] || ' '
        || (%(sentences)s::text[])[1 + h10 %% 16],
    'tw', status, level, CASE WHEN h11 %% 10 = 0 THEN greatest(level - 1, 1) ELSE level END,
    '', rsit_class, rsit_type,
    (%(impacts)s::text[])[1 + h3 %% 10], (%(impacts)s::text[])[1 + h4 %% 10],
    (%(impacts)s::text[])[1 + h5 %% 10], h6 %% 4 = 0, ci AND h7 %% 3 = 0, 'none',
    CASE WHEN recovered_at IS NOT NULL THEN h12 %% 5 <> 0 END,
    '', NULL, tlp, h2 %% 100 = 0,
    reported_at - make_interval(secs => h1 %% 21600), reported_at, reported_at, '',
    reviewed_at, CASE WHEN reviewed_at IS NOT NULL THEN %(reviewer)s::bigint END,
    reviewed_at, recovered_at, final_report_at, NULL, closed_at,
    CASE status
        WHEN 'closed' THEN NULL
        WHEN 'reported' THEN reported_at + interval '1 hour' * (2 + level * 2)
        WHEN 'reviewed' THEN reported_at + interval '1 hour' * (24 + level * 12)
        WHEN 'responding' THEN reported_at + interval '1 hour' * (36 + level * 12)
        ELSE coalesce(recovered_at, reported_at) + interval '1 month'
    END
FROM (
    SELECT *,
        CASE WHEN status IN ('final_report', 'revision_required', 'closed')
            THEN least(recovered_at + make_interval(secs => 86400 + h10 * 7 %% 1728000),
                       %(anchor)s::timestamptz) END AS final_report_at,
        CASE WHEN status = 'closed'
            THEN least(recovered_at + make_interval(secs => 172800 + h11 * 7 %% 2592000),
                       %(anchor)s::timestamptz) END AS closed_at
    FROM (
        SELECT *,
            CASE WHEN status <> 'reported'
                THEN reported_at + make_interval(secs => 1800 + h9 * 7 %% 28800) END
                AS reviewed_at,
            CASE WHEN status IN ('recovered', 'final_report', 'revision_required', 'closed')
                THEN least(reported_at + make_interval(secs => 3600 + h12 * 7 %% 259200),
                           %(anchor)s::timestamptz) END AS recovered_at
        FROM (
            SELECT *,
                %(anchor)s::timestamptz - make_interval(
                    secs => %(span)s::float8 * (%(n)s - i) / %(n)s + h1 %% 3600
                ) AS reported_at,
                (%(org_ids)s::bigint[])[1 + h2 %% %(n_org)s] AS org_id,
                (%(reporters)s::bigint[])[1 + h2 %% %(n_org)s] AS reporter_id,
                (%(ci)s::boolean[])[1 + h2 %% %(n_org)s] AS ci,
                (%(classes)s::text[])[1 + h3 %% %(n_pair)s] AS rsit_class,
                (%(types)s::text[])[1 + h3 %% %(n_pair)s] AS rsit_type,
                (%(phrases)s::text[])[
                    ((%(type_no)s::int[])[1 + h3 %% %(n_pair)s] - 1) * 3 + 1 + h4 %% 3]
                    || ' ' || (%(assets)s::text[])[1 + h5 %% %(n_asset)s] AS title,
                (%(levels)s::int[])[1 + h6 %% 100] AS level,
                (%(tlps)s::text[])[1 + h7 %% 100] AS tlp,
                CASE WHEN (i > %(n)s * 0.97 AND h8 %% 100 < 90) OR h9 %% 10000 < 235
                    THEN (%(open)s::text[])[1 + h10 %% 100] ELSE 'closed' END AS status
            FROM (
                SELECT i,
                    hashint8extended(i, %(seed)s + 1) & 2147483647 AS h1,
                    hashint8extended(i, %(seed)s + 2) & 2147483647 AS h2,
                    hashint8extended(i, %(seed)s + 3) & 2147483647 AS h3,
                    hashint8extended(i, %(seed)s + 4) & 2147483647 AS h4,
                    hashint8extended(i, %(seed)s + 5) & 2147483647 AS h5,
                    hashint8extended(i, %(seed)s + 6) & 2147483647 AS h6,
                    hashint8extended(i, %(seed)s + 7) & 2147483647 AS h7,
                    hashint8extended(i, %(seed)s + 8) & 2147483647 AS h8,
                    hashint8extended(i, %(seed)s + 9) & 2147483647 AS h9,
                    hashint8extended(i, %(seed)s + 10) & 2147483647 AS h10,
                    hashint8extended(i, %(seed)s + 11) & 2147483647 AS h11,
                    hashint8extended(i, %(seed)s + 12) & 2147483647 AS h12
                FROM generate_series(1, %(n)s::bigint) AS g(i)
            ) hashed
        ) base
    ) reviewed
) timed
"""

# Candidate indexes (--try-indexes), created in the bench database only and dropped after.
# Django's icontains on PostgreSQL is `UPPER(col::text) LIKE UPPER(%s)`, so text indexes
# are on UPPER(...) expressions. The candidates measured on 2026-11-23 (open-queue partial
# indexes, TLP:RED reporter, trigram search) are now the application's own: incidents
# migration 0004. Add new candidates here to measure them before proposing a migration.
CANDIDATE_INDEXES: dict[str, str] = {}
# Earlier candidates, dropped if a previous run left them behind.
OLD_CANDIDATES = [
    "bench_inc_rsit_class_level", "bench_inc_open_queue", "bench_inc_org_open_queue",
    "bench_inc_red_reporter", "bench_inc_title_trgm", "bench_inc_description_trgm",
    "bench_inc_reference_upper", "bench_timeline_text_trgm",
]  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {message}", flush=True)


def admin_connect(base_url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"{base_url}/postgres", autocommit=True)


def bench_count(url: str) -> int | None:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM incidents_incident WHERE length(reference) = %s",
                (BENCH_REF_LENGTH,),
            ).fetchone()
            return int(row[0]) if row else None
    except psycopg.Error:
        return None


def recreate_database(base_url: str, name: str) -> None:
    with admin_connect(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def load_demo(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "bulwark.cli", "demo", "--no-serve"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip


def generation_params(conn: psycopg.Connection[Any], n: int, seed: int) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT id, kind FROM constituency_organisation "
        "WHERE kind IN ('government_agency', 'ci_operator') ORDER BY id"
    ).fetchall()
    users = dict(conn.execute("SELECT username, id FROM constituency_user").fetchall())
    # Each organisation's incidents are reported by its demo reporter if it has one,
    # else entered by the CERT's duty officer. CI operators report 1.5x as often.
    reporter_of = dict(
        conn.execute(
            "SELECT m.organisation_id, m.user_id FROM constituency_membership m "
            "WHERE m.role = 'reporter'"
        ).fetchall()
    )
    org_ids: list[int] = []
    reporters: list[int] = []
    ci: list[bool] = []
    for org_id, kind in rows:
        weight = 3 if kind == "ci_operator" else 2
        org_ids += [org_id] * weight
        reporters += [reporter_of.get(org_id, users["duty"])] * weight
        ci += [kind == "ci_operator"] * weight
    from bulwark.incidents.taxonomy import RSIT

    class_of = {t: c for c, types in RSIT.items() for t in types}
    assert set(TYPE_MIX) == set(class_of), "TYPE_MIX must cover every RSIT type"
    classes: list[str] = []
    types: list[str] = []
    type_no: list[int] = []
    phrases: list[str] = []
    for number, (rsit_type, (weight, texts)) in enumerate(TYPE_MIX.items(), start=1):
        classes += [class_of[rsit_type]] * weight
        types += [rsit_type] * weight
        type_no += [number] * weight
        phrases += list(texts)
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "n": n, "seed": seed, "anchor": anchor, "span": 3 * 365.25 * 86400,
        "org_ids": org_ids, "reporters": reporters, "ci": ci, "n_org": len(org_ids),
        "classes": classes, "types": types, "type_no": type_no, "phrases": phrases,
        "n_pair": len(classes), "assets": ASSETS, "n_asset": len(ASSETS),
        "sentences": SENTENCES, "levels": LEVELS, "tlps": TLPS, "open": OPEN_STATUSES,
        "impacts": IMPACTS, "reviewer": users["duty"],
    }  # fmt: skip


def generate(url: str, n: int, seed: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    with psycopg.connect(url) as conn:
        params = generation_params(conn, n, seed)
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET work_mem = '256MB'")
        # Secondary indexes are dropped for the load and rebuilt after (much faster than
        # maintaining ten indexes row by row); constraint indexes stay.
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = "
            "'incidents_incident' AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)"
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        started = time.perf_counter()
        conn.execute(INSERT_SQL, params)
        conn.commit()  # runs the deferred foreign-key checks
        timings["insert_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        for _name, definition in indexes:
            conn.execute(definition)
        timings["indexes_s"] = round(time.perf_counter() - started, 1)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) incidents_incident")
        timings["vacuum_analyze_s"] = round(time.perf_counter() - started, 1)
    return timings


def describe_data(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        total, open_, lvl3_intr, size = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'closed'), "
            "count(*) FILTER (WHERE level = 3 AND rsit_class = 'intrusions'), "
            "pg_size_pretty(pg_total_relation_size('incidents_incident')) "
            "FROM incidents_incident"
        ).fetchone()  # type: ignore[misc]
        per_org = conn.execute(
            "SELECT o.short_name, count(*) FROM incidents_incident i JOIN "
            "constituency_organisation o ON o.id = i.organisation_id "
            "WHERE o.short_name = 'CDC' GROUP BY 1"
        ).fetchone()
        version = conn.execute("SHOW server_version").fetchone()
    return {
        "incidents": total, "open": open_, "level3_intrusions": lvl3_intr,
        "table_size": size, "cdc_incidents": per_org[1] if per_org else 0,
        "postgres": version[0] if version else "?",
    }  # fmt: skip


def bulwark_path() -> str:
    import bulwark

    return str(Path(bulwark.__file__).parent)


def code_version() -> dict[str, Any]:
    """The commit measured, and the application files changed on top of it."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": git("status", "--porcelain", "src").splitlines(),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(samples: list[float]) -> dict[str, Any]:
    p95 = percentile(samples, 0.95)
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 0.50) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "meets_target": p95 * 1000 <= TARGET_P95_MS,
        "peer_ratio": round(PEER["search_seconds"] / p95, 1),  # type: ignore[operator]
    }


# --- Measurement (Django in-process) ---------------------------------------------------


def timed_runs(call: Any, runs: int, budget_s: float) -> list[Any]:
    """Up to `runs` calls, stopping early (after at least 5) once `budget_s` is spent, so
    that a query taking seconds does not take the whole run."""
    out = []
    started = time.perf_counter()
    for i in range(runs):
        out.append(call())
        if i + 1 >= 5 and time.perf_counter() - started > budget_s:
            break
    return out


def measure(
    runs: int, warmup: int, word: str, budget_s: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns {viewer: {query: summary}} and, per viewer and query, one sample request's
    captured SQL (for profiling)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bulwark.constituency.models import User
    from bulwark.constituency.services import create_api_token

    results: dict[str, Any] = {}
    captured: dict[str, Any] = {}
    for username in VIEWERS:
        user = User.objects.get(username=username)
        _token, secret = create_api_token(
            None, user, name="bench incident_queue", scopes=["incidents:read"], days=1
        )
        api = Client(headers={"authorization": f"Bearer {secret}"})
        web = session_client(user)
        results[username] = {}
        captured[username] = {}
        for key, path in paths(word).items():
            client = web if key.startswith("web_") else api
            for _ in range(warmup):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            def request(path: str = path, client: Client = client) -> float:
                started = time.perf_counter()
                response = client.get(path)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (path, response.status_code)
                return elapsed

            samples = timed_runs(request, runs, budget_s)
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path)
            captured[username][key] = [q["sql"] for q in ctx.captured_queries]
            if key.startswith("web_"):
                html = response.content.decode()
                shown = {"rows": html.count("<tr data-reference="), "queries": len(ctx)}
            else:
                body = response.json()
                shown = (
                    {"rows": len(body["results"]), "count": body["count"]}
                    if "results" in body
                    else {"count": body["total"]}
                )
            results[username][key] = {**summarise(samples), **shown}
    return results, captured


def session_client(user: Any) -> Any:
    """A browser session that has passed both factors (CERT staff must give one)."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.get_or_create(
        user=user, name="bench", defaults={"confirmed": True}
    )[0]
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def paths(word: str) -> dict[str, str]:
    return {
        "web_queue": "/incidents/?open=1",
        "web_filter": "/incidents/?level=3&rsit_class=intrusions",
        "web_sorted": "/incidents/?open=1&sort=-level",
        "queue": "/api/v1/incidents/?open=1&limit=50",
        "filter": "/api/v1/incidents/?level=3&rsit_class=intrusions&limit=50",
        "search": f"/api/v1/incidents/?q={word}&limit=50",
        "stats": "/api/v1/incidents/stats/",
        "stats_open": "/api/v1/incidents/stats/?open=1",
        "stats_year": f"/api/v1/incidents/stats/?since={datetime.now(UTC).year}-01-01",
    }


def explain(captured: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the incident queries behind every missed target."""
    from django.db import connection

    plans: dict[str, Any] = {}
    for username, queries in results.items():
        for key, summary in queries.items():
            if summary["meets_target"]:
                continue
            for sql in captured[username][key]:
                if "incidents_incident" not in sql:
                    continue
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                    lines = [row[0] for row in cursor.fetchall()]
                plans.setdefault(f"{username}/{key}", []).append({"sql": sql, "plan": lines})
    return plans


def print_table(title: str, results: dict[str, Any]) -> None:
    print(f"\n{title}")
    header = f"{'viewer':<10} {'query':<12} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    header += f" {'<=200?':>7} {'peer/p95':>9} {'n':>3} {'count':>7}"
    print(header)
    print("-" * len(header))
    for username, queries in results.items():
        for key, s in queries.items():
            ok = "yes" if s["meets_target"] else "NO"
            count = s.get("count", "")
            print(
                f"{username:<10} {key:<12} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['max_ms']:>8}"
                f" {ok:>7} {str(s['peer_ratio']) + 'x':>9} {s['n']:>3} {count!s:>7}"
            )


def print_plans(plans: dict[str, Any]) -> None:
    for name, entries in plans.items():
        for entry in entries:
            print(f"\n--- EXPLAIN ANALYZE {name}: {entry['sql'][:160]}...")
            for line in entry["plan"][:25]:
                print(f"    {line}")


def plan_summary(plans: dict[str, Any]) -> dict[str, Any]:
    """The JSON keeps each plan's first node lines and the execution time."""
    out: dict[str, Any] = {}
    for name, entries in plans.items():
        out[name] = [
            {
                "query": "count" if "COUNT(*)" in e["sql"] else "rows",
                "nodes": [line.strip() for line in e["plan"] if "->" in line][:6],
                "execution": next(
                    (line for line in e["plan"] if line.startswith("Execution Time")), ""
                ),
            }
            for e in entries
        ]
    return out


def create_candidate_indexes() -> dict[str, float]:
    from django.db import connection

    built: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for name, ddl in CANDIDATE_INDEXES.items():
            started = time.perf_counter()
            cursor.execute(ddl)
            built[name] = round(time.perf_counter() - started, 1)
            log(f"built {name} in {built[name]} s")
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("ANALYZE incidents_incident")
    return built


def drop_candidate_indexes() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name in [*CANDIDATE_INDEXES, *OLD_CANDIDATES]:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database if it has N")
    parser.add_argument("--runs", type=int, default=30, help="measured requests per query")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--budget", type=float, default=40.0, help="seconds per query before stopping early"
    )
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--search-word", default="ransomware")
    parser.add_argument("--try-indexes", action="store_true", help="measure candidate indexes")
    parser.add_argument("--keep-indexes", action="store_true", help="do not drop them after")
    parser.add_argument("--database", default="bulwark_bench")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--label", default="", help="names the code measured (before/after)")
    args = parser.parse_args()

    url = f"{args.server}/{args.database}"
    data_dir = tempfile.mkdtemp(prefix="bulwark-bench-")
    env = {
        **os.environ, "DATABASE_URL": url, "BULWARK_DATA_DIR": data_dir,
        "DJANGO_SETTINGS_MODULE": "bulwark.settings", "BULWARK_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    os.environ.update(env)
    started = time.perf_counter()
    generation: dict[str, Any] = {"reused": False}
    if args.reuse and bench_count(url) == args.incidents:
        generation["reused"] = True
        log(f"reusing {args.database} with {args.incidents} incidents; migrating")
        started_migrate = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bulwark.cli", "migrate", "-v0"], env=env, check=True)
        generation["migrate_s"] = round(time.perf_counter() - started_migrate, 1)
    else:
        log(f"recreating {args.database}, migrating, loading the demo constituency")
        recreate_database(args.server, args.database)
        load_demo(env)
        generation["demo_s"] = round(time.perf_counter() - started, 1)
        log(f"inserting {args.incidents} incidents (seed {args.seed})")
        generation.update(generate(url, args.incidents, args.seed))
        log(f"generated: {generation}")
    import django

    django.setup()
    drop_candidate_indexes()  # a reused database starts from the application's schema
    data = describe_data(url)
    log(f"data: {data}")

    load_before = os.getloadavg()
    phases: dict[str, Any] = {}

    def phase(name: str, title: str) -> None:
        log(f"{name}: {args.runs} runs per query and viewer (budget {args.budget} s each)")
        results, captured = measure(args.runs, args.warmup, args.search_word, args.budget)
        print_table(title, results)
        plans = explain(captured, results)
        print_plans(plans)
        phases[name] = {"results": results, "explain_misses": plan_summary(plans)}

    phase("baseline", "Baseline (application code and schema as committed/working tree)")
    built: dict[str, float] = {}
    try:
        if args.try_indexes:
            log("creating candidate indexes in the bench database only")
            built = create_candidate_indexes()
            phase("indexes", "With candidate indexes (application code unchanged)")
    finally:
        if args.try_indexes and not args.keep_indexes:
            drop_candidate_indexes()

    print(
        f"\nPeer: {PEER['name']} {PEER['search_seconds']} s per search at {PEER['cases']} "
        f"cases -- {PEER['source']}. 'peer/p95' = 12 000 ms / our p95, measured at "
        f"{data['incidents']} incidents ({data['incidents'] / PEER['cases']:.0f}x the "
        "peer's data)."
    )
    print(
        "Mode: in-process django.test.Client with a bearer token (full Django/DRF stack, "
        "no socket); stats = GET /api/v1/incidents/stats/ (one GROUP BY on visible_to)."
    )
    baseline = phases["baseline"]["results"]
    result = {
        "bench": "incident_queue",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": f"postgresql {data['postgres']}",
        "mode": "in-process django.test.Client, bearer token",
        "data": data,
        "seed": args.seed,
        "search_word": args.search_word,
        "code": {**code_version(), "label": args.label, "bulwark_from": bulwark_path()},
        "runs": args.runs,
        "generation": generation,
        "target_p95_ms": TARGET_P95_MS,
        "peer": PEER,
        "viewers": VIEWERS,
        "results": baseline,
        "meets_target": all(s["meets_target"] for v in baseline.values() for s in v.values()),
        "phases": phases,
        "candidate_indexes": CANDIDATE_INDEXES if args.try_indexes else None,
        "index_build_s": built,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "total_s": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
    }
    out = ROOT / "bench" / "results" / "incident_queue.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh:
        fh.write(json.dumps(result, default=str) + "\n")
    log(f"appended to {out.relative_to(ROOT)}; total {result['total_s']} s")


if __name__ == "__main__":
    main()
