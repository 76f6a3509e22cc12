"""The ingest fast paths against the general code they stand in for.

Each fast path must accept, refuse and produce exactly what the slow path does: the STIX
pattern regex (against the OASIS grammar walk in `patterns._slow`), the plain-IPv4 network
key (against `ipaddress`), the remembered timestamps (against a fresh parse), and the
hand-checked indicator envelope (against the `stix2` library path) down to the stored rows.
"""

import ipaddress
import random
import uuid
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator  # type: ignore[import-untyped]

from bulwark.intel import ingest, netkeys, patterns, services, stixcheck
from bulwark.intel.models import Collection, Indicator, Provenance, StixObject, Value
from bulwark.intel.tests.conftest import Community, indicator

GOOD = {
    "ipv4": ["192.0.2.1", "10.0.0.0/8", "192.0.2.9/32", "255.255.255.255", "1.2.3.4"],
    "ipv6": ["2001:db8::1", "2001:DB8:0:0:0:0:0:1", "fe80::/10"],
    "domain": ["example.org", "Bücher.EXAMPLE.", "host1.test.net", "xn--bcher-kva.example"],
    "url": ["http://a.example/x?y=1", "HTTP://Example.COM:8080", "http://dl1.example.org/p/0a.bin",
            "ftp://h.example/"],
    "email": ["x@example.org", "Mallory@EXAMPLE.com"],
    "asn": ["3462", "AS3462", "0"],
    "md5": ["a" * 32, "A" * 32],
    "sha1": ["b" * 40],
    "sha256": ["c" * 64, "C" * 64],
}  # fmt: skip
HOSTILE = [
    "", " ", "it's", "it\\'s", "back\\\\slash", "999.1.1.1", "1.2.3", "01.2.3.4", "g" * 64,
    "a" * 31, "-bad-.example", "exa mple.org", "http://", "javascript:alert(1)", "x" * 300,
    "a..b", "1.2.3.4\n", "\u202e.example", "4294967296", "-1", "1e3", "%00", "\\u0000",
    "東京.jp", "1.2.3.4 OR ipv4-addr:value = '5.6.7.8", "']", "[", "\x00",
]  # fmt: skip
NEAR_PATHS = [
    "ipv4-addr:values", "file:hashes.SHA-256", "FILE:hashes.MD5", "file:hashes.'sha-256'",
    "file:hashes.SHA256", "file:hashes.'SHA1'", "domain-name:value[0]", "x-foo:value",
    "ipv4-addr:resolves_to_refs[*].value", "email-message:from_ref.value", "file:name",
]  # fmt: skip
OPERATORS = ["!=", "LIKE", "MATCHES", ">", "IN", "==", "= ="]
SPACES = [" ", " ", "  ", "\t", "\n", ""]


def _literal(rng: random.Random, kind: str) -> str:
    roll = rng.random()
    if roll < 0.55:
        value = rng.choice(GOOD[kind])
    elif roll < 0.85:
        value = rng.choice(HOSTILE)
    else:
        value = rng.choice(GOOD[rng.choice(list(GOOD))])
    form = rng.random()
    if form < 0.8:
        return f"'{value}'"
    if form < 0.9 and value.isdigit():
        return value
    return rng.choice(
        ["3462", "('a', 'b')", "h'00ff'", "b'AAAA'", "t'2026-01-01T00:00:00Z'", "true",
         f"'{value}", f"{value}'", "'" + value.replace("'", "\\'") + "'"]
    )  # fmt: skip


def _comparison(rng: random.Random) -> str:
    path = rng.choice(list(patterns.PATHS)) if rng.random() < 0.85 else rng.choice(NEAR_PATHS)
    operator = "=" if rng.random() < 0.85 else rng.choice(OPERATORS)
    negation = "NOT " if rng.random() < 0.03 else ""
    before, after = rng.choice(SPACES), rng.choice(SPACES)
    literal = _literal(rng, patterns.PATHS.get(path, "domain"))
    return f"{path}{before}{negation}{operator}{after}{literal}"


def generated_pattern(rng: random.Random) -> str:
    """Mostly the shapes shared in practice, with valid and hostile deviations mixed in."""
    observations = []
    for _o in range(rng.choice([1, 1, 1, 2, 3])):
        inner = rng.choice([" OR ", " OR ", " AND ", " or ", "OR", "  OR\n"]).join(
            _comparison(rng) for _c in range(rng.choice([1, 1, 2, 3]))
        )
        if rng.random() < 0.05:
            inner = f"({inner})"
        text = f"[{rng.choice(['', ' '])}{inner}{rng.choice(['', ' '])}]"
        if rng.random() < 0.04:
            text += rng.choice(
                [" WITHIN 5 SECONDS", " REPEATS 2 TIMES",
                 " START t'2026-01-01T00:00:00Z' STOP t'2026-01-02T00:00:00Z'"]
            )  # fmt: skip
        observations.append(text)
    text = rng.choice([" OR ", " OR ", " AND ", " FOLLOWEDBY ", " or "]).join(observations)
    roll = rng.random()
    if roll < 0.03:
        return text[:-1]
    if roll < 0.06:
        return text + " garbage"
    if roll < 0.08:
        return " " + text
    if roll < 0.1:
        return text + "\n"
    return text


def verdict(pattern: str, *, slow: bool) -> Any:
    """What ingest would store from a pattern: refused, or the set of values and the first
    one (which becomes Indicator.kind)."""
    try:
        found = patterns._slow(pattern) if slow else patterns.observables(pattern)[0]
    except patterns.InvalidPattern:
        return "refused"
    return frozenset(found), found[0] if found else None


def test_the_pattern_fast_path_agrees_with_the_grammar_on_generated_patterns() -> None:
    rng = random.Random(20261123)
    taken = accepted_fast = refused_fast = 0
    for _ in range(2500):
        text = generated_pattern(rng)
        fast = bool(patterns._FAST_ALL.match(text))
        ours = verdict(text, slow=False)
        assert ours == verdict(text, slow=True), text
        if fast:
            taken += 1
            if ours == "refused":
                refused_fast += 1
            else:
                accepted_fast += 1
                assert run_validator(text, stix_version="2.1") == [], text
    # Both directions were really exercised: valid patterns taken and hostile ones refused.
    assert accepted_fast > 200 and refused_fast > 100 and taken < 2000


@settings(max_examples=80, deadline=None)
@given(st.from_regex(patterns._FAST_ALL, fullmatch=True))
@example("[autonomous-system:number=\u0660]")  # a Unicode digit: found by this test in CI
@example("[ipv4-addr:value\u2003=\u2003'198.51.100.1']")  # a Unicode blank
def test_anything_the_fast_regex_takes_is_judged_as_the_grammar_judges_it(text: str) -> None:
    assert verdict(text, slow=False) == verdict(text, slow=True)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(patterns.PATHS)),
            st.one_of(
                st.sampled_from([v for values in GOOD.values() for v in values]),
                st.text(alphabet="0123456789abcdefABCDEF.:/-_@xn' \\", max_size=70),
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([" OR ", " AND ", "] OR [", "] AND ["]),
)
def test_generated_comparisons_are_judged_alike(parts: list[tuple[str, str]], joiner: str) -> None:
    text = "[" + joiner.join(f"{path} = '{value}'" for path, value in parts) + "]"
    assert verdict(text, slow=False) == verdict(text, slow=True), text


@pytest.mark.parametrize(
    "text",
    [
        "[ipv4-addr:value = '192.0.2.1'] OR [ipv4-addr:value = '192.0.2.1']",
        "[domain-name:value = 'a.example' OR ipv4-addr:value = '192.0.2.1']",
        "[autonomous-system:number = 3462]",
        "[file:hashes.MD5 = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' OR file:hashes.'MD5' = 'a"
        + "a" * 31
        + "']",
        "[ipv4-addr:value = '192.0.2.0/24' OR ipv6-addr:value = '2001:db8::1/128']",
        "[url:value = 'http://dl1.example.org/payload/0a0b.bin']",
    ],
)
def test_common_shapes_take_the_fast_path_and_store_what_the_grammar_would(text: str) -> None:
    assert patterns.observables(text)[1] is True
    assert verdict(text, slow=False) == verdict(text, slow=True) != "refused"


@pytest.mark.parametrize(
    "text",
    [
        "[ipv4-addr:value = '999.1.1.1']",
        "[ipv4-addr:value = '192.0.2.1'",
        "[ipv4-addr:value = '192.0.2.1'] garbage",
        "[file:hashes.'SHA-256' = 'abc']",
        "[domain-name:value = 'exa mple.org']",
        "[ipv4-addr:value = '1.2.3.4' OR]",
        "[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value != '1.2.3.4' WITHIN]",
        "[url:value = 'javascript:alert(1)']",
    ],
)
def test_hostile_patterns_are_refused_by_both_paths(text: str) -> None:
    assert verdict(text, slow=False) == verdict(text, slow=True) == "refused"


def test_the_plain_ipv4_network_key_equals_the_general_one() -> None:
    rng = random.Random(5)
    addresses = ["0.0.0.0", "255.255.255.255", "10.0.0.1", "1.2.3.4"]
    addresses += [".".join(str(rng.randint(0, 255)) for _ in range(4)) for _ in range(20_000)]
    for text in addresses:
        assert netkeys.net_key("ipv4", text) == f"4:{int(ipaddress.ip_address(text)):08x}"
    with pytest.raises(ValueError):
        netkeys.net_key("ipv4", "256.1.1.1")  # not plain: the general parser refuses it


def test_remembered_timestamps_are_exact_and_refusals_are_not_remembered() -> None:
    first = stixcheck.parse_timestamp("2026-02-03T04:05:06.123456789Z", "created")
    again = stixcheck.parse_timestamp("2026-02-03T04:05:06.123456789Z", "valid_until")
    assert first == again and first.microsecond == 123456 and first.tzinfo is not None
    for _ in range(2):
        with pytest.raises(stixcheck.Refused, match="not a real date"):
            stixcheck.parse_timestamp("2026-02-30T00:00:00Z", "created")
        with pytest.raises(stixcheck.Refused, match="RFC 3339"):
            stixcheck.parse_timestamp("2026-02-03 04:05:06", "created")
        with pytest.raises(stixcheck.Refused):
            stixcheck.parse_timestamp(20260203, "created")


def _rows(collection: Collection) -> list[tuple[Any, ...]]:
    objects = StixObject.objects.filter(collection=collection)
    by_pk = {o.pk: o.stix_id for o in objects}
    rows: list[tuple[Any, ...]] = []
    for o in objects:
        rows.append(("object", o.stix_id, o.type, o.spec_version, o.created, o.modified,
                     o.version, o.is_latest, o.tlp, o.source_org_id, o.status))  # fmt: skip
    for i in Indicator.objects.filter(stix_object__collection=collection):
        rows.append(("indicator", by_pk[i.stix_object_id], i.name, i.pattern, i.pattern_type,
                     i.valid_from, i.valid_until, i.confidence, i.kind))  # fmt: skip
    for p in Provenance.objects.filter(stix_object__collection=collection).select_related("value"):
        rows.append(("provenance", by_pk[p.stix_object_id], p.value.kind, p.value.value,
                     p.organisation_id, p.confidence, p.valid_until, p.tlp))  # fmt: skip
    return sorted(rows, key=repr)


def test_the_fast_envelope_stores_the_same_rows_as_the_library_path(community: Community) -> None:
    rng = random.Random(11)
    bundle = []
    for n in range(300):
        kind = rng.choice(list(GOOD))
        path = next(p for p, k in patterns.PATHS.items() if k == kind)
        value = rng.choice(GOOD[kind])
        obj = indicator(value, path=path, stix_id=f"indicator--{uuid.UUID(int=n + 1, version=4)}")
        if kind == "asn":
            obj["pattern"] = f"[{path} = {int(value.removeprefix('AS'))}]"
        if n % 7 == 0:
            obj["valid_until"] = "2026-06-01T00:00:00Z"
        if n % 11 == 0:
            obj["pattern"] = obj["pattern"][:-1] + " OR domain-name:value = 'x.example']"
        bundle.append(obj)
    bundle += [indicator("999.1.1.1"), indicator("192.0.2.1", confidence=101)]
    # An extra property routes the same objects through stix2.parse instead.
    library = [
        dict(o, external_references=[{"source_name": "t", "url": "https://cert.example/r"}])
        for o in bundle
    ]
    other = Collection.objects.create(title="Library path", requires_review=False)
    fast = services.ingest_objects(None, community.community, bundle, raw="fast").outcome
    slow = services.ingest_objects(None, other, library, raw="slow").outcome
    assert fast.stored == slow.stored == 300
    assert [f["id"] for f in fast.failures] == [f["id"] for f in slow.failures]
    assert [s["version"] for s in fast.successes] == [s["version"] for s in slow.successes]
    assert _rows(community.community) == _rows(other)
    assert StixObject.objects.filter(collection=community.community).count() == 300


def test_stored_values_are_reused_and_only_new_ones_inserted(community: Community) -> None:
    first = ingest.ensure_values([("ipv4", "192.0.2.1"), ("domain", "a.example")])
    again = ingest.ensure_values(
        [("ipv4", "192.0.2.1"), ("domain", "b.example"), ("domain", "a.example")]
    )
    assert again[("ipv4", "192.0.2.1")] == first[("ipv4", "192.0.2.1")]
    assert again[("domain", "a.example")] == first[("domain", "a.example")]
    assert len(set(again.values())) == 3 and ingest.ensure_values([]) == {}
    assert set(Value.objects.values_list("kind", "value", "net_key")) == {
        ("ipv4", "192.0.2.1", "4:c0000201"), ("domain", "a.example", None),
        ("domain", "b.example", None),
    }  # fmt: skip
    # A bundle naming a stored value adds provenance to it, not a second value.
    services.ingest_objects(None, community.community, [indicator("192.0.2.1")], raw="r")
    assert Value.objects.count() == 3
    assert Provenance.objects.get().value_id == first[("ipv4", "192.0.2.1")]
