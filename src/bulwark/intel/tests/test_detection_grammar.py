"""Detection exports checked with the grammar of the tools that load them: Suricata rules
through suricata-update's rule parser (Suricata itself has no package on this system)
plus what the rules fire on, the Zeek intel file against the intel framework's format
(and zat's real intel file), the RPZ zone through dnspython's zone parser."""

import ipaddress
import json
import pathlib
import re
from typing import Any

import dns.name
import dns.rdatatype
import dns.zone
import pytest
import stix2  # type: ignore[import-untyped]
from stix2validator import ValidationOptions, validate_string  # type: ignore[import-untyped]
from suricata.update import rule as suricata_rule  # type: ignore[import-untyped]

from bulwark.intel import exports

ROWS = [
    ("ipv4", "198.51.100.7", "indicator--a", 80.0),
    ("ipv6", "2001:db8::7", "indicator--b", 70.0),
    ("cidr", "203.0.113.0/24", "indicator--c", 60.0),
    ("cidr", "2001:db8:ff::/48", "indicator--d", 60.0),
    ("domain", "evil.com", "indicator--e", 90.0),
    ("domain", "xn--bcher-kva.example", "indicator--f", 50.0),
    ("url", "http://bad.example:8080/dl/x.exe?a=1", "indicator--g", 40.0),
    ("url", "https://[2001:db8::9]/p", "indicator--h", 40.0),
    ("md5", "d" * 32, "indicator--i", 30.0),
    ("sha256", "e" * 64, "indicator--j", 30.0),
    ("email", "phish@evil.com", "indicator--k", 30.0),
]
HOME_NET = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:1::/48")]
ZAT_INTEL = pathlib.Path(__file__).parents[2] / "monitoring/tests/corpus/zat/intel_example.intel"


def _rules(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    parsed = [suricata_rule.parse(line) for line in lines]
    assert all(r is not None for r in parsed), [
        ln for ln, r in zip(lines, parsed, strict=True) if r is None
    ]
    return parsed


def _addresses(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """None: any. Our rules use `any`, `$HOME_NET` or `[one address or prefix]`."""
    if spec == "any":
        return None
    if spec == "$HOME_NET":
        return HOME_NET
    return [ipaddress.ip_network(spec.strip("[]"))]


def _inside(ip: str, nets: list | None) -> bool:
    return nets is None or any(ipaddress.ip_address(ip) in n for n in nets)


def fires_on_packet(rule: dict, src: str, dst: str) -> bool:
    """What Suricata's header matching decides for an IP rule (`->` one way, `<>` both)."""
    a, b = _addresses(rule["source_addr"]), _addresses(rule["dest_addr"])
    forward = _inside(src, a) and _inside(dst, b)
    return forward or (rule["direction"] == "<>" and _inside(dst, a) and _inside(src, b))


def options(rule: dict) -> list[tuple[str, str | None]]:
    """The rule's options in order (suricata-update's dict keeps one value per name), split
    with suricata-update's own option splitter."""
    text = rule["raw"][rule["raw"].index("(") + 1 : rule["raw"].rindex(")")].strip()
    found: list[tuple[str, str | None]] = []
    while text:
        end = suricata_rule.find_opt_end(text)
        option, text = text[:end].strip(), text[end + 1 :].strip()
        name, sep, value = option.partition(":")
        found.append((name.strip(), value.strip() if sep else None))
    return found


def fires_on_buffer(rule: dict, buffers: dict[str, str]) -> bool:
    """Content matching of the sticky buffers our rules use, with Suricata's semantics of
    dotprefix (prepend "."), nocase, startswith (at 0) and endswith (at the end)."""
    buffer: str | None = None
    pending: tuple[str, set[str]] | None = None
    results: list[bool] = []

    def close() -> None:
        if pending is not None and buffer is not None:
            needle, mods = pending
            hay = buffer.lower() if "nocase" in mods else buffer
            needle = needle.lower() if "nocase" in mods else needle
            if "startswith" in mods and "endswith" in mods:
                results.append(hay == needle)
            elif "startswith" in mods:
                results.append(hay.startswith(needle))
            elif "endswith" in mods:
                results.append(hay.endswith(needle))
            else:
                results.append(needle in hay)

    for name, value in options(rule):
        if name in ("dns.query", "http.host", "http.uri"):
            close()
            pending, buffer = None, buffers.get(name)
        elif name == "dotprefix" and buffer is not None:
            buffer = "." + buffer
        elif name == "content":
            close()
            text = re.sub(r"\|([0-9a-f]{2})\|", lambda m: chr(int(m.group(1), 16)), value or "")
            pending = (text.strip('"'), set())
        elif name in ("nocase", "startswith", "endswith") and pending is not None:
            pending[1].add(name)
    close()
    return bool(results) and all(results)


def test_suricata_rules_parse_and_fire_both_ways_on_label_boundaries() -> None:
    rules = _rules(exports.suricata(ROWS))
    assert len(rules) == 8  # 4 addresses/prefixes, 2 domains, 2 URLs
    sids = [r["sid"] for r in rules]
    assert len(set(sids)) == len(sids) and all(r["rev"] == 1 for r in rules)
    by_msg = {r["msg"].split()[3]: r for r in rules}

    ip = by_msg["indicator--a"]
    assert ip["proto"] == "ip"
    assert fires_on_packet(ip, "198.51.100.7", "10.1.2.3")  # it sends to us
    assert fires_on_packet(ip, "10.1.2.3", "198.51.100.7")  # we connect to it
    assert not fires_on_packet(ip, "10.1.2.3", "198.51.100.8")
    six = by_msg["indicator--b"]
    assert fires_on_packet(six, "2001:db8:1::5", "2001:db8::7")
    assert fires_on_packet(six, "2001:db8::7", "2001:db8:1::5")
    net = by_msg["indicator--c"]
    assert fires_on_packet(net, "10.9.9.9", "203.0.113.200")
    assert fires_on_packet(net, "203.0.113.1", "10.9.9.9")

    domain = by_msg["indicator--e"]
    assert domain["proto"] == "dns"
    for query, fires in [
        ("evil.com", True),
        ("www.evil.com", True),
        ("a.b.EVIL.com", True),
        ("notevil.com", False),  # the case: same suffix, no label boundary
        ("evil.com.attacker.net", False),
        ("evil.co", False),
    ]:
        assert fires_on_buffer(domain, {"dns.query": query}) is fires, query

    url = by_msg["indicator--g"]
    assert fires_on_buffer(url, {"http.host": "bad.example", "http.uri": "/dl/x.exe?a=1"})
    assert not fires_on_buffer(url, {"http.host": "notbad.example", "http.uri": "/dl/x.exe?a=1"})
    assert not fires_on_buffer(url, {"http.host": "bad.example.net", "http.uri": "/dl/x.exe?a=1"})
    assert not fires_on_buffer(url, {"http.host": "bad.example", "http.uri": "/other"})
    v6url = by_msg["indicator--h"]
    assert fires_on_buffer(v6url, {"http.host": "[2001:db8::9]", "http.uri": "/p"})


def test_snort_rules_parse_and_fire_both_ways() -> None:
    rules = _rules(exports.snort(ROWS))
    assert len(rules) == 4
    for rule in rules:
        assert rule["direction"] == "<>"
    first = next(r for r in rules if "198.51.100.7" in r["source_addr"])
    assert fires_on_packet(first, "10.0.0.1", "198.51.100.7")
    assert fires_on_packet(first, "198.51.100.7", "10.0.0.1")


ZEEK_TYPES = {  # Intel::Type in Zeek's base/frameworks/intel/main.zeek
    "Intel::ADDR", "Intel::SUBNET", "Intel::URL", "Intel::SOFTWARE", "Intel::EMAIL",
    "Intel::DOMAIN", "Intel::USER_NAME", "Intel::CERT_HASH", "Intel::PUBKEY_HASH",
    "Intel::FILE_HASH", "Intel::FILE_NAME",
}  # fmt: skip


def test_zeek_intel_file_follows_the_intel_framework_format() -> None:
    text = exports.zeek(ROWS)
    lines = text.splitlines()
    header = lines[0].split("\t")
    # The input framework reads a "#fields" line naming indicator, indicator_type and
    # meta.* columns, as in zat's real intel file.
    real = ZAT_INTEL.read_text().splitlines()[0].split("\t")
    assert header[:4] == real[:4] == ["#fields", "indicator", "indicator_type", "meta.source"]
    assert all(name.startswith("meta.") for name in header[3:])
    assert len(lines) == 1 + len(ROWS)
    for line in lines[1:]:
        cells = line.split("\t")
        assert len(cells) == len(header) - 1 and all(cells), line
        indicator, kind = cells[0], cells[1]
        assert kind in ZEEK_TYPES and not any(c.isspace() for c in indicator)
        if kind == "Intel::ADDR":
            ipaddress.ip_address(indicator)
        elif kind == "Intel::SUBNET":
            ipaddress.ip_network(indicator)
        elif kind == "Intel::URL":  # Zeek sees URLs without the scheme
            assert "://" not in indicator
    # zat's real file reads with the same rules.
    for line in ZAT_INTEL.read_text().splitlines()[1:]:
        cells = line.split("\t")
        assert len(cells) == len(real) - 1 and cells[1] in ZEEK_TYPES


@pytest.mark.parametrize("origin", ["rpz.bulwark.example.", "rpz."])
def test_rpz_zone_parses_and_names_what_it_should(origin: str) -> None:
    zone = dns.zone.from_text(exports.rpz(ROWS), origin=origin, relativize=True)
    zone.check_origin()  # SOA and NS at the apex
    names = {str(name): node for name, node in zone.nodes.items()}
    expected = {
        "evil.com", "*.evil.com", "xn--bcher-kva.example", "*.xn--bcher-kva.example",
        "32.7.100.51.198.rpz-ip", "24.0.113.0.203.rpz-ip",
        "128.7.zz.db8.2001.rpz-ip", "48.zz.ff.db8.2001.rpz-ip",
    }  # fmt: skip
    assert set(names) - {"@"} == expected
    for name in expected:
        (rdataset,) = names[name].rdatasets
        assert rdataset.rdtype == dns.rdatatype.CNAME
        assert rdataset[0].target == dns.name.root  # CNAME . : NXDOMAIN
    assert "notevil.com" not in names


def test_an_empty_stix_export_is_a_bundle_the_library_and_the_validator_accept(
    client: Any, db: Any
) -> None:
    body = client.get("/intel/exports/stix/").content.decode()  # anonymous: nothing public
    bundle = json.loads(body)
    assert "objects" not in bundle and bundle["type"] == "bundle"
    stix2.parse(body, allow_custom=False, version="2.1")
    result = validate_string(body, ValidationOptions(version="2.1"))
    assert result.is_valid, [e.message for e in result.errors]
    one = exports.stix_bundle("bundle--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12, ["{}"])
    assert json.loads(one)["objects"] == [{}]
