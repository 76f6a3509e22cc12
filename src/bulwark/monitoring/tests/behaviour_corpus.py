"""A seeded labelled corpus for the behavioural detectors (tests and bench): 24 hours of
Zeek JSON conn, dns and ssl records for a few thousand hosts in several agencies, with
benign periodic services (time sync, OS updates, telemetry, reputation look-ups) and
injected beacons, DNS tunnels, DGA bursts, scans, long connections and rare TLS
fingerprints whose truth is known because the generator put them there."""

import base64
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

T0 = 1_764_547_200.0  # 2025-12-01 00:00 UTC
DAY = 86400.0
AGENCIES = ("MOE", "MOF", "MOH", "MOI", "MOJ")
COMMON_JA3 = [f"{i:032x}" for i in range(1, 6)]


@dataclass
class Truth:
    beacons: list[dict[str, Any]] = field(default_factory=list)  # src, ip, domain, per_day, jitter
    tunnels: set[tuple[str, str]] = field(default_factory=set)
    dga: set[str] = field(default_factory=set)
    scans: set[str] = field(default_factory=set)
    long: set[tuple[str, str]] = field(default_factory=set)
    rare_ja3: set[tuple[str, str]] = field(default_factory=set)
    periodic_benign: set[str] = field(default_factory=set)  # destinations of benign services
    allow_listed: set[str] = field(default_factory=set)  # periodic, few hosts, CERT allow list


@dataclass
class Corpus:
    conn: list[bytes] = field(default_factory=list)
    dns: list[bytes] = field(default_factory=list)
    ssl: list[bytes] = field(default_factory=list)
    truth: Truth = field(default_factory=Truth)
    hosts: list[tuple[str, str]] = field(default_factory=list)  # (address, agency)

    def write(self, folder: Path) -> dict[str, list[Path]]:
        """One file per agency and log, as the stream workers archive them."""
        out: dict[str, list[Path]] = {}
        agency_of = dict(self.hosts)
        for log, lines in (("conn", self.conn), ("dns", self.dns), ("ssl", self.ssl)):
            by: dict[str, list[bytes]] = {}
            for line in lines:
                src = orjson.loads(line)["id.orig_h"]
                by.setdefault(agency_of.get(src, "EXT"), []).append(line)
            for agency, rows in by.items():
                path = folder / f"{agency}-{log}.log"
                path.write_bytes(b"\n".join(rows) + b"\n")
                out.setdefault(agency, []).append(path)
        return out


class _Gen:
    def __init__(self, hosts: int, seed: int, browse: int) -> None:
        self.rng = random.Random(seed)
        self.c = Corpus()
        self.uid = 0
        self.browse = browse
        for i in range(hosts):
            agency = AGENCIES[i % len(AGENCIES)]
            self.c.hosts.append(
                (f"10.{AGENCIES.index(agency) + 1}.{i // 250}.{i % 250 + 2}", agency)
            )

    def conn(
        self,
        ts: float,
        src: str,
        dst: str,
        port: int,
        sent: int,
        received: int,
        duration: float = 0.2,
        proto: str = "tcp",
        uid: str | None = None,
    ) -> None:
        self.uid += 1
        self.c.conn.append(
            orjson.dumps(
                {
                    "ts": round(ts, 6),
                    "uid": uid or f"C{self.uid:x}",
                    "id.orig_h": src,
                    "id.orig_p": 40000 + self.uid % 20000,
                    "id.resp_h": dst,
                    "id.resp_p": port,
                    "proto": proto,
                    "duration": round(duration, 6),
                    "orig_bytes": sent,
                    "resp_bytes": received,
                    "conn_state": "SF" if received else "S0",
                }
            )
        )

    def dns(self, ts: float, src: str, query: str, qtype: str = "A", nx: bool = False) -> None:
        self.c.dns.append(
            orjson.dumps(
                {
                    "ts": round(ts, 6),
                    "uid": f"D{ts:.0f}",
                    "id.orig_h": src,
                    "id.orig_p": 53000,
                    "id.resp_h": "10.0.0.53",
                    "id.resp_p": 53,
                    "proto": "udp",
                    "query": query,
                    "qtype_name": qtype,
                    "rcode_name": "NXDOMAIN" if nx else "NOERROR",
                }
            )
        )

    def ssl(self, ts: float, src: str, dst: str, name: str, ja3: str, issuer: str) -> None:
        self.c.ssl.append(
            orjson.dumps(
                {
                    "ts": round(ts, 6),
                    "uid": f"S{ts:.0f}",
                    "id.orig_h": src,
                    "id.orig_p": 50000,
                    "id.resp_h": dst,
                    "id.resp_p": 443,
                    "server_name": name,
                    "ja3": ja3,
                    "issuer": issuer,
                    "established": True,
                }
            )
        )

    def office_time(self) -> float:
        r = self.rng
        hour = r.gauss(13, 3) if r.random() < 0.9 else r.uniform(0, 24)
        return T0 + min(max(hour, 0.0), 23.99) * 3600 + r.uniform(0, 60)

    def periodic(
        self,
        src: str,
        dst: str,
        period: float,
        jitter: float,
        sent: int,
        port: int = 443,
        name: str | None = None,
    ) -> None:
        r = self.rng
        t = T0 + r.uniform(0, period)
        while t < T0 + DAY:
            self.conn(t, src, dst, port, int(sent * r.uniform(0.9, 1.1)), r.randint(100, 50_000))
            if name:
                self.dns(t - 0.05, src, name)
            t += period * (1 + r.uniform(-jitter, jitter))

    def build(self) -> Corpus:
        r, c, t = self.rng, self.c, self.c.truth
        sites = [f"93.{184 + i // 250}.{i % 250}.{(i * 7) % 250 + 1}" for i in range(3000)]
        weights = [1 / (i + 1) for i in range(len(sites))]
        site_no = {ip: i for i, ip in enumerate(sites)}
        ntp = ["162.159.200.1", "162.159.200.123", "129.6.15.28"]
        updates, telemetry = "13.107.4.50", "20.42.65.92"
        t.periodic_benign |= {*ntp, updates, telemetry, "v10.events.telemetry.example.com"}
        for src, agency in c.hosts:
            # browsing in office hours, Zipf over 3,000 sites, with their DNS and TLS
            for dst in r.choices(
                sites, weights, k=max(1, int(r.gauss(self.browse, self.browse / 4)))
            ):
                ts = self.office_time()
                site = f"www.site{site_no[dst]}.com"
                self.dns(ts - 0.1, src, site)
                self.conn(
                    ts,
                    src,
                    dst,
                    443,
                    int(r.lognormvariate(7, 1)),
                    int(r.lognormvariate(10, 2)),
                    duration=r.expovariate(1 / 30),
                )
                if r.random() < 0.3:
                    ja3 = COMMON_JA3[AGENCIES.index(agency) % 2 + r.randint(0, 3) % 3]
                    self.ssl(ts, src, dst, site, ja3, "CN=Common Public CA")
            self.periodic(src, r.choice(ntp), 1024, 0.002, 48, port=123)
            if r.random() < 0.4:
                self.periodic(src, updates, 3600, 0.05, 900)
            if r.random() < 0.6:
                self.periodic(
                    src, telemetry, 900, 0.1, 1500, name="v10.events.telemetry.example.com"
                )
            if r.random() < 0.5:  # reputation look-ups: hashes as labels, many hosts
                for _ in range(30):
                    h = "".join(r.choices("0123456789abcdef", k=32))
                    self.dns(self.office_time(), src, f"{h}.rep.avvendor.example.net", "TXT")
            for _ in range(3):  # browser start-up probes: random single labels, NXDOMAIN
                self.dns(
                    self.office_time(),
                    src,
                    "".join(r.choices(string.ascii_lowercase, k=r.randint(7, 15))),
                    nx=True,
                )
        hosts = [h for h, _ in c.hosts]
        # heavy but irregular users of one rare site (bursty sessions): never beacons
        for src in r.sample(hosts, max(1, len(hosts) // 20)):
            dst = f"198.18.{r.randint(0, 255)}.{r.randint(1, 254)}"
            for _ in range(r.randint(3, 6)):
                start = self.office_time()
                for _ in range(r.randint(8, 25)):
                    start += r.expovariate(1 / 40)
                    self.conn(
                        start,
                        src,
                        dst,
                        443,
                        int(r.lognormvariate(7, 1)),
                        int(r.lognormvariate(10, 2)),
                    )
        # a misconfigured host: the same NXDOMAIN name again and again
        for src in r.sample(hosts, 10):
            start = self.office_time()
            for k in range(60):
                self.dns(start + k * 2, src, "wpad.agency.local", nx=True)
        # a licence server polled by three hosts: periodic, allow-listed by the CERT
        for src in r.sample(hosts, 3):
            self.periodic(src, "192.0.2.77", 600, 0.01, 300)
        t.allow_listed.add("192.0.2.77")
        # a VPN concentrator with long sessions from many hosts: common, not alerted
        for src in r.sample(hosts, 60):
            self.conn(
                self.office_time(),
                src,
                "203.0.113.250",
                443,
                10**6,
                10**7,
                duration=r.uniform(4000, 30000),
            )
        t.periodic_benign.add("203.0.113.250")
        chosen = iter(r.sample(hosts, len(hosts)))
        # beacons: 24-2,000 a day, jitter 0-50 %, varying sizes
        for i in range(60):
            src = next(chosen)
            per_day = int(24 * (2000 / 24) ** r.random())
            jitter = round(r.uniform(0, 0.5), 3)
            ip = f"45.{10 + i // 200}.{i % 200}.{r.randint(1, 254)}"
            domain = f"cdn{r.randint(0, 999)}-{''.join(r.choices(string.ascii_lowercase, k=6))}.com"
            sent = r.randint(150, 3000)
            with_dns = i % 2 == 0
            self.periodic(src, ip, DAY / per_day, jitter, sent, name=domain if with_dns else None)
            t.beacons.append(
                {
                    "src": src,
                    "ip": ip,
                    "domain": domain if with_dns else None,
                    "per_day": per_day,
                    "jitter": jitter,
                }
            )
        # DNS tunnels: base32 chunks under one domain, half TXT
        for i in range(8):
            src, domain = next(chosen), f"t{i}{''.join(r.choices(string.ascii_lowercase, k=5))}.net"
            for k in range(r.randint(150, 1200)):
                chunk = (
                    base64.b32encode(r.randbytes(r.randint(18, 36))).decode().rstrip("=").lower()
                )
                self.dns(
                    T0 + r.uniform(0, DAY), src, f"{chunk}.{k}.{domain}", r.choice(("TXT", "A"))
                )
            t.tunnels.add((src, domain))
        # DGA: bursts of NXDOMAIN for random names
        for _ in range(8):
            src, start = next(chosen), T0 + r.uniform(0, DAY - 600)
            for _ in range(r.randint(40, 200)):
                label = "".join(
                    r.choices(string.ascii_lowercase + string.digits[:4], k=r.randint(10, 18))
                )
                self.dns(
                    start + r.uniform(0, 120),
                    src,
                    f"{label}.{r.choice(('com', 'net', 'ru', 'info'))}",
                    nx=True,
                )
            t.dga.add(src)
        # scans: horizontal (445 over a /24) and vertical (1,000 ports of one address)
        for k in range(4):
            src, start = next(chosen), T0 + r.uniform(0, DAY - 600)
            for j in range(256):
                self.conn(start + j * 0.05, src, f"10.{k + 1}.200.{j}", 445, 0, 0, duration=0.0)
            t.scans.add(src)
        for k in range(2):
            src, start = next(chosen), T0 + r.uniform(0, DAY - 600)
            for port in range(1, 1001):
                self.conn(start + port * 0.01, src, f"10.9.9.{k + 1}", port, 0, 0, duration=0.0)
            t.scans.add(src)
        # long connections to rare outside addresses
        for k in range(6):
            src, dst = next(chosen), f"185.220.{k}.{r.randint(1, 254)}"
            self.conn(
                T0 + r.uniform(0, 3600),
                src,
                dst,
                443,
                10**6,
                10**5,
                duration=r.uniform(2, 20) * 3600,
            )
            t.long.add((src, dst))
        # rare TLS fingerprints: one host in one agency each
        for k in range(5):
            src = next(chosen)
            ja3 = f"ffff{k:028x}"
            for _ in range(r.randint(1, 4)):
                self.ssl(
                    self.office_time(),
                    src,
                    sites[k],
                    f"www.site{k}.com",
                    ja3,
                    "CN=Common Public CA",
                )
            t.rare_ja3.add((src, ja3))
        return c


def generate(hosts: int = 1500, seed: int = 25, browse: int = 30) -> Corpus:
    return _Gen(hosts, seed, browse).build()


def lines(corpus: Corpus) -> Iterator[bytes]:
    yield from corpus.conn
    yield from corpus.dns
    yield from corpus.ssl
