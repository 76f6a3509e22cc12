"""The detectors. Each takes the dataset, the settings, the allow list and the shared
context (what is internal, how many hosts and agencies talk to each destination) and
returns findings. Windowed aggregations are numpy over columns (measured against DuckDB:
docs/architecture.md, "Behavioural detection engine")."""

import ipaddress
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bulwark.monitoring.engine.behaviour.dataset import Dataset
from bulwark.monitoring.engine.behaviour.names import entropy, randomness, split_name
from bulwark.monitoring.engine.behaviour.settings import AllowList, Finding, Settings

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
MAX_LINES = 5  # raw line references per finding


@dataclass
class Context:
    data: Dataset
    settings: Settings
    allow: AllowList
    first_seen: dict[str, float]
    history_start: float | None = None  # since when the first-seen history has been kept
    internal_cache: dict[str, bool] = field(default_factory=dict)
    hosts_of: Counter[str] = field(default_factory=Counter)  # destination -> internal hosts
    agencies_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    agency_of: dict[str, str] = field(default_factory=dict)  # host -> its agency
    internal_hosts: int = 0
    start: float = 0.0
    end: float = 0.0

    def __post_init__(self) -> None:
        nets = [ipaddress.ip_network(n, strict=False) for n in self.settings.internal_networks]
        self._nets4 = [n for n in nets if n.version == 4]
        self._nets6 = [n for n in nets if n.version == 6]
        d = self.data
        stamps = d.conns.ts + d.queries.ts + d.names.ts
        if stamps:
            self.start, self.end = min(stamps), max(stamps)
        pairs: set[tuple[str, str]] = set()
        hosts: set[str] = set()
        for srcs, dsts, agencies in (
            (d.conns.src, d.conns.dst, d.conns.agency),
            (d.names.src, d.names.name, d.names.agency),
            (d.queries.src, d.queries.query, d.queries.agency),
        ):
            # unique (host, destination, agency) first: dict.fromkeys runs at C speed
            for src, dst, agency in dict.fromkeys(zip(srcs, dsts, agencies, strict=True)):
                if (src, dst) not in pairs:
                    pairs.add((src, dst))
                    if self.internal(src):
                        hosts.add(src)
                        self.hosts_of[dst] += 1
                if agency:
                    self.agencies_of[dst].add(agency)
                    self.agency_of.setdefault(src, agency)
        registered = {
            (s, split_name(q)[1])
            for s, q in dict.fromkeys(zip(d.queries.src, d.queries.query, strict=True))
        }
        for src, domain in registered:
            if self.internal(src):
                self.hosts_of["*." + domain] += 1
        self.internal_hosts = len(hosts)
        self.common_hosts = max(
            self.settings.common_min_hosts,
            int(self.settings.common_host_fraction * self.internal_hosts),
        )

    def internal(self, addr: str) -> bool:
        known = self.internal_cache.get(addr)
        if known is None:
            try:
                ip = ipaddress.ip_address(addr)
                nets = self._nets4 if ip.version == 4 else self._nets6
                known = any(ip in net for net in nets)
            except ValueError:
                known = False
            self.internal_cache[addr] = known
        return known

    def common(self, destination: str) -> bool:
        return self.hosts_of.get(destination, 0) >= self.common_hosts

    def prevalence(self, destination: str) -> dict[str, int]:
        return {
            "hosts": self.hosts_of.get(destination, 0),
            "agencies": len(self.agencies_of.get(destination, ())),
        }

    def lines(self, refs: Sequence[int] | I64) -> list[str]:
        return [self.data.where(int(r)) for r in list(refs)[:MAX_LINES]]


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _bowley(q1: float, q2: float, q3: float) -> float:
    """Bowley's quartile skewness: 0 for a symmetric distribution, +-1 at the extremes."""
    spread = q3 - q1
    if spread <= 0 or q2 in (q1, q3):
        return 0.0
    return (q3 + q1 - 2 * q2) / spread


def _groups(
    keys: list[tuple[str, str]], ts: list[float]
) -> tuple[list[tuple[str, str]], I64, F64, I64]:
    """Group ids per key, sorted by (group, ts): (keys, group ids, ts, order)."""
    index: dict[tuple[str, str], int] = {}
    gid = np.fromiter(
        (index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys)
    )
    stamps = np.asarray(ts, dtype=np.float64)
    order = np.lexsort((stamps, gid)).astype(np.int64)
    return list(index), gid[order], stamps[order], order


# ----- beaconing ------------------------------------------------------------------------


def beacon_score(
    stamps: F64, sizes: F64 | None, start: float, end: float, settings: Settings
) -> tuple[float, dict[str, object]] | None:
    """The beacon score of one pair's connection times (sorted) and request sizes.

    Timing: Bowley skewness and the median absolute deviation of the intervals relative
    to their median (a regular beacon has symmetric, tight intervals, whatever its jitter
    is centred on). Sizes: the same two on the bytes sent. Coverage: the share of the
    window's hours in which the pair was active. Count: connections against two a hour.
    """
    keep = np.concatenate(([True], np.diff(stamps) >= settings.beacon_min_interval))
    t = stamps[keep]
    n = len(t)
    if n < settings.beacon_min_connections:
        return None
    d = np.diff(t)
    q1, q2, q3 = (float(x) for x in np.percentile(d, [25, 50, 75]))
    if q2 <= 0:
        return None
    mad = float(np.median(np.abs(d - q2)))
    skew = _bowley(q1, q2, q3)
    timing = (1 - abs(skew)) * 0.4 + _clip(1 - mad / q2) * 0.6
    hours = max(1, int(np.ceil((end - start) / 3600.0)))
    hour_of = np.minimum(((t - start) // 3600).astype(np.int64), hours - 1)
    timeline = np.bincount(hour_of, minlength=hours)
    coverage = float(np.count_nonzero(timeline)) / hours
    count = _clip(n / (2.0 * hours))
    parts: dict[str, float] = {"timing": timing, "coverage": coverage, "count": count}
    if sizes is not None and len(sizes):
        s = sizes[keep]
        s1, s2, s3 = (float(x) for x in np.percentile(s, [25, 50, 75]))
        smad = float(np.median(np.abs(s - s2)))
        size = (1 - abs(_bowley(s1, s2, s3))) * 0.4 + (
            _clip(1 - smad / s2) if s2 > 0 else 0.5
        ) * 0.6
        parts["size"] = size
        score = 0.45 * timing + 0.2 * size + 0.2 * coverage + 0.15 * count
        size_ev: dict[str, float] | None = {"median": s2, "mad": smad, "skew": _bowley(s1, s2, s3)}
    else:
        score = (0.45 * timing + 0.2 * coverage + 0.15 * count) / 0.8
        size_ev = None
    top = max(q2 * 3, 1.0)
    histogram, edges = np.histogram(np.minimum(d, top), bins=20, range=(0.0, top))
    evidence: dict[str, object] = {
        "connections": n,
        "interval": {"median": q2, "q1": q1, "q3": q3, "mad": mad, "skew": skew},
        "size": size_ev,
        "scores": {k: round(v, 3) for k, v in parts.items()},
        "interval_histogram": {
            "bins": [round(float(e), 1) for e in edges],
            "counts": histogram.tolist(),
        },
        "timeline": {"start": start, "hour_counts": timeline.tolist()},
    }
    return float(score), evidence


def _beacons(
    ctx: Context, keys: list[tuple[str, str]], ts: list[float], sizes: list[int] | None,
    refs: list[int], kind: str,
) -> list[Finding]:  # fmt: skip
    s = ctx.settings
    findings: list[Finding] = []
    if not keys:
        return findings
    names, gid, stamps, order = _groups(keys, ts)
    size_arr = np.asarray(sizes, dtype=np.float64)[order] if sizes is not None else None
    ref_arr = np.asarray(refs, dtype=np.int64)[order]
    bounds = np.flatnonzero(np.diff(gid)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(gid)]))
    big = np.flatnonzero(ends - starts >= s.beacon_min_connections)
    for g in big:
        src, dst = names[int(gid[starts[g]])]
        if ctx.common(dst) or ctx.allow.allows("beacon", dst) or ctx.allow.allows("beacon", src):
            continue
        a, b = int(starts[g]), int(ends[g])
        scored = beacon_score(
            stamps[a:b], size_arr[a:b] if size_arr is not None else None, ctx.start, ctx.end, s
        )
        if scored is None or scored[0] < s.beacon_threshold:
            continue
        score, evidence = scored
        evidence["by"] = kind
        evidence["prevalence"] = ctx.prevalence(dst)
        findings.append(Finding(
            "beacon", src, dst, score, evidence, float(stamps[a]), float(stamps[b - 1]),
            lines=ctx.lines(ref_arr[a:b]),
        ))  # fmt: skip
    return findings


def detect_beacons(ctx: Context) -> list[Finding]:
    c, n, q = ctx.data.conns, ctx.data.names, ctx.data.queries
    internal = ctx.internal
    pick = [i for i in range(len(c.ts)) if internal(c.src[i]) and not internal(c.dst[i])]
    found = _beacons(
        ctx, [(c.src[i], c.dst[i]) for i in pick], [c.ts[i] for i in pick],
        [c.obytes[i] for i in pick], [c.ref[i] for i in pick], "address",
    )  # fmt: skip
    # (host, domain): names seen in TLS/HTTP plus DNS queries, one series per pair
    keys: list[tuple[str, str]] = []
    ts: list[float] = []
    refs: list[int] = []
    answered = [c and not x for c, x in zip(q.counted, q.nx, strict=True)]  # NXDOMAIN: no contact
    for srcs, hosts, stamps, rs, counted in (
        (n.src, n.name, n.ts, n.ref, None),
        (q.src, q.query, q.ts, q.ref, answered),
    ):
        for i, (src, name) in enumerate(zip(srcs, hosts, strict=True)):
            if name and internal(src) and (counted is None or counted[i]) and "." in name:
                keys.append((src, name))
                ts.append(stamps[i])
                refs.append(rs[i])
    found += _beacons(ctx, keys, ts, None, refs, "domain")
    return found


# ----- long connections -----------------------------------------------------------------


def detect_long(ctx: Context) -> list[Finding]:
    s, c = ctx.settings, ctx.data.conns
    by_uid: dict[str, int] = {}  # Zeek's open-connection records repeat a uid: keep the longest
    for i, uid in enumerate(c.uid):
        if c.duration[i] < s.long_min_seconds:
            continue
        key = uid or f"#{i}"
        j = by_uid.get(key)
        if j is None or c.duration[i] > c.duration[j]:
            by_uid[key] = i
    pairs: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for i in by_uid.values():
        if ctx.internal(c.src[i]) and not ctx.internal(c.dst[i]):
            pairs[(c.src[i], c.dst[i], c.dport[i])].append(i)
    out = []
    for (src, dst, port), rows in pairs.items():
        if ctx.common(dst) or ctx.allow.allows("long-connection", dst):
            continue
        longest = max(c.duration[i] for i in rows)
        total = sum(c.duration[i] for i in rows)
        score = 0.5 + 0.5 * _clip(longest / (8 * 3600))
        out.append(Finding(
            "long-connection", src, dst, score,
            {"port": port, "longest_seconds": longest, "total_seconds": total,
             "connections": len(rows), "bytes_sent": sum(c.obytes[i] for i in rows),
             "bytes_received": sum(c.rbytes[i] for i in rows),
             "prevalence": ctx.prevalence(dst)},
            min(c.ts[i] for i in rows), max(c.ts[i] + c.duration[i] for i in rows),
            lines=ctx.lines([c.ref[i] for i in rows]),
        ))  # fmt: skip
    return out


# ----- DNS tunnelling -------------------------------------------------------------------


def detect_tunnels(ctx: Context) -> list[Finding]:
    s, q = ctx.settings, ctx.data.queries
    # first the distinct names per (client, registered domain), over distinct queries
    # only; the rows of the few groups with enough of them are gathered afterwards
    distinct: dict[tuple[str, str], int] = defaultdict(int)
    for src, name, counted in dict.fromkeys(zip(q.src, q.query, q.counted, strict=True)):
        if counted:
            distinct[(src, split_name(name)[1])] += 1
    wanted = {key for key, n in distinct.items() if n >= s.tunnel_min_unique}
    wanted_src = {src for src, _ in wanted}
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, src in enumerate(q.src):
        if src in wanted_src and q.counted[i]:
            key = (src, split_name(q.query[i])[1])
            if key in wanted:
                groups[key].append(i)
    out = []
    for (src, domain), rows in groups.items():
        subs = {split_name(q.query[i])[0] for i in rows}
        subs.discard("")
        if len(subs) < s.tunnel_min_unique:
            continue
        if ctx.common("*." + domain) or ctx.allow.allows("dns-tunnel", domain):
            continue
        found = tunnel_finding(
            src, domain, subs, [q.query[i] for i in rows], [q.qtype[i] for i in rows],
            [q.ts[i] for i in rows], ctx.lines([q.ref[i] for i in rows]), s,
            ctx.prevalence("*." + domain),
        )  # fmt: skip
        if found is not None:
            out.append(found)
    return out


def tunnel_finding(
    src: str, domain: str, subs: set[str], queries: list[str], qtypes: list[str],
    stamps: list[float], lines: list[str], s: Settings, prevalence: dict[str, int],
) -> Finding | None:  # fmt: skip
    """The tunnelling score of one client's queries under one registered domain (both
    engines): unique sub-domains, their length and entropy, TXT/NULL share, volume."""
    lengths = [len(x) for x in subs]
    mean_len = sum(lengths) / len(lengths)
    ent = sum(entropy(x.replace(".", "")) for x in subs) / len(subs)
    txt = sum(t in ("TXT", "NULL", "16", "10") for t in qtypes) / len(qtypes)
    volume = sum(len(x) for x in queries)
    parts = {
        "unique": _clip(len(subs) / (4 * s.tunnel_min_unique)),
        "length": _clip((mean_len - 10) / 40),
        "entropy": _clip((ent - 2.5) / 1.5),
        "txt_null": _clip(txt),
        "volume": _clip(volume / 50_000),
    }
    score = (0.3 * parts["unique"] + 0.2 * parts["length"] + 0.25 * parts["entropy"]
             + 0.1 * parts["txt_null"] + 0.15 * parts["volume"])  # fmt: skip
    if score < s.tunnel_threshold:
        return None
    return Finding(
        "dns-tunnel", src, domain, score,
        {"queries": len(queries), "unique_subdomains": len(subs), "mean_length": mean_len,
         "entropy": ent, "txt_null_ratio": txt, "query_bytes": volume,
         "scores": {k: round(v, 3) for k, v in parts.items()},
         "examples": sorted(subs)[:5], "prevalence": prevalence},
        min(stamps), max(stamps), lines=lines,
    )  # fmt: skip


# ----- DGA-like resolution --------------------------------------------------------------


def detect_dga(ctx: Context) -> list[Finding]:
    s, q = ctx.settings, ctx.data.queries
    per_host: dict[str, list[int]] = defaultdict(list)
    for i, nx in enumerate(q.nx):
        if nx:
            per_host[q.src[i]].append(i)
    out = []
    for src, rows in per_host.items():
        if len(rows) < s.dga_min_nxdomain or ctx.allow.allows("dga", src):
            continue
        rows.sort(key=q.ts.__getitem__)
        found = dga_finding(
            src, [q.ts[i] for i in rows], [q.query[i] for i in rows], [q.ref[i] for i in rows],
            s, ctx.lines,
        )  # fmt: skip
        if found is not None:
            out.append(found)
    return out


def dga_finding(
    src: str, stamps: list[float], queries: list[str], refs: list[int], s: Settings,
    lines: Callable[[list[int]], list[str]],
) -> Finding | None:  # fmt: skip
    """The DGA score of one host's NXDOMAIN answers (sorted by time; both engines): the
    densest burst, how random its names look, how many are distinct."""
    t = np.asarray(stamps)
    ends = np.searchsorted(t, t + s.dga_burst_seconds, side="right")
    counts = ends - np.arange(len(t))
    peak = int(np.argmax(counts))
    burst = int(counts[peak])
    if burst < s.dga_min_nxdomain:
        return None
    names = queries[peak : peak + burst]
    split = [split_name(x) for x in names]
    labels = [reg.split(".")[0] for _, reg, _ in split]
    rand = sum(randomness(x) >= 0.5 for x in labels) / len(labels)
    unique = len(set(labels))
    parts = {
        "burst": _clip(burst / (3 * s.dga_min_nxdomain)),
        "random_names": rand,
        "unique": _clip(unique / burst),
    }
    score = 0.35 * parts["burst"] + 0.45 * parts["random_names"] + 0.2 * parts["unique"]
    if score < s.dga_threshold:
        return None
    suffix = Counter(x[2] for x in split).most_common(1)[0][0]
    return Finding(
        "dga", src, f"*.{suffix}" if suffix else "*", score,
        {"nxdomain": len(stamps), "burst": burst, "burst_seconds": s.dga_burst_seconds,
         "unique_names": unique, "random_share": rand,
         "scores": {k: round(v, 3) for k, v in parts.items()},
         "examples": sorted(set(names))[:8]},
        float(t[peak]), float(t[peak + burst - 1]),
        lines=lines(refs[peak : peak + burst]),
    )  # fmt: skip


# ----- scanning and fan-out -------------------------------------------------------------


def detect_scans(ctx: Context) -> list[Finding]:
    """Unanswered connections (no bytes back): a host probing many addresses on one port
    (horizontal) or many ports on one address (vertical); an outside address contacting
    many agencies (fan-in)."""
    s, c = ctx.settings, ctx.data.conns
    horizontal: dict[tuple[str, int], set[str]] = defaultdict(set)
    vertical: dict[tuple[str, str], set[int]] = defaultdict(set)
    refs: dict[tuple[str, str | int], int] = {}
    fanin: dict[str, set[str]] = defaultdict(set)
    for i in range(len(c.ts)):
        src, dst = c.src[i], c.dst[i]
        if c.agency[i] and not ctx.internal(src) and ctx.internal(dst):
            fanin[src].add(c.agency[i])
        if c.rbytes[i] == 0:
            horizontal[(src, c.dport[i])].add(dst)
            vertical[(src, dst)].add(c.dport[i])
            refs.setdefault((src, c.dport[i]), c.ref[i])
            refs.setdefault((src, dst), c.ref[i])
    out = []
    for (src, port), dsts in horizontal.items():
        if len(dsts) >= s.scan_min_hosts and not ctx.allow.allows("scan", src):
            score = 0.6 + 0.4 * _clip(len(dsts) / (5 * s.scan_min_hosts))
            out.append(Finding(
                "scan", src, f"*:{port}", score,
                {"kind": "horizontal", "port": port, "addresses": len(dsts),
                 "examples": sorted(dsts)[:10]},
                lines=ctx.lines([refs[(src, port)]]),
            ))  # fmt: skip
    for (src, dst), ports in vertical.items():
        if len(ports) >= s.scan_min_ports and not ctx.allow.allows("scan", src):
            score = 0.6 + 0.4 * _clip(len(ports) / (5 * s.scan_min_ports))
            out.append(Finding(
                "scan", src, dst, score,
                {"kind": "vertical", "ports": len(ports), "examples": sorted(ports)[:20]},
                lines=ctx.lines([refs[(src, dst)]]),
            ))  # fmt: skip
    for src, agencies in fanin.items():
        if len(agencies) >= s.fanin_min_agencies and not ctx.allow.allows("fan-in", src):
            score = 0.5 + 0.5 * _clip(len(agencies) / (3 * s.fanin_min_agencies))
            out.append(Finding(
                "fan-in", src, f"{len(agencies)} agencies", score,
                {"agencies": sorted(agencies)},
            ))  # fmt: skip
    return out


# ----- rare and new ---------------------------------------------------------------------


RARE_KINDS = ("ja3", "ja4", "issuer", "destination")


def observed_values(data: Dataset) -> dict[str, float]:
    """`kind:value` -> earliest time in the window, of every TLS fingerprint, issuer and
    destination name: what the platform's national first-seen history records."""
    n = data.names
    out: dict[str, float] = {}
    for i in range(len(n.ts)):
        for kind, value in zip(
            RARE_KINDS, (n.ja3[i], n.ja4[i], n.issuer[i], n.name[i]), strict=True
        ):
            if value:
                key = f"{kind}:{value}"
                if key not in out or n.ts[i] < out[key]:
                    out[key] = n.ts[i]
    return out


def detect_rare(ctx: Context) -> list[Finding]:
    """TLS fingerprints (JA3, JA4) and certificate issuers seen in one agency only (when
    the window holds at least `rare_min_agencies`), or first seen nationally in the last
    `new_days`. "New" needs the platform's first-seen history and a history older than
    `new_days` (else everything would be new in the first week). Destination names are
    only reported when new, and below the usual alert score (0.45 when also rare, 0.3):
    the internet's long tail is mostly new to somebody."""
    s, n = ctx.settings, ctx.data.names
    all_agencies = {a for a in n.agency if a} | {a for a in ctx.data.conns.agency if a}
    rare_possible = len(all_agencies) >= s.rare_min_agencies
    horizon = ctx.end - s.new_days * 86400
    history = ctx.history_start is not None and ctx.history_start <= horizon
    seen: dict[tuple[str, str], tuple[set[str], set[str], int]] = {}
    for i in range(len(n.ts)):
        for kind, value in zip(
            RARE_KINDS, (n.ja3[i], n.ja4[i], n.issuer[i], n.name[i]), strict=True
        ):
            if not value:
                continue
            entry = seen.setdefault((kind, value), (set(), set(), n.ref[i]))
            entry[0].add(n.agency[i])
            entry[1].add(n.src[i])
    out = []
    for (kind, value), (agencies, hosts, ref) in seen.items():
        rare = rare_possible and len(agencies) == 1 and len(hosts) <= s.rare_max_hosts
        first = ctx.first_seen.get(f"{kind}:{value}")
        new = history and (first is None or first >= horizon)
        if (kind == "destination" and not new) or not (rare or new):
            continue
        if ctx.allow.allows("rare", value):
            continue
        if kind == "destination":
            score = 0.45 if rare else 0.3
        else:
            score = 0.6 if rare and new else 0.4 if rare else 0.3
        for host in sorted(hosts):
            out.append(Finding(
                "rare", host, value, score,
                {"kind": kind, "agencies": len(agencies), "hosts": len(hosts), "rare": rare,
                 "new": new, "first_seen": first, "agencies_in_window": len(all_agencies)},
                agency=next(iter(agencies)) or None, lines=ctx.lines([ref]),
            ))  # fmt: skip
    return out


DETECTORS: dict[str, Callable[[Context], list[Finding]]] = {
    "beacon": detect_beacons,
    "long-connection": detect_long,
    "dns-tunnel": detect_tunnels,
    "dga": detect_dga,
    "scan": detect_scans,
    "rare": detect_rare,
}


def detect_numpy(
    data: Dataset, settings: Settings | None = None, allow: AllowList | None = None,
    first_seen: dict[str, float] | None = None, only: Sequence[str] | None = None,
    timings: dict[str, float] | None = None, history_start: float | None = None,
) -> list[Finding]:  # fmt: skip
    """Every detector (or `only` those) with numpy over the Python lists."""
    if data.direct:
        raise ValueError("the numpy engine needs the logs read with read_logs(direct=False)")
    started = time.perf_counter()
    ctx = Context(
        data, settings or Settings(), allow or AllowList(), first_seen or {}, history_start
    )
    if timings is not None:
        timings["context"] = time.perf_counter() - started
    findings: list[Finding] = []
    for name, run in DETECTORS.items():
        if only and name not in only:
            continue
        began = time.perf_counter()
        found = run(ctx)
        for f in found:
            if f.agency is None:
                f.agency = ctx.agency_of.get(f.source) or None
        findings += found
        if timings is not None:
            timings[name] = time.perf_counter() - began
    findings.sort(key=lambda f: -f.score)
    return findings
