import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulwark.constituency.networks import (
    Claim,
    InvalidClaim,
    NetworkIndex,
    covering_values,
    find_overlaps,
    normalise,
    parse_asn,
    parse_cidr,
    parse_domain,
)


@pytest.mark.parametrize(
    ("kind", "raw", "canonical"),
    [
        ("cidr", "192.0.2.0/24", "192.0.2.0/24"),
        ("cidr", " 2001:DB8:0:0::/48 ", "2001:db8::/48"),
        ("cidr", "192.0.2.7", "192.0.2.7/32"),
        ("asn", "AS3462", "3462"),
        ("asn", "as 64500", "64500"),
        ("asn", "4200000000", "4200000000"),
        ("domain", "Example.GOV.tw.", "example.gov.tw"),
        ("domain", "例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("domain", "tw", "tw"),
    ],
)
def test_claims_are_normalised(kind: str, raw: str, canonical: str) -> None:
    assert normalise(kind, raw) == canonical


@pytest.mark.parametrize(
    ("kind", "raw", "reason"),
    [
        ("cidr", "10.0.0.1/8", "host bits set; did you mean 10.0.0.0/8"),
        ("cidr", "300.1.1.0/24", "not a valid"),
        ("cidr", "192.0.2.0/33", "not a valid"),
        ("cidr", "", "Enter an IPv4"),
        ("cidr", "1" * 5000, "Too long"),
        ("asn", "AS0", "reserved"),
        ("asn", "23456", "reserved"),
        ("asn", "4294967296", "outside"),
        ("asn", "AS-foo", "not an AS number"),
        ("asn", "-5", "not an AS number"),
        ("domain", "*.example.com", "covers its sub-domains"),
        ("domain", "exa mple.com", "not a valid domain"),
        ("domain", "-bad.example.com", "not a valid domain"),
        ("domain", "192.0.2.1", "top-level domain"),
        ("domain", ("a" * 60 + ".") * 5 + "com", "253"),
        ("domain", "x" * 100_000, "Too long"),
        ("domain", "", "Enter a domain"),
        ("other", "x", "Unknown claim kind"),
    ],
)
def test_bad_claims_say_why(kind: str, raw: str, reason: str) -> None:
    with pytest.raises(InvalidClaim, match=reason.replace("*", r"\*")):
        normalise(kind, raw)


def test_most_specific_prefix_wins() -> None:
    index = NetworkIndex(
        [
            Claim("cidr", "198.18.0.0/15", "ministry"),
            Claim("cidr", "198.18.16.0/22", "bureau"),
            Claim("cidr", "2001:db8::/32", "v6-wide"),
            Claim("cidr", "2001:db8:1::/48", "v6-narrow"),
        ]
    )
    assert [c.owner for c in index.for_ip("198.18.17.1")] == ["bureau"]
    assert [c.owner for c in index.for_ip("198.19.0.1")] == ["ministry"]
    assert index.for_ip("192.0.2.1") == []
    assert [c.owner for c in index.for_ip("2001:db8:1::5")] == ["v6-narrow"]
    assert [c.owner for c in index.for_ip("2001:db8:2::5")] == ["v6-wide"]


def test_longest_domain_suffix_wins_on_label_boundaries() -> None:
    index = NetworkIndex([Claim("domain", "gov.tw", "gsn"), Claim("domain", "moea.gov.tw", "moea")])
    assert [c.owner for c in index.for_domain("www.energy.MOEA.gov.tw")] == ["moea"]
    assert [c.owner for c in index.for_domain("notmoea.gov.tw")] == ["gsn"]
    assert index.for_domain("gov.tw.evil.com") == []


def test_overlaps_are_found_across_owners_only() -> None:
    claims = [
        Claim("cidr", "10.0.0.0/8", "a"),
        Claim("cidr", "10.1.0.0/16", "b"),
        Claim("cidr", "10.1.0.0/16", "c"),
        Claim("cidr", "10.2.0.0/16", "a"),
        Claim("cidr", "11.0.0.0/8", "d"),
        Claim("domain", "example.tw", "a"),
        Claim("domain", "sub.example.tw", "b"),
        Claim("asn", "64500", "a"),
        Claim("asn", "64500", "b"),
    ]
    found = {
        (o.broader.value, o.broader.owner, o.narrower.value, o.narrower.owner)
        for o in find_overlaps(claims)
    }
    assert found == {
        ("10.0.0.0/8", "a", "10.1.0.0/16", "b"),
        ("10.0.0.0/8", "a", "10.1.0.0/16", "c"),
        ("10.1.0.0/16", "b", "10.1.0.0/16", "c"),
        ("example.tw", "a", "sub.example.tw", "b"),
        ("64500", "a", "64500", "b"),
    }


networks_v4 = st.builds(
    lambda addr, length: ipaddress.ip_network(
        f"{ipaddress.IPv4Address(addr)}/{length}", strict=False
    ),
    st.integers(0, 2**32 - 1),
    st.integers(8, 32),
)


@given(st.lists(networks_v4, min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_index_agrees_with_brute_force(nets: list[ipaddress.IPv4Network], address: int) -> None:
    claims = [Claim("cidr", str(n), i) for i, n in enumerate(nets)]
    ip = ipaddress.IPv4Address(address)
    containing = [c for c, n in zip(claims, nets, strict=True) if ip in n]
    got = NetworkIndex(claims).for_ip(str(ip))
    if not containing:
        assert got == []
    else:
        longest = max(ipaddress.ip_network(c.value).prefixlen for c in containing)
        assert {c.owner for c in got} == {
            c.owner for c in containing if ipaddress.ip_network(c.value).prefixlen == longest
        }


@given(st.lists(networks_v4, min_size=1, max_size=25))
def test_overlaps_agree_with_brute_force(nets: list[ipaddress.IPv4Network]) -> None:
    claims = [Claim("cidr", str(n), i) for i, n in enumerate(nets)]
    expected = {
        frozenset((a.owner, b.owner))
        for a in claims
        for b in claims
        if a.owner != b.owner
        and ipaddress.ip_network(b.value).subnet_of(ipaddress.ip_network(a.value))  # type: ignore[arg-type]
    }
    got = {frozenset((o.broader.owner, o.narrower.owner)) for o in find_overlaps(claims)}
    assert got == expected


def test_parsers_return_typed_values() -> None:
    assert parse_cidr("192.0.2.0/24").num_addresses == 256
    assert parse_asn(" AS13335 ") == 13335
    assert parse_domain("Bücher.example") == "xn--bcher-kva.example"


networks_v6 = st.builds(
    lambda addr, length: ipaddress.ip_network(
        f"{ipaddress.IPv6Address(addr)}/{length}", strict=False
    ),
    st.integers(0, 2**128 - 1),
    st.integers(0, 128),
)


@given(st.lists(st.one_of(networks_v4, networks_v6), min_size=1, max_size=30), st.data())
def test_covering_values_name_every_claim_that_contains_the_address(
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network], data: st.DataObject
) -> None:
    """The resolver reads only claims whose stored value is among these; every prefix that
    contains the address must be among them (and none that does not)."""
    net = data.draw(st.sampled_from(nets))
    address = net.network_address + data.draw(st.integers(0, net.num_addresses - 1))
    stored = {normalise("cidr", str(n)) for n in nets}
    candidates = set(covering_values("cidr", str(address)))
    assert {v for v in stored if address in ipaddress.ip_network(v)} == stored & candidates


def test_covering_values_of_domains_and_as_numbers() -> None:
    assert covering_values("domain", "WWW.Moea.gov.tw.") == [
        "www.moea.gov.tw",
        "moea.gov.tw",
        "gov.tw",
        "tw",
    ]
    assert covering_values("asn", "AS3462") == ["3462"]
    assert covering_values("cidr", "fe80::1%eth0")[-1] == "fe80::1/128"
    for kind, bad in (("cidr", "not-an-ip"), ("domain", "exa mple"), ("asn", "ASX")):
        with pytest.raises(ValueError):
            covering_values(kind, bad)
