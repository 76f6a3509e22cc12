"""Log formats: how to read one line (the authoritative slow path) and, where it pays,
a complete pre-filter over a whole chunk (the fast path).

A field has a kind that says which indicators it can hit: `addr` (IPv4/IPv6 addresses,
exact or inside a prefix), `domain` (the name and its parents on label boundaries),
`host` (an address or a domain: HTTP Host, DNS answers), `url`, `hash`, `email`. Only
those fields are examined, so `evil.com` in a user-agent string is not a hit.

The fast path of a format is a list of passes: one compiled regex with a literal prefix
per key, run with `findall` over a chunk of many lines. A format only has passes if the
passes see every value its slow path would examine (lines containing a backslash are
always re-read by the slow path, because the passes skip escaped strings).
"""

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import orjson

KINDS = ("addr", "domain", "host", "url", "hash", "email")
_STR = rb'"([^"\\\x00-\x1f]*)"'
_LIST = rb'\[((?:"[^"\\\x00-\x1f]*",?)*)\]'
_LIST_OR_STR = rb'\[?[ \t]*((?:"[^"\\\x00-\x1f]*"[ \t]*,?[ \t]*)*)'
_COLON = rb'"[ \t]*:[ \t]*'  # JSON allows blanks around the colon (jq, json.dumps)
LIST_ITEM = re.compile(_STR)
MAX_LINE = 1 << 20


class BadLine(ValueError):
    """A line that cannot be read in this format; the message says why."""


@dataclass(slots=True)
class Record:
    ts: str | float | None = None
    src: str | None = None
    dst: str | None = None
    values: list[tuple[str, str, bytes]] = field(default_factory=list)  # (field, kind, raw)


@dataclass(frozen=True, slots=True)
class OrderedPass:
    """Several keys that always appear in one order (Zeek writes its columns in a fixed
    order), read by one regex. It is trusted for a chunk only when it matched as often as
    the keys occur (checked with bytes.count); otherwise the per-key passes run."""

    regex: re.Pattern[bytes]
    kinds: tuple[str, ...]
    needles: tuple[bytes | None, ...]  # counted occurrences per group (None: no check)
    replaces: tuple[int, ...]  # indexes of the per-key passes it stands in for


@dataclass(frozen=True, slots=True)
class Pass:
    regex: re.Pattern[bytes]
    kind: str
    is_list: bool = False


Parser = Callable[[bytes, dict[str, object]], Record | None]


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    family: str  # json, tsv, csv or text (how hit values are delimited in a line)
    parse: Parser  # returns None for lines to skip (comments, headers)
    passes: tuple[Pass, ...] | None = None
    fields: tuple[tuple[str, str], ...] = ()
    ordered: OrderedPass | None = None


# ----- JSON ------------------------------------------------------------------------------


def _json(line: bytes) -> dict[str, object]:
    if len(line) > MAX_LINE:
        raise BadLine(f"line longer than {MAX_LINE} bytes")
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise BadLine("not a JSON object")
    return obj


def _strings(value: object) -> Iterator[bytes]:
    if isinstance(value, str):
        yield value.encode("utf-8", "surrogatepass")
    elif isinstance(value, list):
        for item in value[:1000]:
            if isinstance(item, str):
                yield item.encode("utf-8", "surrogatepass")


def _get(obj: dict[str, object], path: str) -> object:
    if path in obj:
        return obj[path]
    current: object = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _ts(value: object) -> str | float | None:
    return value if isinstance(value, str | float | int) and not isinstance(value, bool) else None


def flat_json_parser(fields: tuple[tuple[str, str], ...], ts: str, src: str, dst: str) -> Parser:
    def parse(line: bytes, ctx: dict[str, object]) -> Record | None:
        if not line.strip():
            return None
        obj = _json(line)
        record = Record(_ts(_get(obj, ts)), _text(_get(obj, src)), _text(_get(obj, dst)))
        for key, kind in fields:
            for raw in _strings(_get(obj, key)):
                record.values.append((key, kind, raw))
        return record

    return parse


def json_passes(fields: tuple[tuple[str, str], ...], list_keys: frozenset[str]) -> tuple[Pass, ...]:
    passes: list[Pass] = []
    address_keys = {k for k, kind in fields if k.endswith("_h") and kind == "addr"}
    if address_keys:
        # Zeek's id.orig_h and id.resp_h in one pass: a literal prefix keeps re fast.
        passes.append(Pass(re.compile(rb"_h" + _COLON + _STR), "addr"))
    for key, kind in fields:
        if key in address_keys:
            continue
        leaf = re.escape(key.rsplit(".", 1)[-1].encode())
        if key in list_keys:  # a list of strings, or one string
            passes.append(Pass(re.compile(rb'"' + leaf + _COLON + _LIST_OR_STR), kind, True))
        else:
            passes.append(Pass(re.compile(rb'"' + leaf + _COLON + _STR), kind))
    return tuple(passes)


_ADDR = (("id.orig_h", "addr"), ("id.resp_h", "addr"))
ZEEK_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "conn": _ADDR,
    "dns": (*_ADDR, ("query", "domain"), ("answers", "host")),
    "http": (*_ADDR, ("host", "host"), ("url", "url"), ("referrer", "url")),
    "ssl": (*_ADDR, ("server_name", "domain")),
    "files": (
        ("tx_hosts", "addr"),
        ("rx_hosts", "addr"),
        ("md5", "hash"),
        ("sha1", "hash"),
        ("sha256", "hash"),
    ),
    "smtp": (
        *_ADDR,
        ("helo", "host"),
        ("mailfrom", "email"),
        ("rcptto", "email"),
        ("from", "email"),
        ("to", "email"),
        ("cc", "email"),
        ("reply_to", "email"),
    ),
}
ZEEK_LISTS = frozenset({"answers", "tx_hosts", "rx_hosts", "rcptto", "to", "cc"})


def _zeek_src_dst(log: str) -> tuple[str, str]:
    return ("tx_hosts", "rx_hosts") if log == "files" else ("id.orig_h", "id.resp_h")


def _with_http_url(parse: Parser, host_key: str, uri_key: str) -> Parser:
    """HTTP logs carry the Host header and the request target apart; the URL examined
    is the two joined (the target alone when it is already absolute)."""

    def parse_http(line: bytes, ctx: dict[str, object]) -> Record | None:
        record = parse(line, ctx)
        if record is None:
            return None
        obj = _json(line)
        target = _get(obj, uri_key)
        if isinstance(target, str) and target:
            host = _get(obj, host_key)
            if "://" in target[:12]:
                full = target
            elif isinstance(host, str) and host:
                full = host + target
            else:
                full = (record.dst or "") + target
            record.values.append(("url", "url", full.encode("utf-8", "surrogatepass")))
        return record

    return parse_http


def _zeek_json(log: str) -> Format:
    fields = ZEEK_FIELDS[log]
    src, dst = _zeek_src_dst(log)
    parse_fields = tuple(f for f in fields if f[0] != "url")
    parse = flat_json_parser(parse_fields, "ts", src, dst)
    passes: tuple[Pass, ...] | None = json_passes(fields, ZEEK_LISTS)
    if log == "http":
        parse = _with_http_url(parse, "host", "uri")
        passes = None  # the URL is composed from two keys: read every line
    ordered = None
    if log == "dns":
        ordered = OrderedPass(
            re.compile(
                rb'"id\.orig_h":'
                + _STR
                + rb',"id\.orig_p":[0-9]+,"id\.resp_h":'
                + _STR
                + rb',"id\.resp_p":[0-9]+,"proto":"[a-z]+"(?:,"trans_id":[0-9]+)?'
                rb'(?:,"rtt":[0-9.e+-]+)?(?:,"query":' + _STR + rb")?"
            ),
            ("addr", "addr", "domain"),
            (b'"id.orig_h":"', None, b'"query":"'),  # resp_h is not optional
            (0, 1),
        )
    return Format(
        f"zeek-{log}-json", f"Zeek {log}.log, JSON", "json", parse, passes, parse_fields, ordered
    )


# ----- Zeek TSV --------------------------------------------------------------------------


def _zeek_tsv(log: str) -> Format:
    fields = ZEEK_FIELDS[log]
    src, dst = _zeek_src_dst(log)
    wanted = tuple(f for f in fields if f[0] != "url")

    def parse(line: bytes, ctx: dict[str, object]) -> Record | None:
        if line.startswith(b"#"):
            if line.startswith(b"#fields\t"):
                ctx["columns"] = [c.decode() for c in line.rstrip(b"\r").split(b"\t")[1:]]
            return None
        columns = ctx.get("columns")
        if not isinstance(columns, list):
            raise BadLine("no #fields header before this line")
        cells = line.rstrip(b"\r").split(b"\t")
        if len(cells) != len(columns):
            raise BadLine(f"{len(cells)} columns, the header has {len(columns)}")
        row = dict(zip(columns, cells, strict=True))

        def text(key: str) -> str | None:
            value = row.get(key)
            return None if value in (None, b"-", b"(empty)") else value.decode("utf-8", "replace")

        record = Record(text("ts"), text(src), text(dst))
        for key, kind in wanted:
            value = row.get(key)
            if value is None or value in (b"-", b"(empty)"):
                continue
            items = value.split(b",") if key in ZEEK_LISTS else [value]
            for raw in items:
                record.values.append((key, kind, _zeek_unescape(raw)))
        if log == "http":
            uri, host = row.get("uri", b"-"), row.get("host", b"-")
            if uri not in (b"-", b""):
                full = uri if b"://" in uri[:12] else (host if host != b"-" else b"") + uri
                record.values.append(("url", "url", _zeek_unescape(full)))
        return record

    return Format(f"zeek-{log}-tsv", f"Zeek {log}.log, tab-separated", "tsv", parse, None, wanted)


def _zeek_unescape(value: bytes) -> bytes:
    if b"\\x" not in value:
        return value
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes((int(m.group(1), 16),)), value)


# ----- Suricata EVE ----------------------------------------------------------------------

_EVE_KEYS = {
    "rrname": "host",
    "rdata": "host",
    "hostname": "host",
    "sni": "domain",
    "http_refer": "url",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
}


def _eve_walk(obj: object, path: str, out: list[tuple[str, str, bytes]], depth: int) -> None:
    if depth > 8:
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else key
            kind = _EVE_KEYS.get(key)
            if kind is not None:
                out.extend((sub, kind, raw) for raw in _strings(value))
            elif isinstance(value, dict | list):
                _eve_walk(value, sub, out, depth + 1)
            if key == "grouped" and isinstance(value, dict):  # dns v2/v3 grouped answers
                for rtype, items in value.items():
                    if rtype in ("A", "AAAA", "CNAME"):
                        out.extend((f"{sub}.{rtype}", "host", r) for r in _strings(items))
    elif isinstance(obj, list):
        for item in obj[:1000]:
            _eve_walk(item, path, out, depth + 1)


def _parse_eve(line: bytes, ctx: dict[str, object]) -> Record | None:
    if not line.strip():
        return None
    obj = _json(line)
    record = Record(_ts(obj.get("timestamp")), _text(obj.get("src_ip")), _text(obj.get("dest_ip")))
    for key in ("src_ip", "dest_ip"):
        record.values.extend((key, "addr", raw) for raw in _strings(obj.get(key)))
    for section in ("dns", "http", "tls", "fileinfo", "smtp", "email"):
        if section in obj:
            _eve_walk(obj[section], section, record.values, 0)
    http = obj.get("http")
    if isinstance(http, dict) and isinstance(http.get("url"), str):
        target = str(http["url"])
        host = http.get("hostname")
        full = (
            target
            if "://" in target[:12]
            else (host if isinstance(host, str) else record.dst or "") + target
        )
        record.values.append(("http.url", "url", full.encode("utf-8", "surrogatepass")))
    smtp = obj.get("smtp")
    if isinstance(smtp, dict):
        for key in ("mail_from", "rcpt_to"):
            record.values.extend((f"smtp.{key}", "email", raw) for raw in _strings(smtp.get(key)))
    return record


# ----- text formats ----------------------------------------------------------------------

_SQUID = re.compile(
    rb"\s*(?P<ts>\d+(?:\.\d+)?)\s+\d+\s+(?P<client>\S+)\s+\S+\s+\d+\s+(?P<method>\S+)\s+"
    rb"(?P<url>\S+)\s+\S+\s+(?P<hier>\S+)(?:\s+\S+)?\s*"
)


def _parse_squid(line: bytes, ctx: dict[str, object]) -> Record | None:
    if not line.strip():
        return None
    m = _SQUID.fullmatch(line.rstrip(b"\r"))
    if m is None:
        raise BadLine("not a Squid native access.log line")
    record = Record(m.group("ts").decode(), m.group("client").decode("utf-8", "replace"))
    record.values.append(("client", "addr", m.group("client")))
    target = m.group("url")
    if m.group("method") == b"CONNECT" or b"://" not in target:
        record.values.append(
            ("url", "host", target.rsplit(b":", 1)[0] if target.count(b":") == 1 else target)
        )
    else:
        record.values.append(("url", "url", target))
        host = re.match(rb"[a-zA-Z]+://(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]*)", target)
        if host:
            record.values.append(("url.host", "host", host.group(1)))
    peer = m.group("hier").partition(b"/")[2]
    if peer and peer != b"-":
        record.dst = peer.decode("utf-8", "replace")
        record.values.append(("peer", "host", peer))
    return record


_BIND = re.compile(
    rb"(?P<ts>.*?)\s*(?:queries: \w+: )?client (?:@\S+ )?(?P<client>[0-9A-Fa-f:.]+)#\d+"
    rb"(?: \([^)]*\))?: (?:view \S+: )?query: (?P<query>\S+) \S+ \S+ \S*"
    rb"(?: \((?P<server>[0-9A-Fa-f:.]+)\))?\s*"
)


def _parse_bind(line: bytes, ctx: dict[str, object]) -> Record | None:
    if not line.strip():
        return None
    m = _BIND.fullmatch(line.rstrip(b"\r"))
    if m is None:
        raise BadLine("not a BIND query log line")
    server = m.group("server")
    record = Record(
        m.group("ts").decode("utf-8", "replace").strip() or None,
        m.group("client").decode(),
        server.decode() if server else None,
    )
    record.values.append(("client", "addr", m.group("client")))
    record.values.append(("query", "domain", m.group("query")))
    if server:
        record.values.append(("server", "addr", server))
    return record


_CEF_KEY = re.compile(rb"(?:^|(?<=\s))([A-Za-z0-9_.\[\]]+)=")
CEF_FIELDS = {
    b"src": "addr",
    b"dst": "addr",
    b"c6a2": "addr",
    b"c6a3": "addr",
    b"sourceTranslatedAddress": "addr",
    b"destinationTranslatedAddress": "addr",
    b"shost": "host",
    b"dhost": "host",
    b"sourceDnsDomain": "domain",
    b"destinationDnsDomain": "domain",
    b"request": "url",
    b"fileHash": "hash",
    b"oldFileHash": "hash",
    b"suser": "email",
    b"duser": "email",
}


def _split_cef_header(text: bytes) -> list[bytes]:
    parts: list[bytes] = []
    current = bytearray()
    i = 0
    while i < len(text) and len(parts) < 7:
        c = text[i]
        if c == 92 and i + 1 < len(text):  # backslash escapes | and \
            current.append(text[i + 1])
            i += 2
            continue
        if c == 124:
            parts.append(bytes(current))
            current = bytearray()
        else:
            current.append(c)
        i += 1
    parts.append(text[i:])
    return parts


def _parse_cef(line: bytes, ctx: dict[str, object]) -> Record | None:
    if not line.strip():
        return None
    start = line.find(b"CEF:")
    if start < 0:
        raise BadLine("no CEF: header")
    parts = _split_cef_header(line[start:].rstrip(b"\r\n"))
    if len(parts) != 8:
        raise BadLine("a CEF header has 7 fields separated by |")
    ext = parts[7]
    keys = list(_CEF_KEY.finditer(ext))
    values: dict[bytes, bytes] = {}
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(ext)
        value = ext[m.end() : end].strip()
        values[m.group(1)] = value.replace(b"\\=", b"=").replace(b"\\\\", b"\\")
    header_ts = line[:start].strip().decode("utf-8", "replace") or None
    record = Record(
        (values.get(b"rt") or b"").decode("utf-8", "replace") or header_ts,
        (values.get(b"src") or values.get(b"c6a2") or b"").decode("utf-8", "replace") or None,
        (values.get(b"dst") or values.get(b"c6a3") or b"").decode("utf-8", "replace") or None,
    )
    for key, kind in CEF_FIELDS.items():
        found = values.get(key)
        if found:
            value = found
            if kind == "email" and b"@" not in value:
                continue
            record.values.append((key.decode(), kind, value))
    return record


# ----- generic NDJSON and CSV with a field mapping ---------------------------------------

DEFAULT_MAP = {
    "src_ip": "addr",
    "dst_ip": "addr",
    "dest_ip": "addr",
    "source_ip": "addr",
    "destination_ip": "addr",
    "client_ip": "addr",
    "server_ip": "addr",
    "ip": "addr",
    "domain": "domain",
    "query": "domain",
    "hostname": "host",
    "host": "host",
    "url": "url",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
    "email": "email",
    "sender": "email",
    "recipient": "email",
}
TIME_KEYS = ("ts", "timestamp", "time", "@timestamp", "date")
SRC_KEYS = ("src_ip", "source_ip", "client_ip", "src", "ip")
DST_KEYS = ("dst_ip", "dest_ip", "destination_ip", "server_ip", "dst")


def mapping_of(ctx: dict[str, object]) -> dict[str, str]:
    mapping = ctx.get("map")
    return dict(mapping) if isinstance(mapping, dict) else dict(DEFAULT_MAP)


def _first(getter: Callable[[str], object], keys: tuple[str, ...]) -> object:
    for key in keys:
        value = getter(key)
        if value not in (None, ""):
            return value
    return None


def _parse_ndjson(line: bytes, ctx: dict[str, object]) -> Record | None:
    if not line.strip():
        return None
    obj = _json(line)
    record = Record(
        _ts(_first(lambda k: _get(obj, k), TIME_KEYS)),
        _text(_first(lambda k: _get(obj, k), SRC_KEYS)),
        _text(_first(lambda k: _get(obj, k), DST_KEYS)),
    )
    for key, kind in mapping_of(ctx).items():
        record.values.extend((key, kind, raw) for raw in _strings(_get(obj, key)))
    return record


def _parse_csv(line: bytes, ctx: dict[str, object]) -> Record | None:
    if not line.strip():
        return None
    try:
        cells = next(csv.reader([line.decode("utf-8", "surrogateescape").rstrip("\r")]))
    except (csv.Error, StopIteration) as exc:
        raise BadLine(f"not CSV: {exc}") from None
    columns = ctx.get("columns")
    if not isinstance(columns, list):
        ctx["columns"] = [c.strip() for c in cells]
        return None
    if cells == columns:
        return None  # a repeated header (concatenated files)
    if len(cells) != len(columns):
        raise BadLine(f"{len(cells)} cells, the header has {len(columns)}")
    row = dict(zip(columns, cells, strict=True))
    record = Record(
        _ts(_first(row.get, TIME_KEYS)),
        _text(_first(row.get, SRC_KEYS)),
        _text(_first(row.get, DST_KEYS)),
    )
    for key, kind in mapping_of(ctx).items():
        value = row.get(key)
        if value:
            record.values.append((key, kind, value.encode("utf-8", "surrogateescape")))
    return record


def _build() -> dict[str, Format]:
    formats: list[Format] = []
    for log in ZEEK_FIELDS:
        formats.append(_zeek_json(log))
        formats.append(_zeek_tsv(log))
    formats += [
        Format(
            "suricata-eve",
            "Suricata EVE JSON (dns, http, tls, flow, alert, fileinfo)",
            "json",
            _parse_eve,
        ),
        Format("squid", "Squid native access.log", "text", _parse_squid),
        Format("bind-query", "BIND 9 query log", "text", _parse_bind),
        Format("cef", "ArcSight CEF, bare or inside syslog", "text", _parse_cef),
        Format("ndjson", "Any NDJSON; fields chosen with --map KEY=KIND", "json", _parse_ndjson),
        Format(
            "csv", "CSV with a header row; fields chosen with --map COLUMN=KIND", "csv", _parse_csv
        ),
    ]
    return {f.name: f for f in formats}


FORMATS = _build()


def ndjson_format(mapping: dict[str, str]) -> Format:
    """NDJSON with a mapping gets a fast path like Zeek's (one pass per mapped key)."""
    fields = tuple(mapping.items())
    base = FORMATS["ndjson"]
    return Format(
        base.name,
        base.description,
        "json",
        base.parse,
        json_passes(fields, frozenset(k for k, _ in fields)),
        fields,
    )


# The columns of each log beyond ts/uid/id.* (Zeek 4-6 defaults), by log. Zeek's JSON
# omits unset fields, so a log is told by how many of its columns the first lines carry,
# never by one field: `version` is in ssl.log and in http.log, `proto` in conn.log and
# dns.log, `uid` in nearly all.
_ZEEK_MARKERS: dict[str, frozenset[str]] = {
    "conn": frozenset(
        {
            "proto", "service", "duration", "orig_bytes", "resp_bytes", "conn_state",
            "local_orig", "local_resp", "missed_bytes", "history", "orig_pkts",
            "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents", "community_id",
        }
    ),
    "dns": frozenset(
        {
            "proto", "trans_id", "rtt", "query", "qclass", "qclass_name", "qtype", "qtype_name",
            "rcode", "rcode_name", "AA", "TC", "RD", "RA", "Z", "answers", "TTLs", "rejected",
        }
    ),
    "http": frozenset(
        {
            "trans_depth", "method", "host", "uri", "referrer", "version", "user_agent",
            "origin", "request_body_len", "response_body_len", "status_code", "status_msg",
            "info_code", "info_msg",
            "orig_fuids", "orig_mime_types", "resp_fuids", "resp_mime_types", "proxied",
        }
    ),
    "ssl": frozenset(
        {
            "version", "cipher", "curve", "server_name", "resumed", "last_alert",
            "next_protocol", "subject", "issuer", "client_subject", "client_issuer",
            "established", "ssl_history", "cert_chain_fps", "client_cert_chain_fps",
            "cert_chain_fuids", "client_cert_chain_fuids", "validation_status",
            "sni_matches_cert", "ja3", "ja3s",
        }
    ),
    "files": frozenset(
        {
            "fuid", "tx_hosts", "rx_hosts", "conn_uids", "source", "depth", "analyzers",
            "mime_type", "filename", "is_orig", "seen_bytes", "total_bytes", "missing_bytes",
            "overflow_bytes", "timedout", "parent_fuid", "md5", "sha1", "sha256", "extracted",
        }
    ),
    "smtp": frozenset(
        {
            "trans_depth", "helo", "mailfrom", "rcptto", "date", "from", "to", "cc",
            "reply_to", "msg_id", "in_reply_to", "subject", "x_originating_ip",
            "first_received", "second_received", "last_reply", "path", "user_agent", "tls",
            "fuids", "is_webmail",
        }
    ),
}  # fmt: skip
# Fewer than this many of the best log's columns, or two logs equally likely: some other
# Zeek log (x509, weird, ntp, ...), read as generic NDJSON rather than as the wrong log.
_ZEEK_MIN_MARKERS = 2
# Suricata's EVE envelope: every record has event_type and timestamp, almost every one
# the flow's addresses; the record's own section is named by its event_type.
_EVE_ENVELOPE = frozenset(
    {"timestamp", "flow_id", "in_iface", "src_ip", "dest_ip", "src_port", "dest_port",
     "proto", "app_proto", "pcap_cnt", "pcap_filename", "tx_id", "community_id", "vlan",
     "ether", "ip_v", "pkt_src", "icmp_type", "icmp_code", "tunnel", "verdict", "capture",
     "tx_guessed", "payload_printable", "stream", "packet_info"}
)  # fmt: skip


def _json_objects(lines: list[bytes]) -> list[dict[str, object]] | None:
    found = []
    for line in lines:
        if not line.lstrip().startswith(b"{"):
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            found.append(obj)
    return found or None


def _json_format(objects: list[dict[str, object]]) -> str:
    if isinstance(objects[0].get("event_type"), str) and any(
        isinstance(obj.get("event_type"), str)
        and (obj["event_type"] in obj or not _EVE_ENVELOPE.isdisjoint(obj))
        for obj in objects
    ):
        return "suricata-eve"
    keys: set[str] = set()
    for obj in objects:
        keys.update(obj)
    if "uid" in keys or "id.orig_h" in keys or "fuid" in keys:
        scores = sorted(
            ((len(markers & keys), log) for log, markers in _ZEEK_MARKERS.items()), reverse=True
        )
        (best, log), (second, _other) = scores[0], scores[1]
        if best >= _ZEEK_MIN_MARKERS and best > second:
            return f"zeek-{log}-json"
    return "ndjson"


def detect_format(sample: bytes) -> str | None:
    """Guess the format from the first lines of a log; None when nothing fits."""
    lines = [line for line in sample.split(b"\n")[:20] if line.strip()]
    if not lines:
        return None
    first = lines[0]
    if (
        first.startswith(b"#separator")
        or first.startswith(b"#path")
        or first.startswith(b"#fields")
    ):
        for line in lines:
            if line.startswith(b"#path\t"):
                log = line.split(b"\t", 1)[1].strip().decode("utf-8", "replace")
                return f"zeek-{log}-tsv" if log in ZEEK_FIELDS else None
        return None
    if first.lstrip().startswith(b"{"):
        objects = _json_objects(lines)
        return _json_format(objects) if objects else "ndjson"
    if b"CEF:" in first:
        return "cef"
    if b" query: " in first and b"client " in first:
        return "bind-query"
    if _SQUID.fullmatch(first.rstrip(b"\r")):
        return "squid"
    if b"," in first:
        return "csv"
    return None
