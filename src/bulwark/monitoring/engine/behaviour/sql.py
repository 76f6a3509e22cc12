"""The detectors on DuckDB, the default engine (in-process, no server): every windowed
aggregation over all records is SQL over the dataset's tables (`conn`, `queries`,
`names`, dataset.TABLES); Python only scores and explains the few groups the SQL keeps,
with the functions the numpy engine uses (`beacon_score`, `tunnel_finding`,
`dga_finding`), so both engines report the same findings. The same queries run on
ClickHouse (docs/monitoring.md, "Running the detectors on ClickHouse")."""

import ipaddress
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bulwark.monitoring.engine.behaviour.dataset import Dataset
from bulwark.monitoring.engine.behaviour.detectors import (
    MAX_LINES,
    RARE_KINDS,
    _clip,
    beacon_score,
    dga_finding,
    tunnel_finding,
)
from bulwark.monitoring.engine.behaviour.names import split_name
from bulwark.monitoring.engine.behaviour.settings import AllowList, Finding, Settings

V4 = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
EPSILON = 1e-6  # the SQL keeps groups this close under a threshold; Python decides


class SqlContext:
    """What every detector shares: the window, which addresses are internal (table
    `inside`), the registered domain of every name queried (table `split`) and the
    prevalence of every destination (table `prev`: internal hosts, agencies)."""

    def __init__(
        self, data: Dataset, settings: Settings, allow: AllowList, first_seen: dict[str, float],
        history_start: float | None,
    ) -> None:  # fmt: skip
        self.data, self.settings, self.allow = data, settings, allow
        self.first_seen, self.history_start = first_seen, history_start
        self.con = con = data.flush()
        self.start, self.end = data.time_range()
        self.hours = max(1, int(np.ceil((self.end - self.start) / 3600.0)))
        nets = [ipaddress.ip_network(n, strict=False) for n in settings.internal_networks]
        con.execute("CREATE OR REPLACE TEMP TABLE nets (lo BIGINT, hi BIGINT)")
        for net in nets:
            if net.version == 4:
                con.execute(
                    "INSERT INTO nets VALUES (?, ?)",
                    [int(net.network_address), int(net.broadcast_address)],
                )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE addr AS SELECT DISTINCT a FROM (
                 SELECT src AS a FROM conn UNION ALL SELECT dst FROM conn
                 UNION ALL SELECT src FROM names UNION ALL SELECT src FROM queries)"""
        )
        # IPv4 in SQL; the rest (IPv6, anything odd) by Python's ipaddress, as the numpy
        # engine decides (leading zeros are not an address there either)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE inside AS
            WITH v AS (
              SELECT a, list_transform(string_split(a, '.'), lambda x: x::BIGINT) AS o FROM addr
              WHERE regexp_full_match(a, '{V4}') AND NOT regexp_matches(a, '(^|\\.)0[0-9]'))
            SELECT DISTINCT a FROM v JOIN nets
              ON o[1] * 16777216 + o[2] * 65536 + o[3] * 256 + o[4] BETWEEN lo AND hi
            WHERE list_max(o) <= 255"""  # noqa: S608 (constants only)
        )
        others = [
            row[0]
            for row in con.execute(
                f"SELECT a FROM addr WHERE NOT regexp_full_match(a, '{V4}')"  # noqa: S608 (constants only)
            ).fetchall()
        ]
        v6 = [n for n in nets if n.version == 6]
        extra = []
        for value in others:
            try:
                ip = ipaddress.ip_address(value)
            except ValueError:
                continue
            if ip.version == 6 and any(ip in net for net in v6):
                extra.append(value)
        if extra:
            con.register("extra", {"a": np.asarray(extra, dtype=object)})
            con.execute("INSERT INTO inside SELECT a FROM extra")
            con.unregister("extra")
        self.inside = {row[0] for row in con.execute("SELECT a FROM inside").fetchall()}
        # registered domains of the names queried (public suffix list: Python, once per name)
        queried = [row[0] for row in con.execute("SELECT DISTINCT query FROM queries").fetchall()]
        split = [split_name(q) for q in queried]
        con.register("batch", {
            "query": np.asarray(queried, dtype=object),
            "sub": np.asarray([x[0] for x in split], dtype=object),
            "reg": np.asarray([x[1] for x in split], dtype=object),
            "suffix": np.asarray([x[2] for x in split], dtype=object),
        })  # fmt: skip
        con.execute("CREATE OR REPLACE TEMP TABLE split AS SELECT * FROM batch")
        con.unregister("batch")
        # prevalence: distinct internal hosts and agencies per destination (address, name
        # or "*.registered-domain")
        con.execute(
            """CREATE OR REPLACE TEMP TABLE prev AS
            WITH pairs AS (
              SELECT DISTINCT src, d, agency FROM (
                SELECT src, dst AS d, agency FROM conn
                UNION ALL SELECT src, name, agency FROM names
                UNION ALL SELECT src, query, agency FROM queries
                UNION ALL SELECT q.src, '*.' || s.reg, q.agency
                  FROM queries q JOIN split s USING (query)))
            SELECT d, count(DISTINCT CASE WHEN i.a IS NOT NULL THEN src END) AS hosts,
                   count(DISTINCT nullif(agency, '')) AS agencies
            FROM pairs LEFT JOIN inside i ON i.a = pairs.src GROUP BY d"""
        )
        self.common_hosts = max(
            settings.common_min_hosts, int(settings.common_host_fraction * len(self.inside))
        )
        self._prevalence: dict[str, dict[str, int]] = {}

    def internal(self, addr: str) -> bool:
        return addr in self.inside

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or {}).fetchall()

    def prefetch(self, destinations: Sequence[str]) -> None:
        """The prevalence of these destinations, in one query."""
        wanted = sorted({d for d in destinations if d not in self._prevalence})
        if not wanted:
            return
        self.con.register("wanted", {"d": np.asarray(wanted, dtype=object)})
        for d, hosts, agencies in self.rows(
            "SELECT d, hosts, agencies FROM prev JOIN wanted USING (d)"
        ):
            self._prevalence[d] = {"hosts": int(hosts), "agencies": int(agencies)}
        self.con.unregister("wanted")
        for d in wanted:
            self._prevalence.setdefault(d, {"hosts": 0, "agencies": 0})

    def prevalence(self, destination: str) -> dict[str, int]:
        self.prefetch([destination])
        return dict(self._prevalence[destination])

    def lines(self, refs: Sequence[int]) -> list[str]:
        return [self.data.where(int(r)) for r in list(refs)[:MAX_LINES]]

    def agency_of(self, sources: Sequence[str]) -> dict[str, str]:
        wanted = sorted(set(sources))
        if not wanted:
            return {}
        self.con.register("wanted", {"src": np.asarray(wanted, dtype=object)})
        found = self.rows(
            """SELECT src, min(agency) FROM (
                 SELECT src, agency FROM conn UNION ALL SELECT src, agency FROM names
                 UNION ALL SELECT src, agency FROM queries)
               JOIN wanted USING (src) WHERE agency <> '' GROUP BY src"""
        )
        self.con.unregister("wanted")
        return {src: agency for src, agency in found}


# ----- beaconing ------------------------------------------------------------------------

# Per (internal host, destination): connections closer than beacon_min_interval are one
# session; then the interval quartiles and their MAD, the size quartiles and MAD, the
# active hours of the window; the score as beacon_score computes it.
BEACON_SQL = """
WITH raw AS ({source}),
big AS (SELECT src, dst FROM raw GROUP BY src, dst HAVING count(*) >= $min_conn),
r AS (SELECT raw.* FROM raw JOIN big USING (src, dst)),
k AS (
  SELECT src, dst, ts, size FROM (
    SELECT src, dst, ts, size,
           ts - lag(ts) OVER (PARTITION BY src, dst ORDER BY ts) AS gap FROM r)
  WHERE gap IS NULL OR gap >= $min_interval),
g AS (
  SELECT src, dst, ts, size,
         ts - lag(ts) OVER (PARTITION BY src, dst ORDER BY ts) AS gap FROM k),
a AS (
  SELECT src, dst, count(*) AS n,
         quantile_cont(gap, [0.25, 0.5, 0.75]) AS q, mad(gap) AS m,
         count(DISTINCT least(floor((ts - $start) / 3600), $hours - 1)) AS active,
         quantile_cont(size, [0.25, 0.5, 0.75]) AS sq, mad(size) AS sm
  FROM g GROUP BY src, dst HAVING count(*) >= $min_conn),
b AS (
  SELECT src, dst, n, q[1] AS q1, q[2] AS q2, q[3] AS q3, m, active,
         sq[1] AS s1, sq[2] AS s2, sq[3] AS s3, sm FROM a WHERE q[2] > 0),
parts AS (
  SELECT src, dst,
    (1 - abs(CASE WHEN q3 - q1 <= 0 OR q2 = q1 OR q2 = q3 THEN 0
                  ELSE (q3 + q1 - 2 * q2) / (q3 - q1) END)) * 0.4
      + greatest(0, least(1, 1 - m / q2)) * 0.6 AS timing,
    active / $hours AS coverage,
    least(1, n / (2.0 * $hours)) AS count_part,
    CASE WHEN s2 IS NULL THEN NULL ELSE
      (1 - abs(CASE WHEN s3 - s1 <= 0 OR s2 = s1 OR s2 = s3 THEN 0
                    ELSE (s3 + s1 - 2 * s2) / (s3 - s1) END)) * 0.4
      + (CASE WHEN s2 > 0 THEN greatest(0, least(1, 1 - sm / s2)) ELSE 0.5 END) * 0.6
    END AS size_part
  FROM b)
SELECT src, dst FROM parts
WHERE CASE WHEN size_part IS NULL
           THEN (0.45 * timing + 0.2 * coverage + 0.15 * count_part) / 0.8
           ELSE 0.45 * timing + 0.2 * size_part + 0.2 * coverage + 0.15 * count_part
      END >= $threshold
  AND dst NOT IN (SELECT d FROM prev WHERE hosts >= $common)
"""

ADDRESS_SOURCE = """SELECT src, dst, ts, obytes::DOUBLE AS size, ref FROM conn
  WHERE src IN (SELECT a FROM inside) AND dst NOT IN (SELECT a FROM inside)"""
# (host, name): TLS/HTTP names and the answered DNS queries, one series per pair
DOMAIN_SOURCE = """SELECT src, name AS dst, ts, NULL::DOUBLE AS size, ref FROM names
  WHERE name <> '' AND contains(name, '.') AND src IN (SELECT a FROM inside)
  UNION ALL
  SELECT src, query, ts, NULL::DOUBLE, ref FROM queries
  WHERE counted AND NOT nx AND contains(query, '.') AND src IN (SELECT a FROM inside)"""


def _beacons(ctx: SqlContext, source: str, kind: str) -> list[Finding]:
    s = ctx.settings
    params = {
        "min_conn": s.beacon_min_connections, "min_interval": s.beacon_min_interval,
        "start": ctx.start, "hours": ctx.hours, "threshold": s.beacon_threshold - EPSILON,
        "common": ctx.common_hosts,
    }  # fmt: skip
    candidates = [
        (src, dst)
        for src, dst in ctx.rows(BEACON_SQL.format(source=source), params)
        if not ctx.allow.allows("beacon", dst) and not ctx.allow.allows("beacon", src)
    ]
    if not candidates:
        return []
    ctx.con.register("want", {
        "src": np.asarray([c[0] for c in candidates], dtype=object),
        "dst": np.asarray([c[1] for c in candidates], dtype=object),
    })  # fmt: skip
    series = ctx.rows(
        f"SELECT src, dst, ts, size, ref FROM ({source}) JOIN want USING (src, dst) "  # noqa: S608 (constants only)
        "ORDER BY src, dst, ts, ref"
    )
    ctx.con.unregister("want")
    ctx.prefetch([c[1] for c in candidates])
    grouped: dict[tuple[str, str], list[tuple[float, float | None, int]]] = defaultdict(list)
    for src, dst, ts, size, ref in series:
        grouped[(src, dst)].append((ts, size, ref))
    found = []
    for (src, dst), rows in grouped.items():
        stamps = np.asarray([r[0] for r in rows], dtype=np.float64)
        sizes = None if rows[0][1] is None else np.asarray([r[1] for r in rows], np.float64)
        scored = beacon_score(stamps, sizes, ctx.start, ctx.end, s)
        if scored is None or scored[0] < s.beacon_threshold:
            continue
        score, evidence = scored
        evidence["by"] = kind
        evidence["prevalence"] = ctx.prevalence(dst)
        found.append(Finding(
            "beacon", src, dst, score, evidence, float(stamps[0]), float(stamps[-1]),
            lines=ctx.lines([r[2] for r in rows]),
        ))  # fmt: skip
    return found


def detect_beacons(ctx: SqlContext) -> list[Finding]:
    return _beacons(ctx, ADDRESS_SOURCE, "address") + _beacons(ctx, DOMAIN_SOURCE, "domain")


# ----- long connections -----------------------------------------------------------------


def detect_long(ctx: SqlContext) -> list[Finding]:
    """Connections of at least long_min_seconds (SQL; few), Zeek's open-connection
    records of one uid counted once (the longest), per host, destination and port."""
    s = ctx.settings
    rows = ctx.rows(
        """SELECT ts, src, dst, dport, duration, obytes, rbytes, uid, ref FROM conn
           WHERE duration >= $min ORDER BY ref""",
        {"min": s.long_min_seconds},
    )
    by_uid: dict[str, tuple[Any, ...]] = {}
    for i, row in enumerate(rows):
        key = row[7] or f"#{i}"
        kept = by_uid.get(key)
        if kept is None or row[4] > kept[4]:
            by_uid[key] = row
    pairs: dict[tuple[str, str, int], list[tuple[Any, ...]]] = defaultdict(list)
    for row in by_uid.values():
        if ctx.internal(row[1]) and not ctx.internal(row[2]):
            pairs[(row[1], row[2], row[3])].append(row)
    ctx.prefetch([dst for _, dst, _ in pairs])
    out = []
    for (src, dst, port), group in pairs.items():
        prevalence = ctx.prevalence(dst)
        if prevalence["hosts"] >= ctx.common_hosts or ctx.allow.allows("long-connection", dst):
            continue
        longest = max(r[4] for r in group)
        out.append(Finding(
            "long-connection", src, dst, 0.5 + 0.5 * _clip(longest / (8 * 3600)),
            {"port": port, "longest_seconds": longest,
             "total_seconds": sum(r[4] for r in group), "connections": len(group),
             "bytes_sent": sum(r[5] for r in group),
             "bytes_received": sum(r[6] for r in group), "prevalence": prevalence},
            min(r[0] for r in group), max(r[0] + r[4] for r in group),
            lines=ctx.lines([r[8] for r in group]),
        ))  # fmt: skip
    return out


# ----- DNS tunnelling -------------------------------------------------------------------

TUNNEL_SQL = """
WITH g AS (
  SELECT q.src, s.reg, count(DISTINCT nullif(s.sub, '')) AS subs
  FROM (SELECT DISTINCT src, query FROM queries WHERE counted) q JOIN split s USING (query)
  GROUP BY q.src, s.reg HAVING count(DISTINCT nullif(s.sub, '')) >= $min_unique)
SELECT src, reg FROM g
WHERE '*.' || reg NOT IN (SELECT d FROM prev WHERE hosts >= $common)
"""


def detect_tunnels(ctx: SqlContext) -> list[Finding]:
    s = ctx.settings
    groups = [
        (src, reg)
        for src, reg in ctx.rows(
            TUNNEL_SQL, {"min_unique": s.tunnel_min_unique, "common": ctx.common_hosts}
        )
        if not ctx.allow.allows("dns-tunnel", reg)
    ]
    if not groups:
        return []
    ctx.con.register("want", {
        "src": np.asarray([g[0] for g in groups], dtype=object),
        "reg": np.asarray([g[1] for g in groups], dtype=object),
    })  # fmt: skip
    rows = ctx.rows(
        """SELECT q.src, s.reg, q.query, s.sub, q.qtype, q.ts, q.ref
           FROM queries q JOIN split s USING (query) JOIN want w ON w.src = q.src AND w.reg = s.reg
           WHERE q.counted ORDER BY q.ref"""
    )
    ctx.con.unregister("want")
    by: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by[(row[0], row[1])].append(row)
    ctx.prefetch(["*." + reg for _, reg in by])
    out = []
    for (src, reg), group in by.items():
        subs = {r[3] for r in group} - {""}
        found = tunnel_finding(
            src, reg, subs, [r[2] for r in group], [r[4] for r in group],
            [r[5] for r in group], ctx.lines([r[6] for r in group]), s,
            ctx.prevalence("*." + reg),
        )  # fmt: skip
        if found is not None:
            out.append(found)
    return out


# ----- DGA-like resolution --------------------------------------------------------------

DGA_SQL = """
WITH nx AS (
  SELECT src, ts FROM queries
  WHERE nx AND src IN (
    SELECT src FROM queries WHERE nx GROUP BY src HAVING count(*) >= $min)),
w AS (
  SELECT src, count(*) OVER (
    PARTITION BY src ORDER BY ts RANGE BETWEEN CURRENT ROW AND $burst FOLLOWING) AS c
  FROM nx)
SELECT src FROM w GROUP BY src HAVING max(c) >= $min
"""


def detect_dga(ctx: SqlContext) -> list[Finding]:
    """Hosts with a burst of at least dga_min_nxdomain NXDOMAIN answers within
    dga_burst_seconds (a range window in SQL); their names scored in Python."""
    s = ctx.settings
    hosts = [
        row[0]
        for row in ctx.rows(DGA_SQL, {"min": s.dga_min_nxdomain, "burst": s.dga_burst_seconds})
        if not ctx.allow.allows("dga", row[0])
    ]
    if not hosts:
        return []
    ctx.con.register("want", {"src": np.asarray(hosts, dtype=object)})
    rows = ctx.rows(
        "SELECT src, ts, query, ref FROM queries JOIN want USING (src) WHERE nx "
        "ORDER BY src, ts, ref"
    )
    ctx.con.unregister("want")
    by: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by[row[0]].append(row)
    out = []
    for src, group in by.items():
        found = dga_finding(
            src, [r[1] for r in group], [r[2] for r in group], [r[3] for r in group], s,
            ctx.lines,
        )  # fmt: skip
        if found is not None:
            out.append(found)
    return out


# ----- scanning and fan-out -------------------------------------------------------------


def detect_scans(ctx: SqlContext) -> list[Finding]:
    """Unanswered connections (no bytes back) to many addresses on one port (horizontal)
    or many ports of one address (vertical); an outside address contacting many agencies
    (fan-in). All three are one GROUP BY each."""
    s = ctx.settings
    out = []
    for src, port, n, examples, ref in ctx.rows(
        """SELECT src, dport, count(DISTINCT dst), list_sort(list(DISTINCT dst))[1:10], min(ref)
           FROM conn WHERE rbytes = 0 GROUP BY src, dport
           HAVING count(DISTINCT dst) >= $min""",
        {"min": s.scan_min_hosts},
    ):
        if not ctx.allow.allows("scan", src):
            out.append(Finding(
                "scan", src, f"*:{port}", 0.6 + 0.4 * _clip(n / (5 * s.scan_min_hosts)),
                {"kind": "horizontal", "port": port, "addresses": n, "examples": examples},
                lines=ctx.lines([ref]),
            ))  # fmt: skip
    for src, dst, n, examples, ref in ctx.rows(
        """SELECT src, dst, count(DISTINCT dport), list_sort(list(DISTINCT dport))[1:20],
                  min(ref)
           FROM conn WHERE rbytes = 0 GROUP BY src, dst
           HAVING count(DISTINCT dport) >= $min""",
        {"min": s.scan_min_ports},
    ):
        if not ctx.allow.allows("scan", src):
            out.append(Finding(
                "scan", src, dst, 0.6 + 0.4 * _clip(n / (5 * s.scan_min_ports)),
                {"kind": "vertical", "ports": n, "examples": examples},
                lines=ctx.lines([ref]),
            ))  # fmt: skip
    for src, agencies in ctx.rows(
        """SELECT src, list_sort(list(DISTINCT agency)) FROM conn
           WHERE agency <> '' AND src NOT IN (SELECT a FROM inside)
             AND dst IN (SELECT a FROM inside)
           GROUP BY src HAVING count(DISTINCT agency) >= $min""",
        {"min": s.fanin_min_agencies},
    ):
        if not ctx.allow.allows("fan-in", src):
            out.append(Finding(
                "fan-in", src, f"{len(agencies)} agencies",
                0.5 + 0.5 * _clip(len(agencies) / (3 * s.fanin_min_agencies)),
                {"agencies": agencies},
            ))  # fmt: skip
    return out


# ----- rare and new ---------------------------------------------------------------------

OBSERVED = " UNION ALL ".join(
    f"SELECT '{kind}' AS kind, {column} AS value, agency, src, ts, ref FROM names "  # noqa: S608 (constants only)
    f"WHERE {column} <> ''"
    for kind, column in zip(RARE_KINDS, ("ja3", "ja4", "issuer", "name"), strict=True)
)


def observed_values(data: Dataset) -> dict[str, float]:
    """`kind:value` -> earliest time in the window (detectors.observed_values in SQL)."""
    rows = data.flush().execute(
        f"SELECT kind || ':' || value, min(ts) FROM ({OBSERVED}) GROUP BY kind, value"  # noqa: S608 (constants only)
    )
    return {key: float(ts) for key, ts in rows.fetchall()}


def detect_rare(ctx: SqlContext) -> list[Finding]:
    """detectors.detect_rare over one GROUP BY (kind, value): agencies and hosts that
    saw it; "new" needs the national first-seen history (see there)."""
    s = ctx.settings
    agencies_row = ctx.rows(
        "SELECT count(DISTINCT agency) FROM (SELECT agency FROM names UNION ALL "
        "SELECT agency FROM conn) WHERE agency <> ''"
    )
    all_agencies = int(agencies_row[0][0]) if agencies_row else 0
    rare_possible = all_agencies >= s.rare_min_agencies
    horizon = ctx.end - s.new_days * 86400
    history = ctx.history_start is not None and ctx.history_start <= horizon
    if not rare_possible and not history:
        return []
    # without a history only the rare can be reported: the SQL keeps just those
    only_rare = (
        "" if history else "HAVING count(DISTINCT agency) = 1 AND count(DISTINCT src) <= $max"
    )
    params = {} if history else {"max": s.rare_max_hosts}
    groups = ctx.rows(
        f"""SELECT kind, value, count(DISTINCT agency), count(DISTINCT src), min(ref),
                   min(agency)
            FROM ({OBSERVED}) GROUP BY kind, value {only_rare}""",  # noqa: S608 (constants only)
        params,
    )
    keep: list[tuple[str, str, bool, bool, float | None, int, str]] = []
    for kind, value, agencies, hosts, ref, agency in groups:
        rare = rare_possible and agencies == 1 and hosts <= s.rare_max_hosts
        first = ctx.first_seen.get(f"{kind}:{value}")
        new = history and (first is None or first >= horizon)
        if (kind == "destination" and not new) or not (rare or new):
            continue
        if ctx.allow.allows("rare", value):
            continue
        keep.append((kind, value, rare, new, first, ref, agency))
    if not keep:
        return []
    ctx.con.register("want", {
        "kind": np.asarray([k[0] for k in keep], dtype=object),
        "value": np.asarray([k[1] for k in keep], dtype=object),
    })  # fmt: skip
    hosts_of: dict[tuple[str, str], list[str]] = {}
    agencies_of: dict[tuple[str, str], int] = {}
    for kind, value, hosts, agencies in ctx.rows(
        f"""SELECT kind, value, list_sort(list(DISTINCT src)), count(DISTINCT agency)
            FROM ({OBSERVED}) JOIN want USING (kind, value) GROUP BY kind, value"""  # noqa: S608
    ):
        hosts_of[(kind, value)] = hosts
        agencies_of[(kind, value)] = agencies
    ctx.con.unregister("want")
    out = []
    for kind, value, rare, new, first, ref, agency in keep:
        if kind == "destination":
            score = 0.45 if rare else 0.3
        else:
            score = 0.6 if rare and new else 0.4 if rare else 0.3
        hosts = hosts_of[(kind, value)]
        for host in hosts:
            out.append(Finding(
                "rare", host, value, score,
                {"kind": kind, "agencies": agencies_of[(kind, value)], "hosts": len(hosts),
                 "rare": rare, "new": new, "first_seen": first,
                 "agencies_in_window": all_agencies},
                agency=agency or None, lines=ctx.lines([ref]),
            ))  # fmt: skip
    return out


SQL_DETECTORS: dict[str, Callable[[SqlContext], list[Finding]]] = {
    "beacon": detect_beacons,
    "long-connection": detect_long,
    "dns-tunnel": detect_tunnels,
    "dga": detect_dga,
    "scan": detect_scans,
    "rare": detect_rare,
}


def detect_sql(
    data: Dataset, settings: Settings, allow: AllowList, first_seen: dict[str, float],
    only: Sequence[str] | None, timings: dict[str, float] | None, history_start: float | None,
) -> list[Finding]:  # fmt: skip
    started = time.perf_counter()
    ctx = SqlContext(data, settings, allow, first_seen, history_start)
    if timings is not None:
        timings["context"] = time.perf_counter() - started
    findings: list[Finding] = []
    for name, run in SQL_DETECTORS.items():
        if only and name not in only:
            continue
        began = time.perf_counter()
        findings += run(ctx)
        if timings is not None:
            timings[name] = time.perf_counter() - began
    agency_of = ctx.agency_of([f.source for f in findings if f.agency is None])
    for f in findings:
        if f.agency is None:
            f.agency = agency_of.get(f.source) or None
    findings.sort(key=lambda f: -f.score)
    return findings
