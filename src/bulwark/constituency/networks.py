"""Network claims: parsing, normalising, most-specific resolution and overlap detection.

Pure module (no Django import): the report router and the monitoring engine use the same
rules. A claim is an IPv4/IPv6 prefix, an AS number, or a domain (which covers its
sub-domains on label boundaries).
"""

import ipaddress
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Literal

from bulwark.core import observables

ClaimKind = Literal["cidr", "asn", "domain"]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# 0 and 65535/4294967295 are reserved (RFC 7607, RFC 7300); 23456 is AS_TRANS (RFC 6793).
RESERVED_ASNS = frozenset({0, 23456, 65535, 4294967295})


class InvalidClaim(ValueError):
    """The value cannot be a network claim; the message says why, for the user."""


def parse_cidr(text: str) -> IPNetwork:
    value = text.strip()
    if not value:
        raise InvalidClaim("Enter an IPv4 or IPv6 prefix such as 192.0.2.0/24.")
    if len(value) > 64:
        raise InvalidClaim("Too long to be an IP prefix.")
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            fixed = ipaddress.ip_network(value, strict=False)
            raise InvalidClaim(f"{value} has host bits set; did you mean {fixed}?") from None
        raise InvalidClaim(f"{value!r} is not a valid IPv4 or IPv6 prefix.") from None


def parse_asn(text: str | int) -> int:
    value = str(text).strip().upper().removeprefix("AS").strip()
    if not value.isdigit() or len(value) > 10:
        raise InvalidClaim(f"{text!r} is not an AS number (expected e.g. AS3462 or 3462).")
    number = int(value)
    if number > 4294967295:
        raise InvalidClaim(f"AS{number} is outside the 32-bit AS number range.")
    if number in RESERVED_ASNS:
        raise InvalidClaim(f"AS{number} is reserved and cannot be claimed.")
    return number


def parse_domain(text: str) -> str:
    """Lower-case, IDNA (A-label) form without a trailing dot: the observables' rule
    (`core/observables.py`), so a claim and an indicator of one name are equal."""
    value = text.strip().rstrip(".")
    if value.startswith("*."):
        raise InvalidClaim(
            f"Claim {value[2:]} instead of {value}: a domain claim covers its sub-domains."
        )
    try:
        return observables.domain_name(value)
    except observables.InvalidIndicator as exc:
        raise InvalidClaim(str(exc)) from None


def normalise(kind: str, value: str) -> str:
    """The canonical text of a claim, as stored."""
    if kind == "cidr":
        return str(parse_cidr(value))
    if kind == "asn":
        return str(parse_asn(value))
    if kind == "domain":
        return parse_domain(value)
    raise InvalidClaim(f"Unknown claim kind {kind!r}: use cidr, asn or domain.")


@dataclass(frozen=True)
class Claim:
    kind: str
    value: str  # normalised
    owner: Hashable


@dataclass(frozen=True)
class Overlap:
    broader: Claim
    narrower: Claim

    @property
    def duplicate(self) -> bool:
        return self.broader.value == self.narrower.value


def domain_suffixes(name: str) -> list[str]:
    """`a.b.example.tw` -> [`a.b.example.tw`, `b.example.tw`, `example.tw`, `tw`]."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def covering_values(kind: str, query: str) -> list[str]:
    """The stored (normalised) values of every claim that could cover the query: each prefix
    that contains the address (33 for IPv4, 129 for IPv6), each suffix of the domain on
    label boundaries, or the AS number itself. A resolver reads only these rows instead of
    every claim; `NetworkIndex` then picks the most specific. Raises ValueError (with a
    message for the user) when the query is not an address, domain or AS number."""
    if kind == "cidr":
        ip = ipaddress.ip_address(query.strip())
        bits, as_int = ip.max_prefixlen, int(ip)  # int() drops an IPv6 zone (%eth0)
        network = ipaddress.IPv4Network if ip.version == 4 else ipaddress.IPv6Network
        return [
            str(network((as_int >> (bits - length) << (bits - length), length)))
            for length in range(bits + 1)
        ]
    if kind == "domain":
        return domain_suffixes(parse_domain(query))
    if kind == "asn":
        return [str(parse_asn(query))]
    raise InvalidClaim(f"Unknown claim kind {kind!r}: use cidr, asn or domain.")


class NetworkIndex:
    """Resolves an address, AS number or domain to the most specific claim's owner."""

    def __init__(self, claims: Iterable[Claim]) -> None:
        self._prefixes: dict[tuple[int, int, int], list[Claim]] = {}
        self._lengths: dict[int, set[int]] = {4: set(), 6: set()}
        self._asns: dict[int, list[Claim]] = {}
        self._domains: dict[str, list[Claim]] = {}
        for claim in claims:
            if claim.kind == "cidr":
                net = ipaddress.ip_network(claim.value)
                key = (net.version, int(net.network_address), net.prefixlen)
                self._prefixes.setdefault(key, []).append(claim)
                self._lengths[net.version].add(net.prefixlen)
            elif claim.kind == "asn":
                self._asns.setdefault(int(claim.value), []).append(claim)
            elif claim.kind == "domain":
                self._domains.setdefault(claim.value, []).append(claim)
        self._sorted_lengths = {v: sorted(ls, reverse=True) for v, ls in self._lengths.items()}

    def for_ip(self, address: str) -> list[Claim]:
        """Claims of the most specific prefix containing the address (several on a tie)."""
        ip = ipaddress.ip_address(address.strip())
        bits = 32 if ip.version == 4 else 128
        as_int = int(ip)
        for length in self._sorted_lengths[ip.version]:
            network_int = as_int >> (bits - length) << (bits - length) if length else 0
            found = self._prefixes.get((ip.version, network_int, length))
            if found:
                return found
        return []

    def for_asn(self, asn: int | str) -> list[Claim]:
        return self._asns.get(parse_asn(asn), [])

    def for_domain(self, name: str) -> list[Claim]:
        """Claims of the longest claimed suffix of the name, on label boundaries."""
        for suffix in domain_suffixes(parse_domain(name)):
            found = self._domains.get(suffix)
            if found:
                return found
        return []


def find_overlaps(claims: Iterable[Claim]) -> list[Overlap]:
    """Pairs of claims by different owners where one covers the other (or both are equal)."""
    networks: list[tuple[IPNetwork, Claim]] = []
    domains: dict[str, list[Claim]] = {}
    asns: dict[str, list[Claim]] = {}
    for claim in claims:
        if claim.kind == "cidr":
            networks.append((ipaddress.ip_network(claim.value), claim))
        elif claim.kind == "domain":
            domains.setdefault(claim.value, []).append(claim)
        elif claim.kind == "asn":
            asns.setdefault(claim.value, []).append(claim)

    overlaps: list[Overlap] = []
    # Sweep prefixes in address order, broader first; `open_` holds the prefixes that
    # contain the current one (a stack per IP version).
    networks.sort(
        key=lambda item: (item[0].version, int(item[0].network_address), item[0].prefixlen)
    )
    open_: list[tuple[IPNetwork, Claim]] = []
    for net, claim in networks:
        while open_ and not (
            open_[-1][0].version == net.version and net.subnet_of(open_[-1][0])  # type: ignore[arg-type]
        ):
            open_.pop()
        overlaps.extend(Overlap(c, claim) for _n, c in open_ if c.owner != claim.owner)
        open_.append((net, claim))
    for name, owners in domains.items():
        for suffix in domain_suffixes(name)[1:]:
            overlaps.extend(
                Overlap(b, n) for b in domains.get(suffix, []) for n in owners if b.owner != n.owner
            )
    for group in [*domains.values(), *asns.values()]:
        overlaps.extend(
            Overlap(a, b) for i, a in enumerate(group) for b in group[i + 1 :] if a.owner != b.owner
        )
    return overlaps
