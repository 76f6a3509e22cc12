"""Observable values: kinds, normalisation and the keys used for correlation.

Pure module (no Django import). A value is stored once per (kind, normalised text); the
incidents app normalises its indicators with the same rules (`incidents/indicators.py`),
so values correlate across both apps by plain equality.
"""

import ipaddress
import re

from bulwark.incidents.indicators import InvalidIndicator
from bulwark.incidents.indicators import normalise as normalise_incident_value

KINDS = ("ipv4", "ipv6", "cidr", "domain", "url", "md5", "sha1", "sha256", "email", "asn")
ADDRESS_KINDS = ("ipv4", "ipv6")
HASH_KINDS = ("md5", "sha1", "sha256")
_HEX = re.compile(r"\A[0-9a-fA-F]+\Z")
_HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}
MAX_LENGTH = 2048

__all__ = ["KINDS", "InvalidIndicator", "containing_prefixes", "detect", "net_key", "normalise"]


def detect(value: str) -> str:
    """The kind of a bare value (plain lists, CSV rows without a type column)."""
    text = value.strip()
    if not text:
        raise InvalidIndicator("empty value")
    if len(text) > MAX_LENGTH:
        raise InvalidIndicator(f"longer than {MAX_LENGTH} characters")
    try:
        return "ipv4" if ipaddress.ip_address(text).version == 4 else "ipv6"
    except ValueError:
        pass
    if "/" in text and "://" not in text:
        try:
            ipaddress.ip_network(text, strict=False)
            return "cidr"
        except ValueError:
            pass
    if re.fullmatch(r"(?i)AS\d{1,10}", text):
        return "asn"
    if len(text) in _HASH_LENGTHS and _HEX.match(text):
        return _HASH_LENGTHS[len(text)]
    if "://" in text:
        return "url"
    if "@" in text:
        return "email"
    return "domain"


# Lower-case letters, digits and hyphens, no "--" (which IDNA checks), a letter TLD: the
# IDNA A-label of such a name is the name itself, so the IDNA library is skipped for it.
_PLAIN_DOMAIN = re.compile(
    r"\A(?=.{1,253}\Z)(?:(?!-)(?:(?!--)[a-z0-9-]){1,63}(?<!-)\.)+[a-z]{2,63}\Z"
)
_PLAIN_URL = re.compile(r"\A(https?|ftp)://([a-z0-9.-]+)(/[\x21-\x7e]*)?\Z")
_PLAIN_IPV4 = re.compile(
    r"\A(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\Z"
)


def plain_domain(text: str) -> str | None:
    lowered = text.lower()
    return lowered if _PLAIN_DOMAIN.match(lowered) else None


def _fast(kind: str, text: str) -> str | None:
    """The canonical text of common, plain values without the general parsers (which give
    the same result on them; tests/test_observables.py compares both)."""
    if kind == "ipv4":
        return text if _PLAIN_IPV4.match(text) else None
    if kind == "domain":
        return plain_domain(text)
    if kind in HASH_KINDS:
        return text.lower() if len(text) == _HASH_SIZES[kind] and _HEX.match(text) else None
    if kind == "url":
        match = _PLAIN_URL.match(text)
        if match is None or "#" in text or "?" in text:
            return None
        host = plain_domain(match.group(2))
        if host is None or host != match.group(2):
            return None
        return f"{match.group(1)}://{host}{match.group(3) or '/'}"
    return None


_HASH_SIZES = {"md5": 32, "sha1": 40, "sha256": 64}


def normalise(kind: str, value: str) -> tuple[str, str]:
    """(kind, canonical text). A /32 or /128 prefix becomes the address it names."""
    text = value.strip()
    fast = _fast(kind, text)
    if fast is not None:
        return kind, fast
    if kind == "cidr":
        if len(text) > 64:
            raise InvalidIndicator("too long to be an IP prefix")
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidIndicator(f"{text!r} is not an IP prefix") from None
        if net.prefixlen == net.max_prefixlen:
            return ("ipv4" if net.version == 4 else "ipv6", str(net.network_address))
        return "cidr", str(net)
    if kind == "asn":
        digits = text.upper().removeprefix("AS").strip()
        if not digits.isdigit() or len(digits) > 10 or int(digits) > 4294967295:
            raise InvalidIndicator(f"{text!r} is not an AS number")
        return "asn", str(int(digits))
    if kind in ADDRESS_KINDS and "/" in text:
        return normalise("cidr", text)
    if kind not in KINDS:
        raise InvalidIndicator(f"unknown value type {kind!r}")
    return kind, normalise_incident_value(kind, text)


def net_key(kind: str, value: str) -> str | None:
    """Sortable text key of an address or of a prefix's first address ("4:" + hex), so that
    the addresses inside a prefix are one index range."""
    if kind == "ipv4" and _PLAIN_IPV4.match(value):
        a, b, c, d = value.split(".")
        return f"4:{int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d):08x}"
    if kind in ADDRESS_KINDS:
        ip = ipaddress.ip_address(value)
        return _key(ip.version, int(ip))
    if kind == "cidr":
        net = ipaddress.ip_network(value)
        return _key(net.version, int(net.network_address))
    return None


def net_range(value: str) -> tuple[str, str]:
    """First and last key of a prefix (inclusive)."""
    net = ipaddress.ip_network(value)
    return (
        _key(net.version, int(net.network_address)),
        _key(net.version, int(net.broadcast_address)),
    )


def _key(version: int, number: int) -> str:
    return f"4:{number:08x}" if version == 4 else f"6:{number:032x}"


def containing_prefixes(kind: str, value: str) -> list[str]:
    """Every prefix that contains an address or prefix, broadest first, as stored text.

    Correlation looks these up by equality (33 or 129 index probes at most) instead of
    keeping a table of pairs."""
    if kind in ADDRESS_KINDS or kind == "cidr":
        net = ipaddress.ip_network(value)
    else:
        return []
    top = net.prefixlen if kind == "cidr" else net.max_prefixlen
    return [str(net.supernet(new_prefix=length)) for length in range(0, top)]
