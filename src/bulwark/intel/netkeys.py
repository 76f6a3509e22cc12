"""Sortable keys of addresses and prefixes, so that correlation finds the addresses inside
a prefix and the prefixes around an address by index range or equality.

Pure module (no Django import). Values are in the canonical form of
`bulwark.core.observables`, which every app stores and matches.
"""

import ipaddress
import re

ADDRESS_KINDS = ("ipv4", "ipv6")
_PLAIN_IPV4 = re.compile(
    r"\A(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\Z"
)


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
