"""Detection exports of the current, non-decayed indicators a reader may see (pure module).

Input rows are `selectors.detection_rows(...)`: (kind, normalised value, indicator id,
score). Output is deterministic (sorted, rule ids derived from the value) so that a tool
polling every minute sees a change only when the intelligence changed.
"""

import base64
import ipaddress
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from bulwark.core import csvexport

Row = tuple[str, str, str, float]
FORMATS = (
    "suricata", "suricata-dataset-domain", "suricata-dataset-md5", "suricata-dataset-sha256",
    "zeek", "snort", "rpz", "csv", "plain", "stix",
)  # fmt: skip
SID_BASE = 1_000_000_000
ZEEK_TYPES = {
    "ipv4": "Intel::ADDR", "ipv6": "Intel::ADDR", "cidr": "Intel::SUBNET",
    "domain": "Intel::DOMAIN", "url": "Intel::URL", "md5": "Intel::FILE_HASH",
    "sha1": "Intel::FILE_HASH", "sha256": "Intel::FILE_HASH", "email": "Intel::EMAIL",
}  # fmt: skip


def sid(kind: str, value: str) -> int:
    """A stable rule id per value (CRC-32 above one billion, below 2^32)."""
    return SID_BASE + zlib.crc32(f"{kind}:{value}".encode()) % 3_000_000_000


def _unique(rows: Iterable[Row]) -> list[Row]:
    best: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row[0], row[1])
        if key not in best or row[3] > best[key][3]:
            best[key] = row
    return [best[k] for k in sorted(best)]


def _quote(text: str) -> str:
    """Suricata/Snort content: escape the characters the rule grammar reserves."""
    return "".join(f"|{ord(c):02x}|" if c in '";\\|:' else c for c in text)


def suricata(rows: Iterable[Row]) -> str:
    lines = ["# Bulwark intelligence: Suricata rules"]
    for kind, value, ident, score in _unique(rows):
        msg = f"BULWARK intel {kind} {ident} score {score:g}"
        if kind in ("ipv4", "ipv6", "cidr"):
            # `<>`: traffic to the address and from it (a C2 answering, a host of ours
            # connecting out), not only what it sends to our networks.
            lines.append(
                f'alert ip [{value}] any <> $HOME_NET any (msg:"{msg}"; sid:{sid(kind, value)}; '
                "rev:1;)"
            )
        elif kind == "domain":
            # dotprefix puts a dot before the query name, so ".evil.com" + endswith fires
            # for evil.com and www.evil.com but not for notevil.com (a label boundary).
            lines.append(
                f'alert dns any any -> any any (msg:"{msg}"; dns.query; dotprefix; '
                f'content:".{_quote(value)}"; nocase; endswith; sid:{sid(kind, value)}; rev:1;)'
            )
        elif kind == "url":
            netloc, _sep, path = value.split("://", 1)[1].partition("/")
            host = netloc.partition("]")[0] + "]" if netloc.startswith("[") else netloc
            host = host if host.startswith("[") else host.split(":")[0]
            # The whole host (startswith + endswith), not any host containing it.
            lines.append(
                f'alert http any any -> any any (msg:"{msg}"; http.host; '
                f'content:"{_quote(host)}"; startswith; endswith; http.uri; '
                f'content:"/{_quote(path)}"; startswith; sid:{sid(kind, value)}; rev:1;)'
            )
    return "\n".join(lines) + "\n"


def suricata_dataset(kind: str) -> Callable[[Iterable[Row]], str]:
    def render(rows: Iterable[Row]) -> str:
        values = [v for k, v, _i, _s in _unique(rows) if k == kind]
        if kind == "domain":  # string datasets are base64 encoded
            return "".join(base64.b64encode(v.encode()).decode() + "\n" for v in values)
        return "".join(v + "\n" for v in values)

    return render


def zeek(rows: Iterable[Row]) -> str:
    out = ["#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"]
    for kind, value, ident, score in _unique(rows):
        if kind not in ZEEK_TYPES:
            continue
        text = value.split("://", 1)[1] if kind == "url" else value
        out.append(f"{text}\t{ZEEK_TYPES[kind]}\tbulwark\t{ident} score {score:g}")
    return "\n".join(out) + "\n"


def snort(rows: Iterable[Row]) -> str:
    lines = ["# Bulwark intelligence: Snort rules"]
    for kind, value, ident, score in _unique(rows):
        if kind in ("ipv4", "ipv6", "cidr"):
            lines.append(
                f'alert ip [{value}] any <> $HOME_NET any (msg:"BULWARK intel {ident} score '
                f'{score:g}"; sid:{sid(kind, value)}; rev:1;)'
            )
    return "\n".join(lines) + "\n"


def _rpz_ip(value: str) -> str:
    net = ipaddress.ip_network(value)
    if net.version == 4:
        return f"{net.prefixlen}." + ".".join(reversed(str(net.network_address).split(".")))
    # RPZ's IPv6 form (and BIND's canonical one): the groups in reverse order, the "::"
    # of the compressed address written as the label "zz".
    left, sep, right = str(net.network_address).partition("::")
    labels = right.split(":")[::-1] + (["zz"] if sep else []) + left.split(":")[::-1]
    return f"{net.prefixlen}." + ".".join(label for label in labels if label)


def rpz(rows: Iterable[Row], now: datetime | None = None) -> str:
    serial = (now or datetime.now(UTC)).strftime("%Y%m%d%H")
    out = [
        "$TTL 300",
        f"@ SOA localhost. hostmaster.localhost. {serial} 3600 600 86400 300",
        "@ NS localhost.",
    ]
    for kind, value, ident, _score in _unique(rows):
        if kind == "domain":
            out += [f"{value} CNAME . ; {ident}", f"*.{value} CNAME . ; {ident}"]
        elif kind in ("ipv4", "ipv6", "cidr"):
            out.append(f"{_rpz_ip(value)}.rpz-ip CNAME . ; {ident}")
    return "\n".join(out) + "\n"


def as_csv(rows: Iterable[Row]) -> str:
    """For machines: no byte-order mark, the field names tools expect, but defused like
    every CSV (bulwark.core.csvexport), so a value opened in a spreadsheet never runs."""

    return csvexport.text(
        ["type", "value", "indicator", "score"],
        ((kind, value, ident, float(score)) for kind, value, ident, score in _unique(rows)),
        for_machines=True,
    )


def plain(rows: Iterable[Row]) -> str:
    return "".join(v + "\n" for _k, v, _i, _s in _unique(rows))


def stix_bundle(bundle_id: str, raws: Iterable[str]) -> str:
    """A bundle of the objects exactly as stored. STIX 2.1 s.8: `objects` is optional but
    must not be empty when present, so an export with nothing in it carries no list."""
    found = list(raws)
    head = '{"type":"bundle","id":"' + bundle_id + '"'
    return head + (',"objects":[' + ",".join(found) + "]}" if found else "}")


RENDERERS: dict[str, Callable[[Iterable[Row]], str]] = {
    "suricata": suricata,
    "suricata-dataset-domain": suricata_dataset("domain"),
    "suricata-dataset-md5": suricata_dataset("md5"),
    "suricata-dataset-sha256": suricata_dataset("sha256"),
    "zeek": zeek,
    "snort": snort,
    "rpz": rpz,
    "csv": as_csv,
    "plain": plain,
}
