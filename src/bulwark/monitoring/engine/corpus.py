"""Seeded synthetic indicator feeds and Zeek DNS logs with known true hits.

Used by bench/monitor_match.py (2 M lines, 1 M indicators) and by tests (small sizes).
Address spaces are disjoint by construction, so the true hits are known exactly:
- CIDR indicators: distinct /24 blocks in 11.0.0.0-49.255.255.255 (prefix /24 to /30),
  10 % IPv6 prefixes under 2001:db8::/32;
- exact address indicators: 50.0.0.0-99.255.255.255 and 2001:db9::/32;
- benign answers: 100.0.0.0-223.255.255.255; agency hosts in 10.0.0.0/8.
Benign query names live under TLDs no indicator uses; "near misses" (an indicator glued
to a longer label, or an indicator followed by another domain) are what substring
matchers such as grep report wrongly.
"""

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_BAD_TLDS = ("com", "net", "org", "xyz", "top", "info", "ru", "cn", "io")
_GOOD_TLDS = ("example", "test", "invalid", "localhost")
_WORDS = [
    "mail",
    "cdn",
    "api",
    "static",
    "img",
    "login",
    "secure",
    "update",
    "portal",
    "cloud",
    "data",
    "app",
    "web",
    "shop",
    "news",
    "video",
    "auth",
    "sync",
    "files",
    "media",
    "account",
    "pay",
    "bank",
    "news",
    "store",
    "search",
    "maps",
    "docs",
    "drive",
]


@dataclass
class Feed:
    domains: list[str]
    cidrs: list[str]
    addresses: list[str]
    hashes: list[str]
    urls: list[str]
    emails: list[str]

    def lines(self) -> Iterator[str]:
        for group in (
            self.domains,
            self.cidrs,
            self.addresses,
            self.hashes,
            self.urls,
            self.emails,
        ):
            yield from group


def make_feed(total: int, seed: int = 7, cidr_share: float = 0.1) -> Feed:
    rng = random.Random(seed)  # noqa: S311 (test data, seeded)
    n_cidr = int(total * cidr_share)
    n_addr = total // 10
    n_hash = total // 10
    n_url = total * 6 // 100
    n_mail = total * 4 // 100
    n_dom = total - n_cidr - n_addr - n_hash - n_url - n_mail
    domains: set[str] = set()
    while len(domains) < n_dom:
        label = f"{rng.choice(_WORDS)}{rng.randrange(10**7)}"
        domains.add(f"{label}.{rng.choice(_BAD_TLDS)}")
    blocks = rng.sample(range(11 << 16, 50 << 16), int(n_cidr * 0.9))  # /24s in 11/8..49/8
    cidrs = []
    for block in blocks:
        length = rng.choice((24, 24, 25, 26, 27, 28, 30))
        base = (block << 8) | (rng.randrange(256) & ~((1 << (32 - length)) - 1) & 0xFF)
        cidrs.append(f"{base >> 24}.{(base >> 16) & 255}.{(base >> 8) & 255}.{base & 255}/{length}")
    v6_blocks = rng.sample(range(1 << 16), n_cidr - len(cidrs))
    cidrs += [f"2001:db8:{b:x}::/48" for b in v6_blocks]
    addresses: set[str] = set()
    while len(addresses) < n_addr * 8 // 10:
        v = rng.randrange(50 << 24, 100 << 24)
        addresses.add(f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}")
    while len(addresses) < n_addr:
        addresses.add(f"2001:db9:{rng.randrange(1 << 16):x}::{rng.randrange(1 << 16):x}")
    hashes = []
    for i in range(n_hash):
        digest = hashlib.sha256(f"{seed}-{i}".encode()).hexdigest()
        hashes.append(digest[: rng.choice((32, 40, 64))])
    dlist = sorted(domains)
    urls = [f"http://{rng.choice(dlist)}/{rng.choice(_WORDS)}/{i}.php?id={i}" for i in range(n_url)]
    emails = [f"{rng.choice(_WORDS)}{i}@{rng.choice(dlist)}" for i in range(n_mail)]
    return Feed(dlist, cidrs, sorted(addresses), hashes, urls, emails)


def _ip(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


@dataclass
class LogTruth:
    lines: int
    hit_lines: list[int]  # 0-based lines with a true domain and address hit
    near_miss_lines: list[int]  # 0-based lines a substring matcher reports wrongly


def zeek_dns_lines(
    feed: Feed,
    count: int,
    seed: int = 11,
    hit_rate: float = 0.0005,
    near_rate: float = 0.001,
    population: int = 300_000,
) -> Iterator[tuple[str, str]]:
    """(line, label) with label 'hit', 'near' or ''. Benign names follow a Zipf-like
    popularity (a few names are asked very often, most rarely), as in real resolvers."""
    rng = random.Random(seed)  # noqa: S311 (test data, seeded)
    names = [
        f"{rng.choice(_WORDS)}{rng.randrange(10**6)}.{rng.choice(_WORDS)}{i}.{rng.choice(_GOOD_TLDS)}"
        for i in range(population)
    ]
    hosts = [_ip((10 << 24) | rng.randrange(1 << 24)) for _ in range(20_000)]
    resolvers = ["10.0.0.53", "10.0.1.53", "10.128.0.53", "10.200.0.53"]
    v4_cidrs = [c for c in feed.cidrs if ":" not in c]
    ts = 1_763_900_000.0
    for _ in range(count):
        ts += rng.random() / 500
        roll = rng.random()
        label = ""
        if roll < hit_rate:
            label = "hit"
            query = f"{rng.choice(_WORDS)}.{rng.choice(feed.domains)}"
            if rng.random() < 0.3:
                query = query.upper()
            net, _, length = rng.choice(v4_cidrs).partition("/")
            a, b, c, d = (int(x) for x in net.split("."))
            base = (a << 24) | (b << 16) | (c << 8) | d
            answer = f'"{_ip(base + rng.randrange(1 << (32 - int(length))))}"'
        elif roll < hit_rate + near_rate:
            label = "near"
            bad = rng.choice(feed.domains)
            query = (
                f"x{bad}" if rng.random() < 0.5 else f"{bad}.{rng.choice(_WORDS)}.{_GOOD_TLDS[0]}"
            )
            answer = f'"{_ip(rng.randrange(100 << 24, 224 << 24))}"'
        else:
            rank = min(int(rng.paretovariate(0.6)) - 1, population - 1)
            index = rank if rng.random() < 0.7 else rng.randrange(population)
            query = names[index]
            h = hash((seed, index)) & 0xFFFFFFFF
            answer = f'"{_ip((100 << 24) + h % (124 << 24))}"'
            if h & 3 == 0:
                answer += f',"{_ip((100 << 24) + (h * 7) % (124 << 24))}"'
        line = (
            f'{{"ts":{ts:.6f},"uid":"C{rng.randrange(16**16):016x}",'
            f'"id.orig_h":"{rng.choice(hosts)}","id.orig_p":{rng.randrange(1024, 65536)},'
            f'"id.resp_h":"{rng.choice(resolvers)}","id.resp_p":53,"proto":"udp",'
            f'"trans_id":{rng.randrange(65536)},"rtt":0.{rng.randrange(10**5):05d},'
            f'"query":"{query}","qclass":1,"qclass_name":"C_INTERNET","qtype":1,'
            f'"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,'
            f'"RD":true,"RA":true,"Z":0,"answers":[{answer}],"TTLs":[{rng.randrange(30, 86400)}.0],'
            f'"rejected":false}}'
        )
        yield line, label


def corpus_paths(
    directory: Path, indicators: int, lines: int, seed: int = 7
) -> tuple[Path, Path, Path]:
    """Where write_corpus puts the indicator list, the domain list and the log."""
    return (
        directory / f"indicators-{indicators}-{seed}.txt",
        directory / f"domains-{indicators}-{seed}.txt",
        directory / f"zeek-dns-{lines}-{seed}.json",
    )


def write_corpus(
    directory: Path, indicators: int, lines: int, seed: int = 7
) -> tuple[Path, Path, Path, LogTruth]:
    """Indicator list, domain-only list (for grep) and log; cached by size and seed."""
    directory.mkdir(parents=True, exist_ok=True)
    ind_path, dom_path, log_path = corpus_paths(directory, indicators, lines, seed)
    truth_path = directory / f"truth-{lines}-{seed}.txt"
    if not ind_path.exists() or not dom_path.exists() or not log_path.exists():
        feed = make_feed(indicators, seed)
    if not ind_path.exists() or not dom_path.exists():
        ind_path.with_suffix(".tmp").write_text("\n".join(feed.lines()) + "\n")
        ind_path.with_suffix(".tmp").rename(ind_path)
        dom_path.write_text("\n".join(feed.domains) + "\n")
    if not log_path.exists() or not truth_path.exists():
        hits: list[int] = []
        near: list[int] = []
        tmp = log_path.with_suffix(".tmp")
        with tmp.open("w") as handle:
            for number, (line, label) in enumerate(zeek_dns_lines(feed, lines, seed + 4)):
                handle.write(line + "\n")
                if label == "hit":
                    hits.append(number)
                elif label == "near":
                    near.append(number)
        tmp.rename(log_path)
        truth_path.write_text(
            "hit " + " ".join(map(str, hits)) + "\nnear " + " ".join(map(str, near)) + "\n"
        )
    parts = dict(line.split(" ", 1) for line in truth_path.read_text().splitlines())
    truth = LogTruth(
        lines,
        [int(x) for x in parts.get("hit", "").split()],
        [int(x) for x in parts.get("near", "").split()],
    )
    return ind_path, dom_path, log_path, truth
