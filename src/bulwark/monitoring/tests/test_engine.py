"""The engine against a labelled corpus: every format, every indicator type, zero false
positives and zero misses; hostile input is reported, never fatal."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from bulwark.monitoring.engine import (
    FORMATS,
    Snapshot,
    detect_format,
    match_buffer,
    match_paths,
    matcher,
)
from bulwark.monitoring.engine.formats import Format, ndjson_format
from bulwark.monitoring.engine.indicators import from_text, load_indicator_file
from bulwark.monitoring.tests import labelled

TRUTH = labelled.build()
SNAPSHOT = Snapshot.build(from_text(v) for v in TRUTH.indicators)
MAPS = {"ndjson": {"client": "addr", "q": "domain"}, "csv": {"client": "addr", "domain": "domain"}}


@pytest.fixture(autouse=True, params=["compiled", "pure"])
def engine_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs twice: with the compiled JSON pre-filter (which must be built:
    a missing build fails, it is not skipped) and with the pure-Python passes."""
    if request.param == "compiled":
        assert matcher._scan is not None, "the _scan extension is not built (pip install -e .)"
        monkeypatch.setattr(matcher, "USE_KERNEL", True)
    else:
        monkeypatch.setattr(matcher, "USE_KERNEL", False)
    return str(request.param)


def expected_pairs(expected: list[set[str]]) -> set[tuple[int, str]]:
    return {(n, ind) for n, hits in enumerate(expected, start=1) for ind in hits}


def fmt_for(name: str) -> Format:
    return ndjson_format(MAPS[name]) if name == "ndjson" else FORMATS[name]


def test_every_indicator_type_is_loaded() -> None:
    assert SNAPSHOT.counts == {
        "domain": 2 * labelled.N,
        "ipv4": labelled.N,
        "ipv6": labelled.N,
        "cidr": 2 * labelled.N,
        "url": labelled.N,
        "md5": labelled.N,
        "sha1": labelled.N,
        "sha256": labelled.N,
        "email": labelled.N,
    }


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_labelled_corpus_no_false_positive_no_miss(name: str, tmp_path: Path) -> None:
    text, expected = labelled.generate(name, TRUTH, 400, seed=len(name))
    path = tmp_path / "log"
    path.write_text(text)
    ctx = {"map": MAPS[name]} if name in MAPS else None
    assert sum(bool(e) for e in expected) > 100  # the corpus does contain hits
    # one chunk in-process, and small chunks across two worker processes
    result = match_buffer(SNAPSHOT, fmt_for(name), text.encode(), ctx=ctx)
    assert result.bad == []
    found = {(h.line, h.indicator) for h in result.hits}
    want = expected_pairs(expected)
    assert found - want == set(), f"false positives in {name}"
    assert want - found == set(), f"misses in {name}"
    if ctx is None:
        summary = match_paths(SNAPSHOT, fmt_for(name), [str(path)], workers=2, chunk_bytes=4096)
        assert {(h.line, h.indicator) for h in summary.result.hits} == want
        assert summary.result.lines == len(expected)


def test_hits_name_field_timestamp_source_and_offset() -> None:
    line = (
        b'{"ts":1763900000.5,"uid":"C1","id.orig_h":"10.0.0.9","id.orig_p":1,'
        b'"id.resp_h":"10.0.0.53","id.resp_p":53,"proto":"udp","query":"A.Evil-3.COM.",'
        b'"answers":["203.0.116.77"]}\n'
    )
    buf = b'{"ts":1,"id.orig_h":"10.0.0.1"}\n' + line
    result = match_buffer(SNAPSHOT, FORMATS["zeek-dns-json"], buf, base_offset=1000, agency="moe")
    hits = sorted((h.field, h.indicator, h.type) for h in result.hits)
    assert hits == [("answers", "203.0.116.0/24", "cidr"), ("query", "evil-3.com", "domain")]
    hit = result.hits[0]
    assert (hit.line, hit.offset, hit.ts, hit.src, hit.dst, hit.agency) == (
        2,
        1000 + len(b'{"ts":1,"id.orig_h":"10.0.0.1"}\n'),
        1763900000.5,
        "10.0.0.9",
        "10.0.0.53",
        "moe",
    )


def test_label_boundaries_only() -> None:
    snap = Snapshot.build([from_text("evil.com")])
    for name, hit in [
        ("evil.com", True),
        ("a.b.evil.com", True),
        ("EVIL.COM.", True),
        ("notevil.com", False),
        ("evil.com.example", False),
        ("evil.co", False),
        ("com", False),
    ]:
        assert bool(snap.match("domain", name.encode())) is hit, name
        assert (name.encode() in snap.hits_among("domain", [name.encode()])) is hit, name
        # the vectorised path, taken for batches larger than a handful of values
        batch = [name.encode()] + [f"filler{i}.example".encode() for i in range(10)]
        assert (name.encode() in snap.hits_among("domain", batch)) is hit, name


def test_fast_path_agrees_with_line_by_line(tmp_path: Path) -> None:
    text, _ = labelled.generate("zeek-dns-json", TRUTH, 2000, seed=99)
    fast = FORMATS["zeek-dns-json"]
    slow = Format(fast.name, fast.description, fast.family, fast.parse, None)
    a = match_buffer(SNAPSHOT, fast, text.encode())
    b = match_buffer(SNAPSHOT, slow, text.encode())
    key = lambda r: sorted((h.line, h.field, h.indicator, h.value) for h in r.hits)  # noqa: E731
    assert key(a) == key(b) and a.hits


HOSTILE = [
    b"\x00\x01\x02\xff\xfe binary garbage",
    b'{"ts":1,"id.orig_h":"198.51.100.10","query":"evil-0.com"',  # truncated
    b'{"ts":1,"query":"evil-0.com"} trailing',
    b"[1,2,3]",
    b'{"query":' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"query":"' + b"a." * 200_000 + b'evil-0.com"}',  # 400 kB name
    b'{"query":"\\u0065vil-0.com","id.orig_h":"198.51.100.1\\u0030"}',  # escapes: still hits
    b'{"query":"evil-0.com\\"","answers":["' + b"\xf0\x28\x8c\x28" + b'"]}',
    b"",
    b'{"query":"' + b"." * 5000 + b'"}',
    b'{"query":"xn--","answers":["::ffff:198.51.100.10", "[::1]", "1.2.3.4.5", "999.1.1.1"]}',
]


def test_hostile_lines_are_reported_and_never_crash() -> None:
    buf = b"\n".join(HOSTILE)
    for name in ("zeek-dns-json", "suricata-eve", "ndjson", "zeek-dns-tsv", "squid", "cef", "csv"):
        result = match_buffer(SNAPSHOT, FORMATS[name], buf)
        assert result.lines == len(HOSTILE)
    result = match_buffer(SNAPSHOT, FORMATS["zeek-dns-json"], buf)
    bad = {line for line, _, _ in result.bad}
    assert bad == {1, 2, 3, 4, 8}  # 8: invalid UTF-8 inside an escaped line
    # The fast path reads only what it needs: a whole-looking line without a candidate
    # value is not parsed. Read line by line, nesting beyond the parser's limit is bad.
    eve = match_buffer(SNAPSHOT, FORMATS["suricata-eve"], buf)
    assert 5 in {line for line, _, _ in eve.bad} and 9 not in {line for line, _, _ in eve.bad}
    hits = {(h.line, h.indicator) for h in result.hits}
    assert (6, "evil-0.com") not in hits  # 400 kB is no DNS name: ignored, not walked
    assert (7, "evil-0.com") in hits and (7, "198.51.100.10") in hits  # JSON escapes decoded
    assert (11, "198.51.100.10") in hits  # IPv4-mapped IPv6 answer


def test_random_bytes_never_crash() -> None:
    rng = random.Random(5)
    for name in FORMATS:
        blob = bytes(rng.getrandbits(8) for _ in range(20_000))
        result = match_buffer(SNAPSHOT, FORMATS[name], blob + b"\n" + blob.replace(b"\n", b"{"))
        assert result.lines >= 1


def test_stix_bundle_and_plain_list(tmp_path: Path) -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--1",
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--a",
                "pattern_type": "stix",
                "confidence": 80,
                "pattern": "[domain-name:value = 'Evil.example'] OR [ipv4-addr:value = '192.0.2.0/25']",  # noqa: E501
            },
            {
                "type": "indicator",
                "id": "indicator--b",
                "pattern_type": "stix",
                "pattern": "[file:hashes.'SHA-256' = '" + "AB" * 32 + "']",
            },
            {
                "type": "indicator",
                "id": "indicator--c",
                "pattern_type": "stix",
                "pattern": "[file:name = 'x.exe' AND file:size = 3]",
            },
            {"type": "indicator", "id": "indicator--d", "pattern_type": "sigma", "pattern": "x"},
            {
                "type": "indicator",
                "id": "indicator--e",
                "pattern_type": "stix",
                "revoked": True,
                "pattern": "[domain-name:value = 'revoked.example']",
            },
            {
                "type": "indicator",
                "id": "indicator--f",
                "pattern_type": "stix",
                "valid_until": "2001-01-01T00:00:00Z",
                "pattern": "[url:value = 'http://old.example/']",
            },
            {"type": "domain-name", "id": "domain-name--g", "value": "sco.example"},
            "not an object",
        ],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    refused: list[tuple[int, str]] = []
    indicators = list(load_indicator_file(path, refused))
    assert {(i.type, i.value, i.id, i.score) for i in indicators} == {
        ("domain", b"evil.example", "indicator--a", 80),
        ("cidr", b"192.0.2.0/25", "indicator--a", 80),
        ("sha256", b"ab" * 32, "indicator--b", None),
        ("domain", b"sco.example", "domain-name--g", None),
    }
    assert [n for n, _ in refused] == [3, 4, 8]
    plain = tmp_path / "list.txt"
    plain.write_text("# feed\nevil[.]example\nhxxp://bad.example/a\nnot a value\n\n10.0.0.0/8\n")
    refused = []
    values = [(i.type, i.value) for i in load_indicator_file(plain, refused)]
    assert values == [
        ("domain", b"evil.example"),
        ("url", b"http://bad.example/a"),
        ("cidr", b"10.0.0.0/8"),
    ]
    assert refused[0][0] == 4


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_detection(name: str) -> None:
    text, _ = labelled.generate(name, TRUTH, 5, seed=1)
    detected = detect_format(text.encode())
    if name == "zeek-conn-json":
        assert detected in ("zeek-conn-json",)
    assert detected == name or (name == "ndjson" and detected == "ndjson")


# ----- the compiled pre-filter never decides differently from the parser ------------------

_DIFF_SNAPSHOT = Snapshot.build(
    from_text(v)
    for v in (
        "evil.com",
        "bad.example.org",
        "xn--bcher-kva.example",
        "198.51.100.7",
        "203.0.113.0/24",
        "10.1.0.0/16",
        "2001:db8::/48",
        "2001:db8:ff::9",
        "http://evil.com/x",
        "d41d8cd98f00b204e9800998ecf8427e",
        "a@evil.com",
    )
)
_VALUES = [
    "evil.com", "A.EVIL.COM.", "notevil.com", "evil.com.example", "x.bad.example.org",
    "example.org", "bücher.example", "sub.bücher.example", "xn--bcher-kva.example",
    "198.51.100.7", "198.51.100.70", "198.051.100.7", "203.0.113.254", "203.0.114.1",
    "10.1.255.255", "10.2.0.1", "2001:db8::1", "2001:0DB8:0:0::1", "2001:db8:ff::9",
    "::ffff:198.51.100.7", "[198.51.100.7]", "198.51.100.7:443", "999.1.1.1", "1.2.3",
    "D41D8CD98F00B204E9800998ECF8427E", "A@Evil.com", "", ".", "..evil.com", "evil..com",
    "a b.evil.com", "evil.com\u0000", "é.evil.com", "\"quoted\".evil.com",
]  # fmt: skip


def _random_line(rng: random.Random) -> str:
    fields = ["id.orig_h", "id.resp_h", "query", "answers", "uid", "qtype_name"]
    obj: dict[str, object] = {"ts": rng.random()}
    for key in rng.sample(fields, rng.randint(0, len(fields))):
        if key == "answers":
            obj[key] = [rng.choice(_VALUES) for _ in range(rng.randint(0, 3))] + (
                [1, None] if rng.random() < 0.2 else []
            )
        else:
            obj[key] = rng.choice(_VALUES) if rng.random() < 0.9 else rng.randint(0, 9)
    if rng.random() < 0.3 and "id.orig_h" in obj:  # Zeek's nested form
        obj["id"] = {"orig_h": obj.pop("id.orig_h")}
    separators = rng.choice([(",", ":"), (", ", ": "), (",", " : ")])
    text = json.dumps(obj, separators=separators, ensure_ascii=rng.random() < 0.3)
    if rng.random() < 0.05:
        text = text[: rng.randint(0, len(text))]  # truncated
    return text


def test_compiled_prefilter_agrees_with_the_parser_on_random_lines(engine_path: str) -> None:
    rng = random.Random(2026)
    text = "\n".join(_random_line(rng) for _ in range(5000)) + "\n"
    fast = FORMATS["zeek-dns-json"]
    slow = Format(fast.name, fast.description, fast.family, fast.parse, None, fast.fields)
    key = lambda r: sorted((h.line, h.field, h.indicator, h.value) for h in r.hits)  # noqa: E731
    filtered = match_buffer(_DIFF_SNAPSHOT, fast, text.encode())
    every_line = match_buffer(_DIFF_SNAPSHOT, slow, text.encode())
    assert len(every_line.hits) > 500  # the lines do hit, in many ways
    assert key(filtered) == key(every_line)
    assert filtered.lines == every_line.lines == 5000
    # Truncated lines are reported by both (the filter hands them to the parser).
    assert {n for n, _, _ in filtered.bad} == {n for n, _, _ in every_line.bad} != set()


def test_ipv4_prefixes_merge_into_disjoint_ranges() -> None:
    from bulwark.monitoring.engine import v4batch

    pairs = [(10, 20), (0, 3), (15, 30), (31, 31), (40, 50), (42, 43), (60, 60)]
    starts = np.array([a for a, _ in pairs], dtype=np.int64)
    ends = np.array([b for _, b in pairs], dtype=np.int64)
    got_starts, got_ends = v4batch.merge_ranges(starts, ends)
    # nested (42-43 in 40-50), overlapping (10-20, 15-30) and adjacent (31) ranges merge
    assert list(zip(got_starts.tolist(), got_ends.tolist(), strict=True)) == [
        (0, 3),
        (10, 31),
        (40, 50),
        (60, 60),
    ]
    inside = v4batch.inside(np.array([3, 4, 31, 32, 45, 60, 61]), got_starts, got_ends)
    assert inside.tolist() == [True, False, True, False, True, True, False]


def test_mappings_beyond_the_compiled_scan_fall_back_to_the_passes() -> None:
    """A generic NDJSON mapping may name more keys, or longer ones, than the compiled scan
    takes: such a format is matched by the Python passes, not refused or crashed."""
    long_key = "k" * 2000
    many = {f"f{i}": "domain" for i in range(70)}
    snap = Snapshot.build([from_text("evil.com")])
    for mapping in ({long_key: "domain"}, many):
        fmt = ndjson_format(mapping)
        key = next(iter(mapping))
        line = json.dumps({key: "a.evil.com", "other": "x"}).encode() + b"\n"
        result = match_buffer(snap, fmt, line * 3, ctx={"map": mapping})
        assert [(h.line, h.indicator) for h in result.hits] == [
            (1, "evil.com"),
            (2, "evil.com"),
            (3, "evil.com"),
        ]


def test_json_with_blanks_around_colons_is_matched() -> None:
    """jq and Python's json.dumps write `"key": "value"`: valid JSON, matched like Zeek's
    compact form (the regex passes used to miss it)."""
    snap = Snapshot.build([from_text("evil.com"), from_text("203.0.113.0/24")])
    line = (
        b'{"ts": 1, "id.orig_h" : "203.0.113.9", "id.resp_h":\t"10.0.0.53", '
        b'"query": "a.evil.com", "answers": [ "x.example", "203.0.113.7" ]}\n'
    )
    compact = b'{"ts":2,"id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.53","query":"b.evil.com"}\n'
    result = match_buffer(snap, FORMATS["zeek-dns-json"], line + compact + line)
    assert sorted((h.line, h.field, h.indicator) for h in result.hits) == [
        (1, "answers", "203.0.113.0/24"),
        (1, "id.orig_h", "203.0.113.0/24"),
        (1, "query", "evil.com"),
        (2, "query", "evil.com"),
        (3, "answers", "203.0.113.0/24"),
        (3, "id.orig_h", "203.0.113.0/24"),
        (3, "query", "evil.com"),
    ]
