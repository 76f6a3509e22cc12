"""A seeded labelled corpus: indicators of every type, and log lines in every format whose
true hits are known because the generator put them there (tests only)."""

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

N = 6  # indicators per type


@dataclass
class Truth:
    indicators: list[str]
    # observed variant -> canonical indicator, per slot kind
    variants: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _v6_forms(addr: str, rng: random.Random) -> str:
    ip = ipaddress.IPv6Address(addr)
    form = rng.choice(("exploded", "compressed", "upper", "zeros"))
    if form == "exploded":
        return ip.exploded
    if form == "upper":
        return ip.compressed.upper()
    if form == "zeros":
        return ":".join(f"{int(g, 16):x}" for g in ip.exploded.split(":"))
    return ip.compressed


def _case(text: str, rng: random.Random) -> str:
    roll = rng.random()
    return text.upper() if roll < 0.3 else text.title() if roll < 0.5 else text


def build(seed: int = 3) -> Truth:
    rng = random.Random(seed)
    ind: list[str] = []
    v: dict[str, list[tuple[str, str]]] = {
        k: [] for k in ("addr", "domain", "url", "hash", "email")
    }
    for i in range(N):
        # domains: ASCII, IDN given as U-label, IDN given as A-label
        ascii_dom = f"evil-{i}.com"
        idn_u, idn_a = f"bücher-{i}.de", f"bücher-{i}.de".encode("idna").decode()
        ind += [ascii_dom, idn_u if i % 2 else idn_a]
        for observed in (
            ascii_dom,
            f"a.{ascii_dom}",
            f"x.y.{ascii_dom}.",
            _case(f"WWW.{ascii_dom}", rng),
        ):
            v["domain"].append((observed, ascii_dom))
        for observed in (idn_a, idn_u, f"mail.{idn_a}", f"Mail.{idn_u}", idn_a.upper()):
            v["domain"].append((observed, idn_a))
        # addresses
        a4, a6 = f"198.51.100.{10 + i}", f"2001:db8:{i + 1:x}::{i + 7:x}"
        ind += [a4, a6 if i % 2 else ipaddress.IPv6Address(a6).exploded.upper()]
        v["addr"].append((a4, a4))
        for _ in range(3):
            v["addr"].append((_v6_forms(a6, rng), str(ipaddress.IPv6Address(a6))))
        c4, c6 = f"203.0.{113 + i}.0/24", f"2001:db8:ff{i:02x}::/48"
        ind += [c4, c6]
        v["addr"].append((f"203.0.{113 + i}.{rng.randrange(256)}", c4))
        inner = ipaddress.IPv6Network(c6)[rng.randrange(1 << 20)]
        v["addr"].append((_v6_forms(str(inner), rng), c6))
        # URLs with encodings
        url = f"http://bad-{i}.example/dl/get.php?id={i}"
        ind.append(url if i % 2 else f"HTTP://BAD-{i}.example:80/dl/./get.php?id={i}")
        for observed in (
            url,
            f"http://Bad-{i}.example/dl/%67et.php?id={i}",
            f"http://bad-{i}.example:80/x/../dl/get.php?id={i}",
            f"http://bad-{i}.example/dl/get.php?id={i}#frag",
        ):
            v["url"].append((observed, url))
        # hashes
        for length in (32, 40, 64):
            digest = f"{rng.getrandbits(length * 4):0{length}x}"
            ind.append(digest.upper() if i % 2 else digest)
            v["hash"] += [(digest, digest), (digest.upper(), digest)]
        # e-mail
        mail = f"boss{i}@phish-{i}.example"
        ind.append(mail if i % 2 else mail.upper())
        v["email"] += [(mail, mail), (mail.upper(), mail), (f"CEO <{mail}>", mail)]
    return Truth(ind, v)


BENIGN_DOMAINS = ["ok.test", "xevil-0.com", "evil-0.com.cdn.test", "notbücher-1.de", "evil-1.co"]
BENIGN_ADDRS = ["10.0.0.1", "198.51.100.200", "203.0.120.5", "2001:db8:fff0::1", "198.51.100.1"]
BENIGN_URLS = ["http://bad-0.example/dl/get.php?id=9", "https://bad-1.example/dl/get.php?id=2"]
BENIGN_HASHES = ["0" * 32, "f" * 40, "a" * 64]
BENIGN_MAILS = ["boss0@phish-0.example.org", "other@phish-1.example"]


@dataclass
class Line:
    text: str
    hits: set[str]


class Slots:
    """Draws field values: a true hit with probability p, otherwise a benign value
    (including near misses that substring matching would report)."""

    def __init__(self, truth: Truth, rng: random.Random, p: float = 0.2) -> None:
        self.truth, self.rng, self.p = truth, rng, p
        self.hits: set[str] = set()

    def draw(self, kind: str) -> str:
        rng = self.rng
        if kind == "host":
            kind = rng.choice(("addr", "domain"))
        if rng.random() < self.p:
            observed, canonical = rng.choice(self.truth.variants[kind])
            self.hits.add(canonical)
            return observed
        benign = {
            "addr": BENIGN_ADDRS,
            "domain": BENIGN_DOMAINS,
            "url": BENIGN_URLS,
            "hash": BENIGN_HASHES,
            "email": BENIGN_MAILS,
        }[kind]
        return rng.choice(benign)

    def decoy(self) -> str:
        """An indicator in a field that must not be examined (user agent, notes)."""
        kind = self.rng.choice(("domain", "url", "hash"))
        return self.rng.choice(self.truth.variants[kind])[0]


def _j(obj: dict[str, object]) -> str:
    return orjson.dumps(obj).decode()


def zeek_json(log: str) -> Callable[[Slots, int], str]:
    def line(s: Slots, n: int) -> str:
        base: dict[str, object] = {"ts": 1763900000.0 + n, "uid": f"C{n}"}
        if log != "files":
            base.update(
                {
                    "id.orig_h": s.draw("addr"),
                    "id.orig_p": 4000 + n,
                    "id.resp_h": s.draw("addr"),
                    "id.resp_p": 53,
                    "proto": "udp",
                }
            )
        if log == "dns":
            base.update(
                {
                    "trans_id": n,
                    "rtt": 0.01,
                    "query": s.draw("domain"),
                    "qtype_name": "A",
                    "answers": [s.draw("host"), s.draw("host")],
                    "TTLs": [60.0, 60.0],
                }
            )
        elif log == "http":
            url = s.draw("url")
            rest = url.split("://", 1)[1]
            host, _, path = rest.partition("/")
            base.update({"method": "GET", "host": host, "uri": "/" + path, "user_agent": s.decoy()})
        elif log == "ssl":
            base.update(
                {"version": "TLSv13", "server_name": s.draw("domain"), "subject": "CN=" + s.decoy()}
            )
        elif log == "files":
            base.update(
                {
                    "fuid": f"F{n}",
                    "tx_hosts": [s.draw("addr")],
                    "rx_hosts": [s.draw("addr")],
                    "mime_type": "application/x-dosexec",
                    "md5": s.draw("hash"),
                    "sha1": s.draw("hash"),
                    "sha256": s.draw("hash"),
                    "filename": s.decoy(),
                }
            )
        elif log == "smtp":
            base.update(
                {
                    "helo": s.draw("host"),
                    "mailfrom": s.draw("email"),
                    "rcptto": [s.draw("email"), s.draw("email")],
                    "subject": s.decoy(),
                }
            )
        elif log == "conn":
            base.update({"conn_state": "SF", "history": "ShADadFf"})
        if log in ("dns", "conn"):
            base["x_note"] = s.decoy()
        return _j(base)

    return line


def zeek_tsv_header(log: str) -> tuple[list[str], str]:
    columns = {
        "dns": [
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "query",
            "answers",
        ],
        "conn": ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "conn_state"],
        "http": [
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "host",
            "uri",
            "user_agent",
        ],
        "ssl": [
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "server_name",
            "subject",
        ],
        "files": ["ts", "fuid", "tx_hosts", "rx_hosts", "md5", "sha1", "sha256", "filename"],
        "smtp": [
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "helo",
            "mailfrom",
            "rcptto",
            "subject",
        ],
    }[log]
    header = (
        "#separator \\x09\n#set_separator\t,\n#path\t"
        + log
        + "\n#fields\t"
        + "\t".join(columns)
        + "\n"
    )
    return columns, header


def zeek_tsv(log: str) -> Callable[[Slots, int], str]:
    columns, _ = zeek_tsv_header(log)

    def line(s: Slots, n: int) -> str:
        values: dict[str, str] = {
            "ts": f"{1763900000 + n}.0",
            "uid": f"C{n}",
            "fuid": f"F{n}",
            "id.orig_p": "4000",
            "id.resp_p": "53",
            "conn_state": "SF",
        }
        for col in columns:
            if col in values:
                continue
            if col in ("id.orig_h", "id.resp_h"):
                values[col] = s.draw("addr")
            elif col in ("tx_hosts", "rx_hosts"):
                values[col] = ",".join([s.draw("addr"), s.draw("addr")])
            elif col == "query" or col == "server_name":
                values[col] = s.draw("domain")
            elif col == "answers":
                values[col] = ",".join([s.draw("host"), s.draw("host")])
            elif col in ("md5", "sha1", "sha256"):
                values[col] = s.draw("hash")
            elif col == "helo":
                values[col] = s.draw("host")
            elif col == "mailfrom":
                values[col] = s.draw("email")
            elif col == "rcptto":
                values[col] = ",".join([s.draw("email"), s.draw("email")])
            elif col == "host":
                url = s.draw("url")
                host, _, path = url.split("://", 1)[1].partition("/")
                values["host"], values["uri"] = host, "/" + path
            elif col == "uri":
                continue
            else:
                values[col] = s.decoy()
        return "\t".join(values.get(c, "-") for c in columns)

    return line


def eve(s: Slots, n: int) -> str:
    kind = ("dns", "http", "tls", "fileinfo", "flow", "alert")[n % 6]
    obj: dict[str, object] = {
        "timestamp": "2026-11-23T09:00:00.000000+0000",
        "event_type": kind,
        "src_ip": s.draw("addr"),
        "dest_ip": s.draw("addr"),
        "proto": "TCP",
    }
    if kind == "dns":
        obj["dns"] = {
            "version": 2,
            "type": "answer",
            "rrname": s.draw("domain"),
            "answers": [{"rrname": s.draw("domain"), "rrtype": "A", "rdata": s.draw("host")}],
        }
    elif kind in ("http", "fileinfo"):
        url = s.draw("url")
        host, _, path = url.split("://", 1)[1].partition("/")
        obj["http"] = {"hostname": host, "url": "/" + path, "http_user_agent": s.decoy()}
        if kind == "fileinfo":
            obj["fileinfo"] = {
                "filename": s.decoy(),
                "md5": s.draw("hash"),
                "sha256": s.draw("hash"),
            }
    elif kind == "tls":
        obj["tls"] = {"sni": s.draw("domain"), "subject": "CN=" + s.decoy()}
    elif kind == "alert":
        obj["alert"] = {"signature": "ET " + s.decoy(), "severity": 2}
    return _j(obj)


def squid(s: Slots, n: int) -> str:
    url = s.draw("url")
    return f"{1763900000 + n}.123    120 {s.draw('addr')} TCP_MISS/200 1024 GET {url} - HIER_DIRECT/{s.draw('addr')} text/html"  # noqa: E501


def bind(s: Slots, n: int) -> str:
    q = s.draw("domain")
    return f"23-Nov-2026 09:00:{n % 60:02d}.123 queries: info: client @0x7f00{n:x} {s.draw('addr')}#5353 ({q}): query: {q} IN A +E(0)K ({s.draw('addr')})"  # noqa: E501


def cef(s: Slots, n: int) -> str:
    return (
        f"Nov 23 09:00:00 fw1 CEF:0|Vendor|Proxy|1.0|100|Blocked {s.decoy()}|5|src={s.draw('addr')} dst={s.draw('addr')} "  # noqa: E501
        f"dhost={s.draw('host')} request={s.draw('url')} fileHash={s.draw('hash')} duser={s.draw('email')} msg=seen {s.decoy()}"  # noqa: E501
    )


def ndjson(s: Slots, n: int) -> str:
    return _j({"time": n, "client": s.draw("addr"), "q": s.draw("domain"), "comment": s.decoy()})


def csv_line(s: Slots, n: int) -> str:
    return f'{n},{s.draw("addr")},{s.draw("domain")},"note, {s.decoy()}"'


def generate(fmt: str, truth: Truth, lines: int, seed: int) -> tuple[str, list[set[str]]]:
    rng = random.Random(seed)
    writers: dict[str, Callable[[Slots, int], str]] = {}
    for log in ("dns", "conn", "http", "ssl", "files", "smtp"):
        writers[f"zeek-{log}-json"] = zeek_json(log)
        writers[f"zeek-{log}-tsv"] = zeek_tsv(log)
    writers.update(
        {
            "suricata-eve": eve,
            "squid": squid,
            "bind-query": bind,
            "cef": cef,
            "ndjson": ndjson,
            "csv": csv_line,
        }
    )
    head = ""
    if fmt.endswith("-tsv"):
        head = zeek_tsv_header(fmt.split("-")[1])[1]
    elif fmt == "csv":
        head = "time,client,domain,note\n"
    expected: list[set[str]] = [set() for _ in head.splitlines()]
    body = []
    for n in range(lines):
        slots = Slots(truth, rng)
        body.append(writers[fmt](slots, n))
        expected.append(slots.hits)
    return head + "\n".join(body) + "\n", expected
