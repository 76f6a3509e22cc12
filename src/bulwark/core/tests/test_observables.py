"""One canonical form per observable (issue 21): the str face that intel and incidents
store, the bytes face that the monitoring engine reads logs with, and what a snapshot built
from a stored value matches, are one and the same on generated values of every kind."""

import ipaddress

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bulwark.core import observables as obs
from bulwark.monitoring.engine.indicators import TYPES, from_typed
from bulwark.monitoring.engine.snapshot import Snapshot

# The bytes function that reads a log field said to hold a value of each kind, and the
# snapshot matcher of that field kind.
FIELD = {
    "ipv4": (obs.address, "addr"),
    "ipv6": (obs.address, "addr"),
    "domain": (obs.domain, "domain"),
    "url": (obs.url, "url"),
    "email": (obs.email, "email"),
    "md5": (obs.file_hash, "hash"),
    "sha1": (obs.file_hash, "hash"),
    "sha256": (obs.file_hash, "hash"),
}


def flip_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))


LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"
UNICODE_LETTERS = "äöüßéñ東京台灣"


@st.composite
def labels(draw: st.DrawFn) -> str:
    alphabet = LETTERS + (UNICODE_LETTERS if draw(st.booleans()) else "")
    label = draw(st.text(alphabet, min_size=1, max_size=12))
    if len(label) > 2 and draw(st.booleans()):
        label = label[0] + "-" + label[2:]
    return flip_case(draw, label)


@st.composite
def domains(draw: st.DrawFn) -> str:
    names = draw(st.lists(labels(), min_size=1, max_size=3))
    top = draw(st.sampled_from(["example", "tw", "org", "台灣", "xn--kpry57d", "COM"]))
    return ".".join([*names, top]) + draw(st.sampled_from(["", "", "."]))


@st.composite
def ipv4s(draw: st.DrawFn) -> str:
    return str(draw(st.ip_addresses(v=4)))


@st.composite
def ipv6s(draw: st.DrawFn) -> str:
    ip = draw(st.ip_addresses(v=6))
    text = draw(st.sampled_from([ip.compressed, ip.exploded, ip.exploded.upper()]))
    return text + draw(st.sampled_from(["", "", "%eth0"]))


@st.composite
def prefixes(draw: st.DrawFn) -> str:
    ip = draw(st.ip_addresses())
    return f"{ip}/{draw(st.integers(0, ip.max_prefixlen))}"


@st.composite
def hashes(draw: st.DrawFn) -> str:
    size = draw(st.sampled_from([32, 40, 64]))
    return flip_case(draw, draw(st.text("0123456789abcdef", min_size=size, max_size=size)))


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(st.text(LETTERS + ".+-_", min_size=1, max_size=20))
    return flip_case(draw, local) + "@" + draw(domains())


ESCAPES = ["%7e", "%7E", "%41", "%2f", "%2F", "%2e", "%20", "%e4", "%C3%A4", "%25"]
SEGMENTS = ["a", "B", ".", "..", "x.y", "~u", "ä", "a+b", "", "%"]


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "HTTP", "https", "ftp", "Https"]))
    kind = draw(st.sampled_from(["domain", "ipv4", "ipv6"]))
    if kind == "domain":
        host = draw(domains()).rstrip(".")
    elif kind == "ipv4":
        host = draw(ipv4s())
    else:
        host = "[" + draw(st.sampled_from([str, str.upper]))(str(draw(st.ip_addresses(v=6)))) + "]"
    port = draw(st.sampled_from(["", ":80", ":443", ":21", ":8080", ":0"]))
    user = draw(st.sampled_from(["", "", "user@", "u:p@"]))
    parts = draw(st.lists(st.sampled_from(SEGMENTS + ESCAPES), max_size=5))
    path = "".join("/" + p for p in parts)
    query = draw(st.sampled_from(["", "", "?q=1", "?a=%7e&b=%2f", "?x=%E4"]))
    fragment = draw(st.sampled_from(["", "", "#top"]))
    return f"{scheme}://{user}{host}{port}{path}{query}{fragment}"


VALUES = {
    "ipv4": ipv4s(),
    "ipv6": ipv6s(),
    "cidr": prefixes(),
    "domain": domains(),
    "url": urls(),
    "email": emails(),
    "md5": hashes(),
    "sha1": hashes(),
    "sha256": hashes(),
}


def check(kind: str, value: str) -> None:
    """What intel or incidents store of `value` is what the engine reads of it in a log,
    what the engine loads back from the store, and what a snapshot of it matches."""
    try:
        stored_kind, stored = obs.normalise(kind, value)
    except obs.InvalidIndicator:
        return
    assert obs.normalise(stored_kind, stored) == (stored_kind, stored)  # stable once stored
    assert stored_kind in TYPES
    if stored_kind == "cidr":  # no log field holds a prefix: its first address is matched
        assert obs.detect_kind(stored.encode()) == ("cidr", stored.encode())
        assert obs.detect_kind(value.strip().encode()) == ("cidr", stored.encode())
        indicator = from_typed("cidr", stored)
        assert indicator is not None
        first = str(ipaddress.ip_network(stored).network_address).encode()
        assert ("cidr", stored.encode()) in Snapshot.build([indicator]).match("addr", first)
        return
    if stored_kind in ("ipv4", "ipv6") and "/" in value:  # a /32 or /128 names one address
        assert obs.detect_kind(value.strip().encode()) == (stored_kind, stored.encode())
        value = stored  # as a log holds it
    read, field_kind = FIELD[stored_kind]
    assert read(value.strip().encode()) == stored.encode()  # a log field holding `value`
    if "." in stored or stored_kind != "domain":
        assert obs.detect_kind(stored.encode()) == (stored_kind, stored.encode())
        indicator = from_typed(stored_kind, stored)
        assert indicator is not None
        snapshot = Snapshot.build([indicator])
        assert (stored_kind, stored.encode()) in snapshot.match(field_kind, value.encode())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALUES)).flatmap(lambda k: st.tuples(st.just(k), VALUES[k])))
@example(("email", "Phisher@evil.example"))
@example(("url", "http://[2001:db8::1]:8080/x"))
@example(("url", "HTTP://Example.ORG:80/a/./b/../%7euser?q=%7e"))
@example(("url", "https://Bücher.example/ä"))
@example(("ipv6", "fe80::1%eth0"))
@example(("email", "a@\rä"))  # the bytes face read that domain (IDNA 2003) as "xn--\r-0fa"
@example(("cidr", "::ffff:0:0/96"))  # pytricia writes it ::ffff:0.0.0.0/96
@example(("cidr", "::102:300/120"))  # and this one ::1.2.3.0/120
def test_str_bytes_stored_and_matched_forms_agree(case: tuple[str, str]) -> None:
    check(*case)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALUES)), st.text(max_size=40))
def test_any_text_is_either_refused_or_agreed_on(kind: str, value: str) -> None:
    check(kind, value)


@given(st.sampled_from(sorted(VALUES)).flatmap(VALUES.__getitem__))
def test_detection_agrees_with_the_kind_it_normalises_to(value: str) -> None:
    try:
        kind, text = obs.detected(value)
    except obs.InvalidIndicator:
        return
    assert obs.normalise(kind, value) == (kind, text)
    if kind in TYPES and "." in text:
        assert obs.detect_kind(value.encode()) == (kind, text.encode())


@given(st.sampled_from(sorted(VALUES)).flatmap(lambda k: st.tuples(st.just(k), VALUES[k])))
@example(("url", "http://evil.example/a/./b"))
@example(("url", "http://evil.example/%7Eb"))
def test_the_fast_path_gives_what_the_general_path_gives(case: tuple[str, str]) -> None:
    kind, value = case
    fast = obs._fast(kind, value)
    if fast is not None:
        assert obs._general(kind, value) == (kind, fast)


@pytest.mark.parametrize(
    ("kind", "typed", "canonical"),
    [
        # An indicator reported with a capital and a log's lower-case address are one value.
        ("email", "Phisher@Evil.Example", "phisher@evil.example"),
        ("email", "phisher@evil.example", "phisher@evil.example"),
        # Brackets and port kept: the value stays a URL that parses.
        ("url", "http://[2001:db8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        ("url", "https://[2001:DB8::1]/", "https://[2001:db8::1]/"),
        ("url", "http://evil.example:80/a/./b/%7Euser", "http://evil.example/a/b/~user"),
        ("url", "http://evil.example/a%2fb%3f", "http://evil.example/a%2Fb%3F"),
        ("url", "https://Bücher.Example:443", "https://xn--bcher-kva.example/"),
        ("url", "ftp://files.example:2121/x#part", "ftp://files.example:2121/x"),
        ("domain", "Bücher.EXAMPLE.", "xn--bcher-kva.example"),
        ("ipv6", "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("ipv4", "192.0.2.9/32", "192.0.2.9"),
        ("cidr", "10.1.2.3/8", "10.0.0.0/8"),
        ("asn", "AS3462", "3462"),
        ("sha1", "B" * 40, "b" * 40),
    ],
)
def test_named_rules(kind: str, typed: str, canonical: str) -> None:
    assert obs.normalise(kind, typed)[1] == canonical


@pytest.mark.parametrize(
    "typed",
    ["Bob <bob@evil.example>", "a b@evil.example", "*.evil.example", "http://", "999.1.1.1"],
)
def test_what_the_bytes_face_would_read_differently_is_refused(typed: str) -> None:
    with pytest.raises(obs.InvalidIndicator):
        obs.detected(typed)


def test_an_ipv6_url_round_trips_through_every_face() -> None:
    value = "http://[2001:db8::1]:8080/x"
    assert obs.detected(value) == ("url", value)
    assert obs.url(value.encode()) == value.encode()
    assert obs.detect_kind(value.encode()) == ("url", value.encode())
    assert ipaddress.ip_address(value.split("[")[1].split("]")[0])  # still parses
