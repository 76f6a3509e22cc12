"""Routing table cases: nested prefixes, IPv6, AS fallback, domain label boundaries,
abroad vs at home, unrouted, overrides and suppressions. Pure engine, no database."""

import ipaddress
import random

import pytest

from bulwark.constituency.networks import Claim
from bulwark.exchange.engine import router as router_module
from bulwark.exchange.engine.event import normalise
from bulwark.exchange.engine.router import Router, Rule

MINISTRY, BUREAU, AGENCY, MICHIGAN, JPCERT, KRCERT, FOREIGN_CLAIMED = 1, 2, 3, 4, 10, 11, 12


def router(**kwargs: object) -> Router:
    claims = [
        Claim("cidr", "198.18.16.0/20", MINISTRY),
        Claim("cidr", "198.18.16.0/22", BUREAU),
        Claim("cidr", "198.18.17.0/24", AGENCY),
        Claim("cidr", "2001:db8:4::/48", BUREAU),
        Claim("cidr", "2001:db8::/32", MINISTRY),
        Claim("asn", "64500", AGENCY),
        Claim("domain", "michigan.org", MICHIGAN),
        Claim("domain", "gov.tw", MINISTRY),
        Claim("domain", "energy.gov.tw", BUREAU),
        Claim("cidr", "203.0.113.128/25", FOREIGN_CLAIMED),
    ]
    return Router(
        claims,
        foreign_certs={"JP": JPCERT, "KR": KRCERT},
        home_countries=["TW"],
        country_prefixes=[("192.0.2.0/24", "JP"), ("198.51.100.0/24", "KR")],
        asn_countries={64512: "JP"},
        **kwargs,  # type: ignore[arg-type]
    )


def route(r: Router, **fields: object) -> tuple[int | None, str]:
    event = normalise({"classification.type": "scanner", **fields})
    result = r.route(event)
    return result.recipient, result.via


def test_most_specific_prefix_wins_in_nested_claims() -> None:
    r = router()
    assert route(r, **{"source.ip": "198.18.17.9"}) == (AGENCY, "cidr")
    assert route(r, **{"source.ip": "198.18.18.9"}) == (BUREAU, "cidr")
    assert route(r, **{"source.ip": "198.18.30.1"}) == (MINISTRY, "cidr")
    assert r.route(normalise({"source.ip": "198.18.17.9"})).matched == "198.18.17.0/24"


def test_ipv6_longest_prefix_and_canonical_form() -> None:
    r = router()
    assert route(r, **{"source.ip": "2001:DB8:4:0::1"}) == (BUREAU, "cidr")
    assert route(r, **{"source.ip": "2001:db8:5::1"}) == (MINISTRY, "cidr")
    assert route(r, **{"source.ip": "2001:db9::1"}) == (None, "unrouted")


def test_as_number_when_no_prefix_claims_the_address() -> None:
    r = router()
    assert route(r, **{"source.ip": "198.19.1.1", "source.asn": "AS64500"}) == (AGENCY, "asn")
    # A claimed prefix beats the AS even when the AS is claimed by someone else.
    assert route(r, **{"source.ip": "198.18.30.1", "source.asn": 64500}) == (MINISTRY, "cidr")


def test_domain_suffix_on_label_boundaries_only() -> None:
    r = router()
    assert route(r, **{"source.fqdn": "www.michigan.org"}) == (MICHIGAN, "domain")
    assert route(r, **{"source.fqdn": "michigan.org."}) == (MICHIGAN, "domain")
    assert route(r, **{"source.fqdn": "evil-michigan.org"}) == (None, "unrouted")
    assert route(r, **{"source.fqdn": "mail.energy.gov.tw"}) == (BUREAU, "domain")
    assert route(r, **{"source.fqdn": "x.moea.gov.tw"}) == (MINISTRY, "domain")
    assert route(r, **{"source.url": "https://evil-michigan.org/login"}) == (None, "unrouted")
    assert route(r, **{"source.url": "https://a.michigan.org:8443/x"}) == (MICHIGAN, "domain")


def test_abroad_goes_to_the_foreign_cert_of_the_country() -> None:
    r = router()
    assert route(r, **{"source.ip": "192.0.2.7"}) == (JPCERT, "country")
    assert route(r, **{"source.ip": "198.51.100.7"}) == (KRCERT, "country")
    # Unknown address, but its AS is Japanese.
    assert route(r, **{"source.ip": "100.64.0.1", "source.asn": 64512}) == (JPCERT, "country")
    # The feed's own country claim is the last resort.
    event = {"source.ip": "100.64.0.2", "source.geolocation.cc": "kr"}
    assert route(r, **event) == (KRCERT, "country")
    # A foreign CERT's own claim is the most specific claim, like any other.
    assert route(r, **{"source.ip": "203.0.113.200"}) == (FOREIGN_CLAIMED, "cidr")


def test_at_home_or_without_a_cert_stays_unrouted() -> None:
    r = router()
    home = normalise({"source.ip": "100.64.0.3", "source.geolocation.cc": "TW"})
    assert r.route(home).recipient is None and r.route(home).country == "TW"
    nowhere = normalise({"source.ip": "100.64.0.4", "source.geolocation.cc": "FR"})
    result = r.route(nowhere)
    assert result.recipient is None and "no CERT" in result.matched
    assert route(r, **{"source.ip": "100.64.0.5"}) == (None, "unrouted")


def test_override_and_suppression_rules_are_data() -> None:
    rules = [
        Rule("override", MICHIGAN, "cidr", "198.18.17.128/25", "", rule_id=7),
        Rule("suppress", AGENCY, "", "", "scanner", rule_id=8),
        Rule("suppress", None, "domain", "energy.gov.tw", "", rule_id=9),
    ]
    r = router(rules=rules)
    assert route(r, **{"source.ip": "198.18.17.200"}) == (MICHIGAN, "override")
    scan = r.route(normalise({"source.ip": "198.18.17.9", "classification.type": "scanner"}))
    assert scan.recipient == AGENCY and scan.suppressed_by == 8
    spam = r.route(normalise({"source.ip": "198.18.17.9", "classification.type": "spam"}))
    assert spam.recipient == AGENCY and spam.suppressed_by is None
    mail = r.route(normalise({"source.fqdn": "mx.energy.gov.tw"}))
    assert mail.recipient == BUREAU and mail.suppressed_by == 9


def test_tie_on_one_prefix_goes_to_the_oldest_organisation() -> None:
    r = Router([Claim("cidr", "192.0.2.0/24", 9), Claim("cidr", "192.0.2.0/24", 5)])
    assert r.route(normalise({"source.ip": "192.0.2.1"})).recipient == 5


def test_a_million_prefixes_compile_and_route() -> None:
    claims = [Claim("cidr", f"10.{i >> 8 & 255}.{i & 255}.0/24", i) for i in range(60_000)]
    r = Router(claims)
    assert r.route(normalise({"source.ip": "10.1.2.3"})).recipient == (1 << 8) + 2


@pytest.mark.parametrize("budget", [router_module.BLOCK_BUDGET, 5000, 0])
def test_ipv4_block_table_agrees_with_a_brute_force_longest_prefix_match(
    budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random nested claims from /8 to /32 (ties included), addresses inside and around
    them: the /24 block table (complete, cut short by its budget, or empty) routes every
    address like a linear longest-prefix search over the claims does."""
    complete = budget == router_module.BLOCK_BUDGET
    monkeypatch.setattr(router_module, "BLOCK_BUDGET", budget)
    rng = random.Random(20261203)
    claims: list[Claim] = []
    for owner in range(1, 400):
        length = rng.choice([8, 12, 16, 20, 22, 23, 24, 24, 24, 25, 28, 30, 32])
        base = (10 << 24) | rng.randrange(1 << 22) << 2 if length > 8 else 10 << 24
        network = ipaddress.ip_network((base, length), strict=False)
        claims.append(Claim("cidr", str(network), owner))
    claims.append(Claim("cidr", claims[5].value, 1000))  # a tie: the lower owner wins
    r = Router(claims)
    assert r._v4_complete == complete
    expanded = [v for v in r._v4_blocks.values() if v is not router_module._SPLIT]
    assert len(expanded) <= budget and (len(expanded) > 0) == (budget > 0)
    networks = [(ipaddress.ip_network(c.value), int(c.owner)) for c in claims]  # type: ignore[call-overload]

    def expected(address: ipaddress.IPv4Address) -> int | None:
        best: tuple[int, int] | None = None
        for network, owner in networks:
            if address in network:
                key = (-network.prefixlen, owner)
                best = key if best is None or key < best else best
        return None if best is None else best[1]

    probes = [n.network_address + rng.randrange(n.num_addresses) for n, _ in networks]
    probes += [ipaddress.IPv4Address((10 << 24) | rng.randrange(1 << 24)) for _ in range(500)]
    probes += [ipaddress.IPv4Address("11.0.0.1"), ipaddress.IPv4Address("9.255.255.255")]
    for address in probes:
        got = r.route(normalise({"source.ip": str(address)}))
        assert got.recipient == expected(address), address
