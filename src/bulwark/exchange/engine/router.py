"""The report router: which organisation an event goes to, compiled once, no queries.

Order of decision (docs/exchange.md, "Routing"):
1. An override rule that matches the event (network and, if set, classification type).
2. The most specific claim in the constituency, the same rules as
   `constituency.networks.NetworkIndex`: longest IPv4/IPv6 prefix, then AS number, then
   the longest domain suffix on label boundaries. Foreign CERTs' own claims take part, so
   a foreign CERT that claims a range receives its events ("abroad" by claim).
3. Abroad by country: the country of the address (country prefix table, then the AS
   country table, then the country the feed itself states) when it is not a home country
   and a foreign CERT is registered for it.
4. Otherwise unrouted: an analyst works the queue.
A suppression rule (recipient and/or type and/or network) then marks the event
suppressed: it is stored and searchable but never notified.
"""

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytricia  # type: ignore[import-not-found]

from bulwark.constituency.networks import Claim, domain_suffixes
from bulwark.exchange.engine.event import Event

VIA_CIDR = "cidr"
VIA_ASN = "asn"
VIA_DOMAIN = "domain"
VIA_COUNTRY = "country"
VIA_OVERRIDE = "override"
VIA_UNROUTED = "unrouted"


@dataclass(frozen=True)
class Rule:
    """An override (send matching events to `organisation`) or a suppression (do not
    notify matching events; `organisation` limits it to one recipient, None = any)."""

    action: str  # "override" | "suppress"
    organisation: int | None
    network_kind: str = ""  # "", "cidr", "asn" or "domain"
    network: str = ""
    classification_type: str = ""  # "" = every type
    rule_id: int = 0


class Route(NamedTuple):
    recipient: int | None
    via: str
    matched: str = ""  # the claim, rule or country that decided
    country: str = ""
    suppressed_by: int | None = None  # rule id

    @property
    def routed(self) -> bool:
        return self.recipient is not None


UNROUTED = Route(None, VIA_UNROUTED)
_SOURCE_KEYS = ("source.ip", "source.asn", "source.fqdn", "source.url")
# At most this many /24 blocks are expanded into the block table (about 100 bytes each).
BLOCK_BUDGET = 1 << 22
_SPLIT = Route(None, "split")  # a /24 holding a longer prefix: ask the tree


def _blocks(prefixes: Any, budget: int) -> tuple[dict[int, Route], bool]:
    """IPv4 claims as a table of /24 blocks -> route of the longest prefix of /24 or
    shorter covering the block; a block that also holds a longer prefix is _SPLIT. A
    dict lookup is one probe, where the tree walks up to 24 nodes scattered in memory (a
    third of the pipeline's routing time). Prefixes too wide for the budget are left out,
    widest first, so every block in the table is still right; `complete` says whether a
    block missing from the table is unclaimed."""
    by_length: list[tuple[int, int, Route]] = []
    longer: list[int] = []
    for prefix in prefixes:
        if ":" in prefix:
            continue
        network, _, length_text = prefix.partition("/")
        length = int(length_text)
        start = int.from_bytes(socket.inet_aton(network), "big")
        if length > 24:
            longer.append(start >> 8)
        else:
            by_length.append((length, start >> 8, prefixes[prefix]))
    by_length.sort(key=lambda entry: entry[0])
    size = 0
    first = len(by_length)
    while first > 0 and size + (1 << (24 - by_length[first - 1][0])) <= budget:
        first -= 1
        size += 1 << (24 - by_length[first][0])
    table: dict[int, Route] = {}
    for length, block, route in by_length[first:]:
        if length == 24:
            table[block] = route
        else:
            for covered in range(block, block + (1 << (24 - length))):
                table[covered] = route
    for block in longer:
        table[block] = _SPLIT
    return table, first == 0


class Router:
    def __init__(
        self,
        claims: Iterable[Claim],
        *,
        foreign_certs: Mapping[str, int] | None = None,
        home_countries: Iterable[str] = ("TW",),
        country_prefixes: Iterable[tuple[str, str]] = (),
        asn_countries: Mapping[int, str] | None = None,
        rules: Iterable[Rule] = (),
    ) -> None:
        self._prefixes = pytricia.PyTricia(128)
        self._asns: dict[int, int] = {}
        self._domains: dict[str, int] = {}
        for claim in claims:
            owner = int(claim.owner)  # type: ignore[call-overload]
            if claim.kind == "cidr":
                # Two owners of one prefix (a flagged overlap): the older organisation wins,
                # deterministically.
                current = (
                    self._prefixes[claim.value] if self._prefixes.has_key(claim.value) else None
                )
                if current is None or owner < current.recipient:
                    self._prefixes[claim.value] = Route(owner, VIA_CIDR, claim.value)
            elif claim.kind == "asn":
                asn = int(claim.value)
                self._asns[asn] = min(owner, self._asns.get(asn, owner))
            elif claim.kind == "domain":
                self._domains[claim.value] = min(owner, self._domains.get(claim.value, owner))
        self.foreign_certs = dict(foreign_certs or {})
        self.home_countries = frozenset(c.upper() for c in home_countries)
        self._countries = pytricia.PyTricia(128)
        for prefix, country in country_prefixes:
            self._countries[prefix] = country.upper()
        self._asn_countries = dict(asn_countries or {})
        self._overrides = [r for r in rules if r.action == "override"]
        self._suppressions = [r for r in rules if r.action == "suppress"]
        self._rule_trees: dict[Rule, pytricia.PyTricia] = {}
        for rule in [*self._overrides, *self._suppressions]:
            if rule.network_kind == "cidr":
                tree = pytricia.PyTricia(128)
                tree[rule.network] = True
                self._rule_trees[rule] = tree
        self.size = len(self._prefixes) + len(self._asns) + len(self._domains)
        self._v4_blocks, self._v4_complete = _blocks(self._prefixes, BLOCK_BUDGET)

    def route(self, event: Event) -> Route:
        side = "source" if any([key in event for key in _SOURCE_KEYS]) else "destination"
        ip = event.get(f"{side}.ip")
        asn = event.get(f"{side}.asn")
        fqdn = event.get(f"{side}.fqdn")
        route = self._override(event, ip, asn, fqdn) if self._overrides else None
        if route is None:
            route = self._claimed(ip, asn, fqdn) or self._abroad(event, side, ip, asn)
        if self._suppressions and route.recipient is not None:
            rule = self._suppression(event, route.recipient, ip, asn, fqdn)
            if rule is not None:
                return Route(route.recipient, route.via, route.matched, route.country, rule)
        return route

    def _claimed(self, ip: str | None, asn: int | None, fqdn: str | None) -> Route | None:
        if ip is not None:
            found: Route | None
            if ":" in ip:  # IPv6 (IPv4-mapped ones too)
                found = self._prefixes.get(ip)
            else:  # canonical dotted quad (`normalise`)
                try:
                    found = self._v4_blocks.get(int.from_bytes(socket.inet_aton(ip), "big") >> 8)
                except OSError:
                    found = _SPLIT
                if found is _SPLIT or (found is None and not self._v4_complete):
                    found = self._prefixes.get(ip)
            if found is not None:
                return found
        if asn is not None:
            owner = self._asns.get(asn)
            if owner is not None:
                return Route(owner, VIA_ASN, f"AS{asn}")
        if fqdn is not None and self._domains:
            for suffix in domain_suffixes(fqdn):
                owner = self._domains.get(suffix)
                if owner is not None:
                    return Route(owner, VIA_DOMAIN, suffix)
        return None

    def country_of(self, event: Event, side: str, ip: str | None, asn: int | None) -> str:
        if ip is not None:
            country = self._countries.get(ip)
            if country:
                return str(country)
        if asn is not None and asn in self._asn_countries:
            return self._asn_countries[asn]
        return str(event.get(f"{side}.geolocation.cc") or "")

    def _abroad(self, event: Event, side: str, ip: str | None, asn: int | None) -> Route:
        country = self.country_of(event, side, ip, asn)
        if country and country not in self.home_countries:
            cert = self.foreign_certs.get(country)
            if cert is not None:
                return Route(cert, VIA_COUNTRY, country, country)
            return Route(None, VIA_UNROUTED, f"abroad ({country}), no CERT registered", country)
        return Route(None, VIA_UNROUTED, "", country) if country else UNROUTED

    def _matches(
        self, rule: Rule, event: Event, ip: str | None, asn: int | None, fqdn: str | None
    ) -> bool:
        if rule.classification_type and rule.classification_type != event.get(
            "classification.type"
        ):
            return False
        if rule.network_kind == "cidr":
            return ip is not None and ip in self._rule_trees[rule]
        if rule.network_kind == "asn":
            return asn is not None and str(asn) == rule.network
        if rule.network_kind == "domain":
            return fqdn is not None and rule.network in domain_suffixes(fqdn)
        return True

    def _override(
        self, event: Event, ip: str | None, asn: int | None, fqdn: str | None
    ) -> Route | None:
        for rule in self._overrides:
            if rule.organisation is not None and self._matches(rule, event, ip, asn, fqdn):
                label = f"rule {rule.rule_id}"
                return Route(rule.organisation, VIA_OVERRIDE, label)
        return None

    def _suppression(
        self, event: Event, recipient: int, ip: str | None, asn: int | None, fqdn: str | None
    ) -> int | None:
        for rule in self._suppressions:
            if rule.organisation not in (None, recipient):
                continue
            if self._matches(rule, event, ip, asn, fqdn):
                return rule.rule_id
        return None
