"""Shadowserver reports as IntelMQ reads them (issue 19): IntelMQ's own test CSVs, the
events IntelMQ's parser makes of them with Shadowserver's current schema, and the events
IntelMQ's older tests expected. Pure engine; the corpus is described in its README."""

import io
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from bulwark.exchange.engine import fields as harmonised
from bulwark.exchange.engine.event import TAXONOMY_OF_TYPE, TYPE_ALIASES, Invalid, normalise
from bulwark.exchange.engine.formats import detect, shadowserver
from bulwark.exchange.engine.formats.base import Context, Item, csv_rows

CORPUS = Path(__file__).resolve().parent / "corpus" / "shadowserver"
# Fields Bulwark sets itself: the feed is named by Bulwark (shadowserver-<report>), the
# time of observation is when Bulwark received the report, and the report's page at
# Shadowserver (feed.documentation) is kept once per report type, not in every event
# (checked apart below).
NOT_COMPARED = {"feed.name", "feed.provider", "time.observation", "feed.documentation"}
# Harmonised in IntelMQ 3.4 and Bulwark; the IntelMQ the corpus was made with (3.3) kept
# them under extra.
NEWER = set(harmonised.NEWER_FIELDS)
OBSERVED = "2026-12-07T00:00:00+00:00"


@cache
def expected() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = orjson.loads((CORPUS / "expected.json").read_bytes())["cases"]
    return cases


@cache
def intelmq_current() -> dict[str, Any]:
    found: dict[str, Any] = orjson.loads((CORPUS / "intelmq-current.json").read_bytes())["cases"]
    return found


def parse_case(case: dict[str, Any], file_name: str | None = None) -> tuple[Context, list[Item]]:
    ctx = Context(file_name=case["file_name"] if file_name is None else file_name)
    with (CORPUS / case["csv"]).open("rb") as handle:
        return ctx, list(shadowserver.parse(handle, ctx))


def by_line(items: list[Item]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for item in items:
        found.setdefault(item.raw.rstrip("\r\n"), item)
    return found


def ours(item: Item) -> dict[str, Any]:
    assert item.fields is not None
    return {k: v for k, v in item.fields.items() if k not in NOT_COMPARED}


def theirs(event: dict[str, Any]) -> dict[str, Any]:
    wanted = {k: v for k, v in event.items() if k not in NOT_COMPARED}
    for key in [k for k in wanted if k[6:] in NEWER]:
        wanted[key[6:]] = wanted.pop(key)
    return wanted


def test_every_event_intelmq_makes_with_the_current_schema() -> None:
    """Every field of every event, values and JSON types alike, equal to what IntelMQ's
    parser makes of the same line; the known differences are listed with their reason."""
    total = equal = 0
    differences: dict[tuple[str, str], Any] = {}
    for case in expected():
        ctx, items = parse_case(case)
        lines = by_line(items)
        for record in intelmq_current()[case["case"]]["events"]:
            total += 1
            item = lines.get(record["line"].rstrip("\r\n"))
            assert item is not None, (case["case"], record["line"])
            if item.fields is None:
                differences[(case["case"], record["line"][:60])] = item.error
                continue
            got, want = ours(item), theirs(record["event"])
            page = record["event"].get("feed.documentation") or ""
            assert page == shadowserver.documentation_url(ctx.report_type), case["case"]
            if got == want and all(type(got[k]) is type(want[k]) for k in got):
                equal += 1
                continue
            keys = {k for k in got.keys() | want.keys() if got.get(k, "?") != want.get(k, "?")}
            differences[(case["case"], record["line"][:60])] = sorted(keys)
    assert total == 740
    assert differences == {
        # A malformed address in the report's required `src_ip`: IntelMQ makes an event
        # without any address, Bulwark refuses the line (it cannot be routed) with why.
        (
            "honeypot_ddos_amp",
            '"2021-03-28 00:00:02",,"37.120.178.9.10",,197540,"DE","NIEDE',
        ): "'37.120.178.9.10' is not an IPv4 or IPv6 address",
        # An empty `end_time`: IntelMQ's date parser reads the "+00:00" it appends as
        # midnight of the day it runs; Bulwark leaves the field out.
        (
            "honeypot_ddos_amp",
            '"2021-03-28 00:00:02",,"65.131.5.6",,209,"US","WYOMING","CAS',
        ): ["extra.end_time"],
        (
            "honeypot_ddos_amp",
            '"2021-03-28 00:00:02",,"104.162.7.8",,12271,"US","NEW YORK",',
        ): ["extra.end_time"],
    }
    assert equal == 737


# Fields that say which host, when and what: these agree with the expectations of
# IntelMQ's older tests too (the rest changed with Shadowserver's schema: see
# docs/conformance.md).
IDENTITY = (
    "time.source", "source.ip", "source.port", "source.asn", "source.network",
    "source.geolocation.cc", "destination.ip", "destination.port", "destination.asn",
    "protocol.transport",
)  # fmt: skip


def test_the_events_intelmqs_older_tests_expected() -> None:
    total = found = same_identity = 0
    for case in expected():
        _ctx, items = parse_case(case)
        lines = by_line(items)
        for record in case["events"]:
            total += 1
            item = lines.get((record["line"] or "").rstrip("\r\n"))
            if item is None or item.fields is None:
                continue
            found += 1
            want = record["event"]
            if all(item.fields.get(k) == want.get(k) for k in IDENTITY):
                same_identity += 1
    assert total == 265 and found == 265
    # All but event4_sinkhole_http_referer's 5: the schema now names the referring host
    # (`src_ip`) source.ip; the old tests kept it as extra.http_referer_ip.
    assert same_identity == 260


def test_every_corpus_event_becomes_a_bulwark_event() -> None:
    made = refused = 0
    reasons: set[str] = set()
    for case in expected():
        _ctx, items = parse_case(case)
        for item in items:
            if item.fields is None:
                reasons.add(f"{case['case']}: {item.error}")
                continue
            try:
                normalise(item.fields, {"time.observation": OBSERVED})
                made += 1
            except Invalid as exc:
                refused += 1
                reasons.add(f"{case['case']}: {exc}")
    assert made == 745
    # sandbox_dns names the looked-up domain only in extra.request (as IntelMQ maps it):
    # nothing Bulwark can route.
    assert refused == 3 and reasons == {
        "sandbox_dns: no source or destination address, domain, URL or AS",
        "honeypot_ddos_amp: '37.120.178.9.10' is not an IPv4 or IPv6 address",
    }


def test_every_report_type_of_the_schema_maps_to_an_rsit_class() -> None:
    reports = shadowserver.schema()
    assert len(reports) == 170
    for name, entry in reports.items():
        constants = entry["constant_fields"]
        if "classification.type" in constants:
            kind = str(constants["classification.type"]).lower()
            assert TYPE_ALIASES.get(kind, kind) in TAXONOMY_OF_TYPE, name
        else:  # scan_exchange: from its tag
            mapped = {f[0] for f in entry["optional_fields"] + entry["required_fields"]}
            assert "classification.type" in mapped, name
        _required, columns = shadowserver.columns_of(entry)
        header = sorted(columns | {"timestamp"})
        assert shadowserver.report_type("", header) in reports  # some report reads it
        plan = shadowserver.plan(name, header)
        row = ["2026-11-20 00:00:00" if c == "timestamp" else "" for c in header]
        fields, problem = plan.apply(row)
        assert problem == "" and fields is not None, name


def test_report_type_from_the_header_when_the_file_was_renamed() -> None:
    told = 0
    ambiguous = []
    for case in expected():
        named = shadowserver._from_name(case["file_name"])
        header = next(csv_rows(io.BytesIO((CORPUS / case["csv"]).read_bytes())))[1]
        assert header is not None
        try:
            guessed = shadowserver.report_type("renamed.csv", header)
        except ValueError:
            guessed = ""
        if guessed == named:
            told += 1
            data = (CORPUS / case["csv"]).read_bytes()[:8192]
            assert detect("renamed.csv", data) == "shadowserver", case["case"]
        else:
            ambiguous.append(case["case"])
    # The others share their exact column list with another report (the event4_*
    # sinkhole and honeypot layouts, scan_ldap_tcp/udp, ...), or are no longer in the
    # schema (phish_url): keep Shadowserver's file name for those.
    assert told == 81, ambiguous


def test_the_issues_examples() -> None:
    cases = {c["case"]: c for c in expected()}

    def events(name: str) -> list[dict[str, Any]]:
        _ctx, items = parse_case(cases[name])
        return [i.fields for i in items if i.fields is not None]

    # honeypot DDoS, DDoS target/participant, HTTP scan: not infected systems
    for name, kind in [
        ("event4_honeypot_ddos", "ddos"),
        ("event4_honeypot_ddos_target", "ddos"),
        ("event4_ddos_participant", "ddos"),
        ("event4_honeypot_http_scan", "scanner"),
    ]:
        assert {e["classification.type"] for e in events(name)} == {kind}, name
    # sinkhole HTTP: the C2 domain is the destination, not the infected source
    sinkhole = events("event4_sinkhole_http")[0]
    assert sinkhole["destination.fqdn"] == "differentia.ru" and "source.fqdn" not in sinkhole
    # a CIDR in a blocklist is the source network
    blocklist = events("blocklist")
    assert blocklist[2]["source.network"] == "198.123.245.0/24"
    assert normalise(blocklist[2])["source.network"] == "198.123.245.0/24"
    # a relative URL in compromised_website becomes the full URL on its host
    website = events("compromised_website")[0]
    assert website["source.url"] == "http://example.com/header.php"
    # report types the old parser refused are read
    for name in ("device_id", "event4_sinkhole_dns", "malware_url", "population_http_proxy",
                 "sandbox_url", "special", "event4_sinkhole_http_referer"):  # fmt: skip
        assert events(name), name


def test_escaped_quotes_and_a_row_one_column_short() -> None:
    data = (
        b'"timestamp","ip","port","hostname","tag","asn","geo","region","city"\n'
        b'"2026-11-20 00:00:01","198.18.0.1",23,"a "quoted" name",telnet,64496,TW,X,Y\n'
        b'"2026-11-20 00:00:02","198.18.0.2",23,,telnet,64496,TW,X\n'
        b'"2026-11-20 00:00:03","198.18.0.3",23\n'
    )
    items = list(
        shadowserver.parse(io.BytesIO(data), Context(file_name="2026-11-20-scan_telnet-x.csv"))
    )
    assert [i.number for i in items if i.fields] == [2, 3]
    assert items[0].fields is not None and items[0].fields["extra.hostname"] == 'a quoted" name"'
    assert items[1].fields is not None and items[1].fields["source.geolocation.region"] == "X"
    assert items[2].error == "3 columns, the header has 9"


@pytest.mark.parametrize(
    ("value", "result"),
    [
        ("2026-11-20 01:02:03", "2026-11-20T01:02:03+00:00"),
        ("2026-11-20 01:02:03 UTC", "2026-11-20T01:02:03+00:00"),
        ("Mon, 10 Jan 2022 00:01:44 GMT", "2022-01-10T00:01:44+00:00"),
        ("2026-11-20T01:02:03+08:00", "2026-11-19T17:02:03+00:00"),
    ],
)
def test_times_as_shadowserver_writes_them(value: str, result: str) -> None:
    assert harmonised.parse_time(value) == result


def test_the_feed_name_says_which_report_a_renamed_file_is() -> None:
    case = next(c for c in expected() if c["case"] == "event4_honeypot_ddos")
    ctx, _items = parse_case(case, file_name="renamed.csv")
    assert ctx.report_type != "event4_honeypot_ddos"  # its columns are another report's too
    named = Context(file_name="renamed.csv", feed="shadowserver-event4_honeypot_ddos")
    with (CORPUS / case["csv"]).open("rb") as handle:
        items = list(shadowserver.parse(handle, named))
    assert named.report_type == "event4_honeypot_ddos"
    assert {i.fields["classification.identifier"] for i in items if i.fields} == {"honeypot-ddos"}
