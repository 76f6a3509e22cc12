"""The statistics benchmark's data: a PostgreSQL database at the scale the issue names.

Target (issue): "With 1 M incidents, 10 M exchange events and 1 M shared items in
PostgreSQL, every dashboard answers with p95 <= 300 ms and the annual report renders in
<= 60 s." This script builds that database once; bench/stats_dashboards.py measures it.

Database `bulwark_bench_stats` (created if missing, migrated, demo constituency loaded
with `bulwark demo --no-serve`), then, each part skipped when its rows are already there
(so a second run only migrates and re-analyses):

  incidents      1 M over 5 years, the generator of bench/incident_queue.py (same seeded
                 `INSERT ... SELECT generate_series`, same mix: levels mostly 1-2, every
                 RSIT type, TLPs, open/closed states, clock timestamps met and late),
                 plus 1 % referred to the law-enforcement agency (coordinated cases)
  notifications  300 k to the demo agencies and the foreign CERTs (a third), most sent,
                 a few bounced or failed, a fifth of the agencies' ones answered
  reports        100 k received reports of 100 events each = 10 M events; 10 % of the
                 reports come from foreign CERTs (provider, sender's ticket) and their
                 events are 53 % infected systems, then attacks, spam and phishing
                 (DOMAIN.md section 6); events are routed to agencies, foreign CERTs or
                 left unrouted, and attached to a notification
  intel          1 M STIX objects in the demo collections, by category (early warnings
                 the most), mixed TLP, 3 % awaiting review; their indicators (70 %),
                 100 k observable values and 300 k sightings
  advisories     10 k sent advisories by category, 20 targets each, most acknowledged,
                 some with the action taken

Rows are generated in SQL, deterministic from --seed (hashint8extended of the row number).
For each bulk table the secondary indexes, unique and foreign-key constraints are dropped
for the load and rebuilt after (a sort per index instead of 10 M random inserts, one join
per foreign key instead of 10 M trigger calls); the incident triggers that keep
`IncidentCount` stay on. Then VACUUM ANALYZE. The timings and table sizes go to
bench/results/stats_data.json (one entry appended per run).

Usage: python bench/stats_data.py [--incidents 1000000] [--events 10000000]
       [--objects 1000000] [--notifications 300000] [--advisories 10000] [--years 5]
       [--recreate] [--database bulwark_bench_stats]
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
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

import incident_queue  # noqa: E402  (the 1 M incident generator, reused)

RESULTS = ROOT / "bench" / "results" / "stats_data.json"
EVENTS_PER_REPORT = 100
TARGETS_PER_ADVISORY = 20
YEAR_S = 365.25 * 86400

# Event mix of reports from foreign CERTs (DOMAIN.md section 6: 53 % infected systems,
# then attack, spam, phishing), and of the feeds (scans of vulnerable services most).
FOREIGN_TYPES = (
    ["infected-system"] * 53 + ["ddos"] * 6 + ["brute-force"] * 6 + ["exploit"] * 4
    + ["scanner"] * 4 + ["system-compromise"] * 2 + ["spam"] * 11 + ["phishing"] * 9
    + ["c2-server"] * 3 + ["malware-distribution"] * 2
)  # fmt: skip
FEED_TYPES = (
    ["vulnerable-system"] * 25 + ["ddos-amplifier"] * 15 + ["potentially-unwanted-accessible"] * 20
    + ["infected-system"] * 20 + ["scanner"] * 8 + ["weak-crypto"] * 4 + ["phishing"] * 3
    + ["spam"] * 3 + ["information-disclosure"] * 2
)  # fmt: skip
ALL_TYPES = sorted(set(FOREIGN_TYPES) | set(FEED_TYPES))
FOREIGN_FORMATS = ["xarf", "arf", "iodef"]
# Shared-item categories (intel.Category codes), types and TLP (0 CLEAR .. 4 RED).
INTEL_CATEGORIES = (
    ["early-warning"] * 45 + ["vulnerability"] * 15 + ["malware"] * 12 + ["phishing"] * 10
    + ["intrusion"] * 6 + ["ddos"] * 4 + ["spam"] * 3 + ["fraud"] * 3 + ["other"] * 2
)  # fmt: skip
INTEL_TYPES = (
    ["indicator"] * 70 + ["vulnerability"] * 10 + ["malware"] * 7 + ["report"] * 5
    + ["observed-data"] * 4 + ["attack-pattern"] * 2 + ["course-of-action"] * 2
)  # fmt: skip
INTEL_TLPS = [1] * 50 + [2] * 25 + [0] * 15 + [3] * 7 + [4] * 3
VALUE_KINDS = ["ipv4"] * 40 + ["domain"] * 25 + ["url"] * 20 + ["sha256"] * 10 + ["ipv6"] * 5
ADVISORY_CATEGORIES = (
    ["vulnerability-alert"] * 45 + ["early-warning"] * 20 + ["malware-alert"] * 15
    + ["incident-notice"] * 10 + ["policy-notice"] * 4 + ["security-news"] * 4
    + ["guideline"] * 2
)  # fmt: skip

H = "hashint8extended(i, %(seed)s + {k}) & 2147483647"


def hashes(count: int) -> str:
    return ", ".join(f"{H.format(k=k)} AS h{k}" for k in range(1, count + 1))


# As incidents migration 0006 backfills IncidentCount.
COUNTS_SQL = """
INSERT INTO incidents_incidentcount (level, rsit_class, is_open, is_drill, tlp, n)
SELECT level, rsit_class, status <> 'closed', is_drill, tlp, count(*) FROM incidents_incident
GROUP BY level, rsit_class, status <> 'closed', is_drill, tlp
"""

REFERRALS_SQL = """
INSERT INTO incidents_referral (incident_id, organisation_id, referred_by_id, referred_at,
    note, package_sha256)
SELECT id, %(lea)s, %(duty)s, reported_at + interval '2 days', 'bench referral',
    md5(id::text || 'pkg') || md5(id::text || 'pkg2')
FROM incidents_incident
WHERE length(reference) = 16 AND hashint8extended(id, %(seed)s) %% 100 = 0
"""

NOTIFICATIONS_SQL = f"""
INSERT INTO exchange_notification (key, ticket, recipient_id, classification_type, cadence,
    language, address, event_count, status, attempts, last_error, next_attempt_at,
    created_at, sent_at, message_id)
SELECT 'bench/' || i, 'BN' || lpad(i::text, 9, '0'), recipient, ctype, 'daily', 'en',
    'abuse@bench.example', 1 + h3 %% 60,
    CASE WHEN h4 %% 100 < 2 THEN 'bounced' WHEN h4 %% 100 < 3 THEN 'failed' ELSE 'sent' END,
    CASE WHEN h4 %% 100 < 3 THEN 5 ELSE 1 END, '', NULL, created_at,
    CASE WHEN h4 %% 100 >= 2 AND h4 %% 100 < 3 THEN NULL
         ELSE created_at + make_interval(secs => 30 + h5 %% 900) END,
    '<BN' || i || '@bench.example>'
FROM (
    SELECT i, h3, h4, h5,
        CASE WHEN h1 %% 3 = 0 THEN (%(certs)s::bigint[])[1 + h2 %% %(n_certs)s]
             ELSE (%(agencies)s::bigint[])[1 + h2 %% %(n_agencies)s] END AS recipient,
        (%(types)s::text[])[1 + h6 %% %(n_types)s] AS ctype,
        %(anchor)s::timestamptz - make_interval(
            secs => %(span)s::float8 * (%(n)s - i) / %(n)s + h7 %% 3600) AS created_at
    FROM (SELECT i, {hashes(7)} FROM generate_series(1, %(n)s::bigint) AS g(i)) hashed
) picked
"""

REPLIES_SQL = """
INSERT INTO exchange_notificationreply (notification_id, message_id, sender, subject, body,
    is_bounce, received_at)
SELECT n.id, '<reply-' || n.ticket || '@bench.example>', 'soc@agency.example',
    'Re: [' || n.ticket || ']', 'Fixed, thank you.', n.status = 'bounced',
    n.sent_at + interval '5 hours'
FROM exchange_notification n JOIN constituency_organisation o ON o.id = n.recipient_id
WHERE n.key LIKE 'bench/%%' AND n.sent_at IS NOT NULL
    AND (n.status = 'bounced' OR (o.kind <> 'foreign_cert'
         AND hashint8extended(n.id, %(seed)s) %% 5 = 0))
"""

REPORTS_SQL = f"""
INSERT INTO exchange_report (sha256, file_name, format, feed_name, provider, report_type,
    foreign_ticket, source, size, received_at, finished_at, status, error, counts,
    submitted_by_id)
SELECT encode(sha256(('bench-report-' || i)::bytea), 'hex'),
    CASE WHEN foreign_ THEN 'report-' || i || '.eml' ELSE 'scan-' || i || '.csv' END,
    CASE WHEN foreign_ THEN (%(foreign_formats)s::text[])[1 + h2 %% 3] ELSE 'shadowserver' END,
    CASE WHEN foreign_ THEN '' ELSE 'shadowserver-scan' END,
    CASE WHEN foreign_ THEN (%(cert_names)s::text[])[1 + h3 %% %(n_certs)s]
         ELSE 'Shadowserver' END,
    CASE WHEN foreign_ THEN 'incident' ELSE 'scan' END,
    CASE WHEN foreign_ THEN 'T' || (1000000 + i)::text ELSE '' END,
    CASE WHEN foreign_ THEN 'email' ELSE 'pull' END,
    20000 + h4 %% 100000, received_at, received_at + interval '20 seconds', 'done', '',
    jsonb_build_object('events', {EVENTS_PER_REPORT}, 'read', {EVENTS_PER_REPORT}), NULL
FROM (
    SELECT i, h2, h3, h4, h1 %% 10 = 0 AS foreign_,
        %(anchor)s::timestamptz - make_interval(
            secs => %(span)s::float8 * (%(n)s - i) / %(n)s) AS received_at
    FROM (SELECT i, {hashes(4)} FROM generate_series(1, %(n)s::bigint) AS g(i)) hashed
) picked
"""

# Event i belongs to report (i - 1) / 100 + 1 of this run (ids from first_report on).
EVENTS_SQL = f"""
INSERT INTO exchange_event (report_id, record_no, event_id, dedupe_key, taxonomy,
    classification_type, identifier, source_ip, source_port, source_asn, source_fqdn,
    country, destination_ip, feed_name, feed_provider, time_source, time_observation,
    recipient_id, route_via, route_match, suppressed_by_id, data, notification_id, from_foreign)
SELECT %(first_report)s::bigint + r - 1, (i - 1) %% {EVENTS_PER_REPORT} + 1,
    md5(i::text || 'event')::uuid, md5(i::text || 'dedupe')::uuid,
    (%(taxonomies)s::text[])[type_no], (%(types)s::text[])[type_no], '',
    ip, 1024 + h3 %% 60000, NULL, '', country, NULL,
    CASE WHEN foreign_ THEN '' ELSE 'shadowserver-scan' END,
    CASE WHEN foreign_ THEN 'foreign CERT' ELSE 'Shadowserver' END,
    observed - make_interval(secs => h4 %% 86400), observed,
    recipient,
    CASE WHEN recipient IS NULL THEN 'unrouted' WHEN h5 %% 10 < 9 THEN 'cidr' ELSE 'country' END,
    CASE WHEN recipient IS NULL THEN '' ELSE 'bench' END,
    NULL,
    '{{"classification.type": "' || (%(types)s::text[])[type_no] || '", "source.ip": "'
        || host(ip) || '", "time.observation": "' || observed || '"}}',
    CASE WHEN recipient IS NOT NULL AND h6 %% 100 < 97
        THEN %(first_notification)s::bigint + h7 %% %(n_notifications)s END,
    foreign_
FROM (
    SELECT i, r, h3, h4, h5, h6, h7, foreign_,
        CASE WHEN foreign_ THEN (%(foreign_type_no)s::int[])[1 + h1 %% 100]
             ELSE (%(feed_type_no)s::int[])[1 + h1 %% 100] END AS type_no,
        '198.18.0.0'::inet + (h2 %% 131072) AS ip,
        CASE WHEN h8 %% 100 < 85 THEN 'TW' ELSE (%(countries)s::text[])[1 + h8 %% 5] END
            AS country,
        CASE WHEN h8 %% 100 < 85 THEN (%(agencies)s::bigint[])[1 + h9 %% %(n_agencies)s]
             WHEN h8 %% 100 < 95 THEN (%(certs)s::bigint[])[1 + h9 %% %(n_certs)s] END
            AS recipient,
        %(anchor)s::timestamptz - make_interval(
            secs => %(span)s::float8 * (%(n_reports)s - r) / %(n_reports)s)
            + make_interval(secs => (i - 1) %% {EVENTS_PER_REPORT}) AS observed
    FROM (
        SELECT i, r, {hashes(9)},
            (hashint8extended(r, %(report_seed)s) & 2147483647) %% 10 = 0 AS foreign_
        FROM (SELECT i, (i - 1) / {EVENTS_PER_REPORT} + 1 AS r
              FROM generate_series(1, %(n)s::bigint) AS g(i)) numbered
    ) hashed
) picked
"""

OBJECTS_SQL = f"""
INSERT INTO intel_stixobject (collection_id, stix_id, type, spec_version, created, modified,
    version, date_added, is_latest, tlp, source_org_id, audience_org_id, sharing_group_id,
    submitted_by_id, status, category_id, raw, submission_id)
SELECT collection, stype || '--' || md5(i::text || 'stix')::uuid, stype, '2.1',
    added - interval '10 minutes', added - interval '10 minutes', added - interval '10 minutes',
    added, true, tlp, source, NULL, NULL, submitter,
    CASE WHEN h5 %% 100 < 3 THEN 'pending' ELSE 'published' END, category,
    '{{"type": "' || stype || '", "spec_version": "2.1", "id": "' || stype || '--'
        || md5(i::text || 'stix')::uuid || '", "created": "' || added || '"}}',
    NULL
FROM (
    SELECT i, h5,
        (%(types)s::text[])[1 + h1 %% 100] AS stype,
        (%(categories)s::bigint[])[1 + h2 %% 100] AS category,
        (%(tlps)s::int[])[1 + h3 %% 100] AS tlp,
        (%(collections)s::bigint[])[1 + h4 %% %(n_collections)s] AS collection,
        (%(sources)s::bigint[])[1 + h6 %% %(n_sources)s] AS source,
        (%(submitters)s::bigint[])[1 + h6 %% %(n_sources)s] AS submitter,
        %(anchor)s::timestamptz - make_interval(
            secs => %(span)s::float8 * (%(n)s - i) / %(n)s + h7 %% 3600) AS added
    FROM (SELECT i, {hashes(7)} FROM generate_series(1, %(n)s::bigint) AS g(i)) hashed
) picked
"""

INDICATORS_SQL = """
INSERT INTO intel_indicator (stix_object_id, name, pattern, pattern_type, valid_from,
    valid_until, confidence, kind)
SELECT id, 'bench indicator', '[ipv4-addr:value = ''' || host('198.18.0.0'::inet
        + (hashint8extended(id, %(seed)s) & 131071)) || ''']', 'stix', date_added,
    CASE WHEN hashint8extended(id, %(seed)s + 1) %% 2 = 0
        THEN date_added + interval '1 day' * (7 + (hashint8extended(id, %(seed)s + 2)
            & 2147483647) %% 180) END,
    50 + (hashint8extended(id, %(seed)s + 3) & 2147483647) %% 50,
    (%(kinds)s::text[])[1 + (hashint8extended(id, %(seed)s + 4) & 2147483647) %% 100]
FROM intel_stixobject
WHERE type = 'indicator' AND id >= %(first_object)s
"""

VALUES_SQL = """
INSERT INTO intel_value (kind, value, net_key, last_sighted_at, sighting_count,
    false_positive_count)
SELECT 'ipv4', host('100.64.0.0'::inet + i), NULL, NULL, 0, 0
FROM generate_series(1, %(n)s::bigint) AS g(i)
"""

SIGHTINGS_SQL = f"""
INSERT INTO intel_sighting (value_id, organisation_id, count, first_seen, last_seen, source,
    false_positive, recorded_at, recorded_by_id)
SELECT %(first_value)s::bigint + h1 %% %(n_values)s,
    (%(agencies)s::bigint[])[1 + h2 %% %(n_agencies)s], 1 + h3 %% 20,
    seen - interval '1 hour', seen, 'bench', h4 %% 100 < 3, seen, NULL
FROM (
    SELECT i, h1, h2, h3, h4,
        %(anchor)s::timestamptz - make_interval(
            secs => %(span)s::float8 * (%(n)s - i) / %(n)s + h5 %% 3600) AS seen
    FROM (SELECT i, {hashes(5)} FROM generate_series(1, %(n)s::bigint) AS g(i)) hashed
) picked
"""

ADVISORIES_SQL = f"""
INSERT INTO advisories_advisory (reference, title, title_zh_hant, summary, summary_zh_hant,
    body, body_zh_hant, category_id, severity, tlp, publication, cves, affected_products,
    recommended_actions, response_required, response_deadline, related_indicators,
    target_all, target_inventory, status, revision, author_id, approved_by_id, approved_at,
    sent_by_id, sent_at, created_at, updated_at)
SELECT 'BWB-' || lpad(i::text, 7, '0'), 'Bench advisory ' || i, '', 'Bench summary.', '',
    'Bench body.', '', (%(categories)s::bigint[])[1 + h1 %% 100],
    (ARRAY['low', 'medium', 'high', 'critical'])[1 + h2 %% 4],
    (ARRAY['amber', 'amber', 'green', 'clear', 'red'])[1 + h3 %% 5], '', '[]'::jsonb,
    '[]'::jsonb, '',
    (ARRAY['acknowledge', 'acknowledge', 'action', 'none'])[1 + h4 %% 4],
    CASE WHEN h4 %% 4 < 3 THEN sent + interval '7 days' END, '[]'::jsonb,
    false, false, 'sent', 1, %(analyst)s, %(duty)s, sent - interval '1 hour', %(duty)s, sent,
    sent - interval '3 hours', sent
FROM (
    SELECT i, h1, h2, h3, h4,
        %(anchor)s::timestamptz - make_interval(
            secs => %(span)s::float8 * (%(n)s - i) / %(n)s + h5 %% 3600) AS sent
    FROM (SELECT i, {hashes(5)} FROM generate_series(1, %(n)s::bigint) AS g(i)) hashed
) picked
"""

TARGETS_SQL = f"""
INSERT INTO advisories_target (advisory_id, organisation_id, reason, read_at, acknowledged_at,
    acknowledged_by_id, action, action_note, acted_at, acted_by_id, reminded_at,
    escalated_at)
SELECT a.id, (%(agencies)s::bigint[])[1 + (a.id * 7 + k) %% %(n_agencies)s], 'bench',
    CASE WHEN h %% 100 < 92 THEN a.sent_at + make_interval(secs => 600 + h %% 20000) END,
    CASE WHEN h %% 100 < 85 THEN a.sent_at + make_interval(secs => 1800 + h %% 200000) END,
    NULL,
    CASE WHEN h %% 100 < 30 THEN 'patched' WHEN h %% 100 < 40 THEN 'mitigated'
         WHEN h %% 100 < 45 THEN 'not_affected' ELSE '' END,
    '',
    CASE WHEN h %% 100 < 45 THEN a.sent_at + make_interval(secs => 86400 + h %% 400000) END,
    NULL, NULL, NULL
FROM advisories_advisory a
CROSS JOIN generate_series(0, {TARGETS_PER_ADVISORY} - 1) AS k
CROSS JOIN LATERAL (SELECT hashint8extended(a.id * 100 + k, %(seed)s) & 2147483647 AS h) hh
WHERE a.reference LIKE 'BWB-%%' AND k < %(n_agencies)s
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {message}", flush=True)


def ensure_database(server: str, name: str, recreate: bool) -> bool:
    """True when the database was created now."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if recreate:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            return True
    return False


def scalar(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


class BulkLoad:
    """Drop a table's secondary indexes and its unique and foreign-key constraints for the
    load, and put them back after (same definitions, read from the catalogue)."""

    def __init__(self, conn: psycopg.Connection[Any], table: str) -> None:
        self.conn, self.table = conn, table
        self.constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC",
            (table,),
        ).fetchall()
        self.indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (table,),
        ).fetchall()

    def __enter__(self) -> "BulkLoad":
        for name, _definition, _kind in self.constraints:
            self.conn.execute(f'ALTER TABLE "{self.table}" DROP CONSTRAINT "{name}"')
        for name, _definition in self.indexes:
            self.conn.execute(f'DROP INDEX "{name}"')
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is not None:
            return
        self.conn.commit()
        for _name, definition in self.indexes:
            self.conn.execute(definition)
        # Unique constraints first ('u' sorts after 'f' descending), then foreign keys.
        for name, definition, _kind in self.constraints:
            self.conn.execute(f'ALTER TABLE "{self.table}" ADD CONSTRAINT "{name}" {definition}')
        self.conn.commit()


def timed(timings: dict[str, float], key: str) -> Any:
    class Timer:
        def __enter__(self) -> None:
            self.started = time.perf_counter()
            log(f"{key} ...")

        def __exit__(self, *exc: Any) -> None:
            if exc[0] is None:
                timings[key] = round(time.perf_counter() - self.started, 1)
                log(f"{key}: {timings[key]} s")

    return Timer()


def ids(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> list[int]:
    return [row[0] for row in conn.execute(sql, params).fetchall()]


def build(url: str, args: argparse.Namespace, timings: dict[str, float]) -> None:
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    span = args.years * YEAR_S
    seed = args.seed
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET work_mem = '256MB'")
        users: dict[str, int] = dict(
            conn.execute("SELECT username, id FROM constituency_user").fetchall()
        )
        orgs = conn.execute(
            "SELECT id, name, kind FROM constituency_organisation ORDER BY id"
        ).fetchall()
        agencies = [o for o, _n, k in orgs if k in ("government_agency", "ci_operator")]
        certs = [o for o, _n, k in orgs if k == "foreign_cert"]
        cert_names = [n for _o, n, k in orgs if k == "foreign_cert"]
        lea = next(o for o, _n, k in orgs if k == "lea")
        common = {"seed": seed, "anchor": anchor, "span": span}
        common |= {"agencies": agencies, "n_agencies": len(agencies)}
        common |= {"certs": certs, "n_certs": len(certs)}

        # Incidents: bench/incident_queue.py's generator over --years years.
        have = scalar(conn, "SELECT count(*) FROM incidents_incident WHERE length(reference) = 16")
        if not have:
            params = incident_queue.generation_params(conn, args.incidents, seed)
            params["span"] = span
            # The per-row counting trigger upserts a few hundred rows a million times in
            # one transaction (each update's version chain is walked again: hours); it is
            # off for the load and the counts are recomputed as its migration does.
            with timed(timings, "incidents_s"), BulkLoad(conn, "incidents_incident"):
                conn.execute("ALTER TABLE incidents_incident DISABLE TRIGGER incidents_count")
                conn.execute(incident_queue.INSERT_SQL, params)
                conn.execute("ALTER TABLE incidents_incident ENABLE TRIGGER incidents_count")
                conn.execute("DELETE FROM incidents_incidentcount")
                conn.execute(COUNTS_SQL)
            with timed(timings, "referrals_s"):
                conn.execute(REFERRALS_SQL, {"seed": seed, "lea": lea, "duty": users["duty"]})
                conn.commit()
        else:
            log(f"incidents: {have} already there")

        first_notification = scalar(
            conn, "SELECT min(id) FROM exchange_notification WHERE key LIKE 'bench/%%'"
        )
        if first_notification is None:
            params = common | {"n": args.notifications, "types": ALL_TYPES}
            params["n_types"] = len(ALL_TYPES)
            with timed(timings, "notifications_s"), BulkLoad(conn, "exchange_notification"):
                conn.execute(NOTIFICATIONS_SQL, params)
            with timed(timings, "replies_s"):
                conn.execute(REPLIES_SQL, {"seed": seed})
                conn.commit()
            first_notification = scalar(
                conn, "SELECT min(id) FROM exchange_notification WHERE key LIKE 'bench/%%'"
            )
        else:
            log("notifications already there")

        n_reports = args.events // EVENTS_PER_REPORT
        first_report = scalar(
            conn, "SELECT min(id) FROM exchange_report WHERE sha256 = %s",
            (_report_sha(1),),
        )  # fmt: skip
        if first_report is None:
            params = common | {"n": n_reports, "cert_names": cert_names}
            params |= {"foreign_formats": FOREIGN_FORMATS, "seed": seed + 100}
            with timed(timings, "reports_s"), BulkLoad(conn, "exchange_report"):
                conn.execute(REPORTS_SQL, params)
            first_report = scalar(
                conn, "SELECT min(id) FROM exchange_report WHERE sha256 = %s", (_report_sha(1),)
            )
        have_events = scalar(
            conn, "SELECT count(*) FROM exchange_event WHERE report_id >= %s", (first_report,)
        )
        if not have_events:
            from bulwark.incidents.taxonomy import RSIT

            class_of = {t: c for c, types in RSIT.items() for t in types}
            number = {t: i + 1 for i, t in enumerate(ALL_TYPES)}
            params = common | {
                "n": n_reports * EVENTS_PER_REPORT, "n_reports": n_reports,
                "first_report": first_report, "report_seed": seed + 100 + 1,
                "types": ALL_TYPES, "taxonomies": [class_of[t] for t in ALL_TYPES],
                "foreign_type_no": [number[t] for t in FOREIGN_TYPES],
                "feed_type_no": [number[t] for t in FEED_TYPES],
                "countries": ["JP", "US", "KR", "DE", "SG"],
                "first_notification": first_notification,
                "n_notifications": args.notifications,
            }  # fmt: skip
            with timed(timings, "events_s"), BulkLoad(conn, "exchange_event"):
                conn.execute(EVENTS_SQL, params)
        else:
            log(f"events: {have_events} already there")
            # Built before exchange migration 0005 added the flag (it backfills only rows
            # that exist when it runs).
            stale = scalar(
                conn,
                "SELECT count(*) FROM exchange_event WHERE NOT from_foreign AND report_id = "
                "(SELECT min(id) FROM exchange_report WHERE foreign_ticket <> '' AND id >= %s)",
                (first_report,),
            )
            if stale:
                with timed(timings, "from_foreign_s"):
                    conn.execute(
                        "UPDATE exchange_event SET from_foreign = TRUE WHERE report_id IN "
                        "(SELECT id FROM exchange_report WHERE foreign_ticket <> '')"
                    )
                    conn.commit()

        collections = ids(conn, "SELECT id FROM intel_collection ORDER BY id")
        first_object = _first_object(conn)
        if first_object is None:
            category_of: dict[str, int] = dict(
                conn.execute("SELECT code, id FROM intel_category").fetchall()
            )
            sources = [
                o for o, _n, k in orgs if k in ("isac", "national_cert", "mssp", "ci_operator")
            ]
            member_of: dict[int, int] = dict(
                conn.execute(
                    "SELECT organisation_id, min(user_id) FROM constituency_membership "
                    "GROUP BY organisation_id"
                ).fetchall()
            )
            params = common | {
                "n": args.objects, "types": INTEL_TYPES, "tlps": INTEL_TLPS,
                "categories": [category_of[c] for c in INTEL_CATEGORIES],
                "collections": collections, "n_collections": len(collections),
                "sources": sources, "n_sources": len(sources),
                "submitters": [member_of.get(o, users["analyst"]) for o in sources],
            }  # fmt: skip
            with timed(timings, "stix_objects_s"), BulkLoad(conn, "intel_stixobject"):
                conn.execute(OBJECTS_SQL, params)
            first_object = _first_object(conn)
            with timed(timings, "indicators_s"), BulkLoad(conn, "intel_indicator"):
                conn.execute(
                    INDICATORS_SQL,
                    {"seed": seed, "kinds": VALUE_KINDS, "first_object": first_object},
                )  # fmt: skip
            n_values = args.objects // 10
            with timed(timings, "values_s"), BulkLoad(conn, "intel_value"):
                conn.execute(VALUES_SQL, {"n": n_values})
            first_value = scalar(
                conn, "SELECT id FROM intel_value WHERE value = '100.64.0.1' AND kind = 'ipv4'"
            )
            params = common | {"n": 3 * n_values, "first_value": first_value}
            params["n_values"] = n_values
            with timed(timings, "sightings_s"), BulkLoad(conn, "intel_sighting"):
                conn.execute(SIGHTINGS_SQL, params)
        else:
            log("intel objects already there")

        if not scalar(
            conn, "SELECT count(*) FROM advisories_advisory WHERE reference LIKE 'BWB-%%'"
        ):
            category_of = dict(conn.execute("SELECT code, id FROM advisories_category").fetchall())
            params = common | {
                "n": args.advisories, "analyst": users["analyst"], "duty": users["duty"],
                "categories": [category_of[c] for c in ADVISORY_CATEGORIES],
            }  # fmt: skip
            with timed(timings, "advisories_s"), BulkLoad(conn, "advisories_advisory"):
                conn.execute(ADVISORIES_SQL, params)
            with timed(timings, "targets_s"), BulkLoad(conn, "advisories_target"):
                conn.execute(TARGETS_SQL, common)
        else:
            log("advisories already there")
        conn.commit()


def _report_sha(i: int) -> str:
    import hashlib

    return hashlib.sha256(f"bench-report-{i}".encode()).hexdigest()


def _first_object(conn: psycopg.Connection[Any]) -> int | None:
    """The id of generated STIX object 1 ('<type>--<md5 uuid of "1stix">'), or None."""
    import hashlib
    import uuid

    suffix = str(uuid.UUID(hashlib.md5(b"1stix").hexdigest()))
    found = scalar(
        conn,
        "SELECT min(id) FROM intel_stixobject WHERE stix_id = ANY(%s)",
        ([f"{t}--{suffix}" for t in set(INTEL_TYPES)],),
    )
    return int(found) if found is not None else None


SIZES_SQL = """
SELECT relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid))
FROM pg_stat_user_tables
WHERE relname IN ('incidents_incident', 'incidents_referral', 'exchange_report',
    'exchange_event', 'exchange_notification', 'exchange_notificationreply',
    'intel_stixobject', 'intel_indicator', 'intel_value', 'intel_sighting',
    'advisories_advisory', 'advisories_target')
ORDER BY relname
"""


def describe(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        tables = {
            name: {"rows": rows, "size": size}
            for name, rows, size in conn.execute(SIZES_SQL).fetchall()
        }
        return {
            "tables": tables,
            "database_size": scalar(
                conn, "SELECT pg_size_pretty(pg_database_size(current_database()))"
            ),
            "foreign_report_events": scalar(
                conn,
                "SELECT count(*) FROM exchange_event e JOIN exchange_report r "
                "ON r.id = e.report_id WHERE r.foreign_ticket <> ''",
            ),
            "postgres": scalar(conn, "SHOW server_version"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--notifications", type=int, default=300_000)
    parser.add_argument("--advisories", type=int, default=10_000)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--recreate", action="store_true", help="drop the database first")
    parser.add_argument("--database", default="bulwark_bench_stats")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    url = f"{args.server}/{args.database}"
    env = {
        **os.environ, "DATABASE_URL": url, "BULWARK_DATA_DIR": tempfile.mkdtemp(prefix="bw-"),
        "DJANGO_SETTINGS_MODULE": "bulwark.settings", "BULWARK_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    os.environ.update(env)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    created = ensure_database(args.server, args.database, args.recreate)
    with psycopg.connect(url, autocommit=True) as conn:
        has_users = scalar(conn, "SELECT to_regclass('constituency_user') IS NOT NULL") and scalar(
            conn, "SELECT count(*) FROM constituency_user WHERE username = 'duty'"
        )
    if created or not has_users:
        with timed(timings, "demo_s"):
            incident_queue.load_demo(env)
    else:
        with timed(timings, "migrate_s"):
            subprocess.run(
                [sys.executable, "-m", "bulwark.cli", "migrate", "-v0"], env=env, check=True
            )
    build(url, args, timings)
    with timed(timings, "vacuum_analyze_s"), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    data = describe(url)
    result = {
        "bench": "stats_data",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": args.database,
        "seed": args.seed,
        "asked": {k: getattr(args, k) for k in
                  ("incidents", "events", "objects", "notifications", "advisories", "years")},
        "timings_s": timings,
        "total_s": round(time.perf_counter() - started, 1),
        "data": data,
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
    }  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(RESULTS.read_text()).get("runs", []) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps({"runs": [*runs, result]}, indent=2, default=str) + "\n")
    log(f"data: {json.dumps(data, default=str)}")
    log(f"wrote {RESULTS.relative_to(ROOT)}; total {result['total_s']} s")


if __name__ == "__main__":
    main()
