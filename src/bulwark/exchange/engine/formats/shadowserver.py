"""Shadowserver report CSVs (https://www.shadowserver.org/what-we-do/network-reporting/).

The report type comes from the file name (`2026-11-20-scan_ntp-taiwan-geo.csv`, the
names Shadowserver sends) or, failing that, from the header's columns.
"""

import re
from collections.abc import Iterator

from bulwark.exchange.engine.formats.base import Context, Item, Readable, ReportError, csv_rows

# report type -> (classification.type, classification.identifier); "{x}" = the report's
# own name without "scan_" (scan_ntp -> ntp).
REPORT_TYPES: dict[str, tuple[str, str]] = {
    "event4_sinkhole": ("infected-system", "{infection}"),
    "event6_sinkhole": ("infected-system", "{infection}"),
    "botnet_drone": ("infected-system", "{infection}"),
    "sinkhole_http_drone": ("infected-system", "{infection}"),
    "event4_sinkhole_http": ("infected-system", "{infection}"),
    "compromised_website": ("system-compromise", "compromised-website"),
    "event4_honeypot_brute_force": ("brute-force", "brute-force"),
    "honeypot_brute_force": ("brute-force", "brute-force"),
    "event4_honeypot_darknet": ("scanner", "darknet"),
    "event4_ip_spoofer": ("masquerade", "ip-spoofer"),
    "blocklist": ("other", "blocklist"),
    "scan_ntp": ("ddos-amplifier", "ntp"),
    "scan_ntpmonitor": ("ddos-amplifier", "ntp-monitor"),
    "scan_ssdp": ("ddos-amplifier", "ssdp"),
    "scan_dns": ("ddos-amplifier", "open-dns"),
    "scan_chargen": ("ddos-amplifier", "chargen"),
    "scan_memcached": ("ddos-amplifier", "memcached"),
    "scan_snmp": ("ddos-amplifier", "snmp"),
    "scan_rdp": ("potentially-unwanted-accessible", "rdp"),
    "scan_telnet": ("potentially-unwanted-accessible", "telnet"),
    "scan_smb": ("potentially-unwanted-accessible", "smb"),
    "scan_vnc": ("potentially-unwanted-accessible", "vnc"),
    "scan_elasticsearch": ("potentially-unwanted-accessible", "elasticsearch"),
    "scan_ssl_poodle": ("weak-crypto", "ssl-poodle"),
    "scan_ssl_freak": ("weak-crypto", "ssl-freak"),
    "scan_http_vulnerable": ("vulnerable-system", "{tag}"),
    "scan_exchange": ("vulnerable-system", "{tag}"),
}
# Column -> IntelMQ field. Scan reports name the host `ip`; event reports `src_ip`.
COLUMNS = {
    "timestamp": "time.source",
    "ip": "source.ip",
    "src_ip": "source.ip",
    "port": "source.port",
    "src_port": "source.port",
    "hostname": "source.reverse_dns",
    "src_hostname": "source.reverse_dns",
    "asn": "source.asn",
    "src_asn": "source.asn",
    "geo": "source.geolocation.cc",
    "src_geo": "source.geolocation.cc",
    "region": "source.geolocation.region",
    "src_region": "source.geolocation.region",
    "city": "source.geolocation.city",
    "src_city": "source.geolocation.city",
    "dst_ip": "destination.ip",
    "dst_port": "destination.port",
    "dst_asn": "destination.asn",
    "dst_geo": "destination.geolocation.cc",
    "protocol": "protocol.transport",
    "infection": "malware.name",
    "url": "source.url",
    "http_host": "source.fqdn",
    "application": "protocol.application",
}
_NAME = re.compile(r"(?:^|[-_/\\])\d{4}-\d{2}-\d{2}-([a-z0-9_]+?)-[a-z0-9_-]*\.csv$", re.I)
_SIGNATURES = [  # header columns that tell a report type apart, most specific first
    ({"infection", "src_ip", "dst_ip"}, "event4_sinkhole"),
    ({"infection", "ip"}, "botnet_drone"),
    ({"http_host", "url", "tag"}, "compromised_website"),
    ({"username", "password", "src_ip"}, "event4_honeypot_brute_force"),
    ({"version", "clock", "stratum"}, "scan_ntp"),
    ({"server", "nts", "location"}, "scan_ssdp"),
    ({"min_amplification", "dns_version"}, "scan_dns"),
    ({"rdp_protocol"}, "scan_rdp"),
    ({"smb_major_number"}, "scan_smb"),
]


def report_type(file_name: str, header: list[str]) -> str:
    match = _NAME.search(file_name)
    if match and match.group(1).lower() in REPORT_TYPES:
        return match.group(1).lower()
    columns = {c.strip().lower() for c in header}
    for signature, name in _SIGNATURES:
        if signature <= columns:
            return name
    if match and match.group(1).lower().startswith("scan_"):
        return match.group(1).lower()
    raise ReportError(
        "Cannot tell which Shadowserver report this is: keep Shadowserver's file name "
        "(YYYY-MM-DD-<report>-<region>.csv, e.g. 2026-11-20-scan_ntp-taiwan-geo.csv)."
    )


def looks_like(file_name: str, head: bytes) -> bool:
    first = head.split(b"\n", 1)[0].lower()
    return bool(_NAME.search(file_name)) or (
        first.startswith((b'"timestamp"', b"timestamp,"))
        and (b",ip," in first or b"src_ip" in first)
    )


def parse(stream: Readable, ctx: Context) -> Iterator[Item]:
    rows = csv_rows(stream)
    header: list[str] | None = None
    for number, row, raw, error in rows:
        if error:
            if header is None and row is None and number == 1:
                raise ReportError(f"The header line is unreadable: {error}.")
            yield Item(number, raw, error=error)
            continue
        assert row is not None
        if header is None:
            header = [c.strip().lower() for c in row]
            if "timestamp" not in header:
                raise ReportError("This is not a Shadowserver report: no 'timestamp' column.")
            break
    if header is None:
        raise ReportError("The report is empty (no header line).")
    kind = ctx.report_type or report_type(ctx.file_name, header)
    ctx.report_type = kind
    ctx.provider = ctx.provider or "Shadowserver"
    ctype, identifier = REPORT_TYPES.get(kind, ("vulnerable-system", kind.removeprefix("scan_")))
    mapped = [(i, COLUMNS.get(c) or f"extra.{c}") for i, c in enumerate(header) if c]
    width = len(header)
    feed = ctx.feed or f"shadowserver-{kind}"
    needs_tag = "{" in identifier
    for number, row, raw, error in rows:
        if error:
            yield Item(number, raw, error=error)
            continue
        assert row is not None
        if len(row) != width:
            yield Item(number, raw, error=f"{len(row)} columns, the header has {width}")
            continue
        fields = {name: row[i] for i, name in mapped if row[i]}
        fields["classification.type"] = ctype
        if needs_tag:
            key = identifier.strip("{}")
            found = fields.get("malware.name" if key == "infection" else f"extra.{key}", "")
            fields["classification.identifier"] = str(found).lower() or kind
        else:
            fields["classification.identifier"] = identifier
        fields["feed.name"] = feed
        fields["feed.provider"] = ctx.provider
        yield Item(number, raw, fields)
