"""Issue 19: X-ARF and IODEF as the outside world checks them. Every sample of the
outside corpora (tests/corpus/, see its README) read or refused as its publisher says,
with the counts, the RSIT classes and the key fields asserted. Pure engine, no database.
The figures are recorded in docs/conformance.md."""

import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from bulwark.exchange.engine import formats
from bulwark.exchange.engine.event import Invalid, normalise
from bulwark.exchange.engine.formats import iodef, xarf
from bulwark.exchange.engine.formats.base import Context, Item, ReportError

CORPUS = Path(__file__).resolve().parent / "corpus"
ABUSIX = CORPUS / "abusix-xarf" / "samples"
SPEC = CORPUS / "xarf-spec" / "samples"
V0 = CORPUS / "xarf-0.x"
RFC = CORPUS / "iodef-rfc"


def parse(fmt: str, path: Path) -> tuple[list[Item], Context]:
    ctx = Context(file_name=path.name)
    return list(formats.parse(fmt, io.BytesIO(path.read_bytes()), ctx)), ctx


def events(items: list[Item]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        assert item.error is None and item.fields is not None, item.error
        out.append(normalise(item.fields))
    return out


# --- X-ARF JSON 1, 2, 3, alpha, development (abusix/xarf) -------------------------------

# ReportType -> RSIT type, the mapping docs/exchange.md states ("as IntelMQ would")
RSIT_OF_REPORT_TYPE = {
    "DOS": "ddos",
    "LoginAttack": "brute-force",
    "PortScan": "scanner",
    "WebCrawler": "scanner",
    "Spam": "spam",
    "Phishing": "phishing",
    "Botnet": "infected-system",
    "Malware": "infected-system",  # Activity/Malware; Content/Malware below
    "Exploit": "exploit",
    "ChildAbuse": "violence",
    "ChildSexualAbuseMaterial": "violence",
    "Harassment": "harmful-speech",
    "Copyright": "copyright",
    "Trademark": "masquerade",
    "OpenService": "potentially-unwanted-accessible",
    "PotentiallyCompromisedAccount": "unprivileged-account-compromise",
}


def test_every_abusix_positive_sample_is_read_into_one_event() -> None:
    per_version: Counter[str] = Counter()
    per_type: Counter[str] = Counter()
    for path in sorted(ABUSIX.glob("positive/*/*.json")):
        items, _ctx = parse("xarf", path)
        assert len(items) == 1, path
        assert items[0].error is None, (path.name, items[0].error)
        (event,) = events(items)
        report = orjson.loads(path.read_bytes())["Report"]
        expected = RSIT_OF_REPORT_TYPE[report["ReportType"]]
        if (report["ReportClass"], report["ReportType"]) == ("Content", "Malware"):
            expected = "malware-distribution"
        assert event["classification.type"] == expected, path
        per_version[path.parent.name] += 1
        per_type[report["ReportType"]] += 1
    assert per_version == {"1": 14, "2": 16, "3": 29, "alpha": 13, "development": 30}
    assert sum(per_version.values()) == 102
    assert len(per_type) == 16  # every report class of every version


def test_every_field_of_an_xarf_report_is_kept() -> None:
    """A field with an IntelMQ name is there under that name, every other one under
    `extra.` (snake_case), for all 102 positive samples."""
    checked = 0
    for path in sorted(ABUSIX.glob("positive/*/*.json")):
        document = orjson.loads(path.read_bytes())
        (item,) = parse("xarf", path)[0]
        fields = item.fields or {}
        for name in document["Report"]:
            target = xarf._V3_MAP.get(name)
            if name in ("ReportClass", "ReportType"):
                target = f"extra.report_{name[6:].lower()}"
            elif target is None:
                target = f"extra.{xarf._snake(name)}"
            assert target in fields, (path.name, name, target)
            checked += 1
        for name in document["ReporterInfo"]:
            assert f"extra.{xarf._snake(name)}" in fields, (path.name, name)
    assert checked > 600


def test_key_fields_of_the_v3_login_attack_sample() -> None:
    (item,), ctx = parse("xarf", ABUSIX / "positive/3/loginattack_sample.json")
    (event,) = events([item])
    assert {k: event[k] for k in (
        "source.ip", "source.port", "destination.ip", "destination.port", "time.source",
        "classification.type", "classification.taxonomy", "feed.provider",
    )} == {
        "source.ip": "192.0.2.55", "source.port": 54321, "destination.ip": "198.51.100.33",
        "destination.port": 80, "time.source": "2018-02-05T14:17:10+00:00",
        "classification.type": "brute-force", "classification.taxonomy": "intrusion-attempts",
        "feed.provider": "ExampleOrg",
    }  # fmt: skip
    assert event["extra.ongoing"] is True and event["extra.byte_count"] == 20000000
    assert event["extra.reporter_contact_phone"] == "+ 01 000 1234567"
    assert orjson.loads(event["extra.samples"])[0]["Description"] == "Log entry"
    assert ctx.provider == "ExampleOrg"


def test_every_abusix_negative_sample_is_refused_with_the_rule_named() -> None:
    per_version: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    rule = re.compile(
        r"X-ARF (1|2|3|alpha|development) schema \w+\.schema\.json, rule \S+ at \$\S*: \S"
    )
    for path in sorted(ABUSIX.glob("negative/*/*.json")):
        items, _ctx = parse("xarf", path)
        assert len(items) == 1 and items[0].fields is None, path
        error = items[0].error or ""
        if rule.match(error):
            kinds["schema rule"] += 1
        elif "is not a report type of this version" in error or "must be a string" in error:
            kinds["unknown ReportType"] += 1
        elif "does not exist" in error:
            kinds["unknown Version"] += 1
        else:
            pytest.fail(f"{path}: {error}")
        per_version[path.parent.name] += 1
    assert per_version == {"1": 37, "2": 38, "3": 50, "alpha": 31, "development": 50}
    assert kinds == {"schema rule": 186, "unknown ReportType": 19, "unknown Version": 1}


def test_the_reader_judges_every_sample_as_upstreams_super_schema_does() -> None:
    """The reader checks the class schemas declaring the report's type instead of the
    version's whole oneOf (ten times faster); on all 308 samples its verdict is the one of
    abusix's own super-schema (xarf.schema.json, anyOf over every version)."""
    root = xarf._validators()[""]
    judged = 0
    for path in sorted(ABUSIX.glob("*/*/*.json")):
        document = orjson.loads(path.read_bytes())
        try:
            ours = xarf.validation_error(document) is None
        except ValueError:
            ours = False
        assert ours == root.is_valid(document), path
        judged += 1
    assert judged == 308


def test_negative_samples_name_the_field_that_is_wrong() -> None:
    def error(name: str) -> str:
        (item,), _ctx = parse("xarf", ABUSIX / "negative" / name)
        return item.error or ""

    assert error("3/invalid_missing_reporter.json").endswith(
        "at $: 'ReporterInfo' is a required property"
    )
    assert error("3/invalid_report_class_report_type.json") == (
        "X-ARF 3 schema: Report.ReportType must be a string naming the report type, not 4"
    )
    assert error("3/invalid_ports.json").count("Port") >= 1


# --- X-ARF v4 (xarf/xarf-spec) ----------------------------------------------------------

V4_RSIT = {
    "messaging/spam": "spam", "messaging/bulk_messaging": "spam",
    "connection/login_attack": "brute-force", "connection/port_scan": "scanner",
    "connection/ddos": "ddos", "connection/infected_host": "infected-system",
    "connection/reconnaissance": "scanner", "connection/scraping": "scanner",
    "connection/sql_injection": "exploit", "connection/vulnerability_scan": "scanner",
    "content/phishing": "phishing", "content/malware": "malware-distribution",
    "content/csam": "violence", "content/csem": "violence",
    "content/exposed_data": "data-leak", "content/brand_infringement": "masquerade",
    "content/fraud": "masquerade", "content/remote_compromise": "system-compromise",
    "content/suspicious_registration": "other",
    "copyright/copyright": "copyright", "copyright/cyberlocker": "copyright",
    "copyright/link_site": "copyright", "copyright/p2p": "copyright",
    "copyright/ugc_platform": "copyright", "copyright/usenet": "copyright",
    "infrastructure/botnet": "infected-system",
    "infrastructure/compromised_server": "system-compromise",
    "reputation/blocklist": "other", "reputation/threat_intelligence": "other",
    "vulnerability/cve": "vulnerable-system", "vulnerability/open_service":
    "potentially-unwanted-accessible", "vulnerability/misconfiguration": "vulnerable-system",
}  # fmt: skip


def test_every_xarf_v4_sample_is_read_with_its_class() -> None:
    seen = set()
    for path in sorted(SPEC.glob("v4/*.json")):
        document = orjson.loads(path.read_bytes())
        items, ctx = parse("xarf", path)
        (event,) = events(items)
        kind = f"{document['category']}/{document['type']}"
        assert event["classification.type"] == V4_RSIT[kind], path
        assert event["classification.identifier"] == document["type"]
        assert event["extra.foreign_ticket"] == document["report_id"] == ctx.foreign_ticket
        for name in document:  # every field kept
            assert (
                name in xarf._V4_MAP or name in ("protocol", "domain") or (f"extra.{name}" in event)
            ), (path.name, name)
        seen.add(kind)
    assert len(seen) == 32 == len(V4_RSIT)


def test_key_fields_of_the_v4_login_attack_sample() -> None:
    items, _ctx = parse("xarf", SPEC / "v4/connection-login-attack.json")
    (event,) = events(items)
    assert event["source.ip"] == "198.51.100.77" and event["source.port"] == 45621
    assert event["destination.ip"] == "203.0.113.22" and event["destination.port"] == 22
    assert event["protocol.transport"] == "tcp" and event["protocol.application"] == "ssh"
    assert event["time.source"] == "2025-01-11T12:17:20+00:00"
    assert event["feed.provider"] == "SSH Honeypot Network"
    assert event["extra.attempt_count"] == 2847
    assert orjson.loads(event["extra.username_patterns"])[:2] == ["admin", "root"]


def test_the_v3_samples_of_xarf_spec_are_refused_they_match_no_published_schema() -> None:
    """xarf-spec's four "v3" samples say Version "3.0.0": abusix's v3 schema wants "3", and
    xarf-spec's own legacy schema refuses them on four rules each."""
    legacy = orjson.loads((xarf.SCHEMAS / "v3-legacy.json").read_bytes())
    paths = sorted(SPEC.glob("v3/*.json"))
    assert len(paths) == 4
    for path in paths:
        (item,), _ctx = parse("xarf", path)
        assert (item.error or "").startswith("X-ARF JSON Version '3.0.0' does not exist")
        broken = {e.json_path for e in Draft202012Validator(legacy).iter_errors(
            orjson.loads(path.read_bytes())
        )}  # fmt: skip
        assert {"$.Version", "$.ReporterInfo", "$.Report.ReportClass"} <= broken


# --- X-ARF 0.1 / 0.2: YAML in e-mail ----------------------------------------------------


def test_xarf_0_2_mail_is_read_from_its_yaml_part() -> None:
    path = V0 / "xarf-0.2-login-attack.eml"
    assert formats.detect(path.name, path.read_bytes()[:4096]) == "arf"
    items, ctx = parse("arf", path)
    (event,) = events(items)  # the evidence part is not a second record
    assert event["source.ip"] == "83.169.54.26"
    assert event["destination.port"] == 22 and event["protocol.application"] == "ssh"
    assert event["classification.type"] == "brute-force"
    assert event["classification.identifier"] == "login-attack"
    assert event["time.source"] == "2014-02-03T01:13:35+00:00"
    assert event["extra.xarf_version"] == "0.2"
    assert event["extra.schema_url"].endswith("abuse_login-attack_0.1.1.json")
    assert ctx.foreign_ticket == "1234567"


def test_xarf_0_1_mail_with_base64_report_txt() -> None:
    items, ctx = parse("arf", V0 / "xarf-0.1-fraud-scam.eml")
    (event,) = events(items)  # the YAML quoted in the text part is not read twice
    assert event["source.url"] == "http://shop-pills.example.com"
    assert event["source.fqdn"] == "shop-pills.example.com" and event["source.port"] == 80
    assert event["classification.type"] == "masquerade"
    assert event["time.source"] == "2013-01-20T15:44:01+00:00"
    assert ctx.foreign_ticket == "16104@reports.example.org"


def test_pyxarf_yaml_alone_and_a_report_missing_mandatory_fields() -> None:
    path = V0 / "pyxarf-test.yaml"
    assert formats.detect(path.name, path.read_bytes()) == "xarf"
    (event,) = events(parse("xarf", path)[0])
    assert event["source.ip"] == "83.169.54.26" and event["extra.user_agent"] == "pyxarf 0.0.1"
    (item,), _ctx = parse("arf", V0 / "xarf-0.2-missing-report-id.eml")
    assert item.error == "X-ARF 0.x: the mandatory fields Report-ID, Schema-URL are missing"
    bad = b"Reported-From: a@b.example\nCategory: spam\nReport-Type: x\n"
    with pytest.raises(AssertionError):
        events(list(formats.parse("xarf", io.BytesIO(bad), Context())))


def test_xarf_0_x_value_lists_are_checked() -> None:
    text = (V0 / "pyxarf-test.yaml").read_text()
    with pytest.raises(ValueError, match="Category 'complaint' is not one of abuse, fraud"):
        xarf.v0_fields(text.replace("Category: abuse", "Category: complaint"), Context())
    with pytest.raises(ValueError, match="Source-Type 'host'"):
        xarf.v0_fields(text.replace("Source-Type: ip-address", "Source-Type: host"), Context())


# --- IODEF: RFC 7970 and RFC 5070 examples ----------------------------------------------


def test_every_rfc_example_is_valid_by_its_schema() -> None:
    """RFC 7970 7.2 as published uses BulkObservable type "fqdn", which its own schema does
    not list (errata 6163): it is read as the erratum corrects it, and nothing else is
    excused (the same document with another unknown type is still refused)."""
    valid = []
    for path in sorted(RFC.glob("*.xml")):
        namespace = iodef.V1_NS if path.name.startswith("rfc5070") else iodef.NS
        errors = iodef.schema_errors(path.read_bytes(), namespace)
        assert errors == [], (path.name, errors)
        valid.append(path.name)
    assert len(valid) == 7  # 4 of RFC 5070, 3 of RFC 7970 (7.2 as published and corrected)
    published = (RFC / "rfc7970-7_2-indicators-from-a-campaign.xml").read_bytes()
    errors = iodef.schema_errors(published.replace(b'type="fqdn"', b'type="hostname"'))
    assert errors and "The value 'hostname' is not an element" in errors[0]


def test_rfc7970_minimal_example_is_read_with_no_event() -> None:
    items, ctx = parse("iodef", RFC / "rfc7970-7_1-minimal-example.xml")
    assert items == []
    assert ctx.foreign_ticket == "csirt.example.com#492382"


@pytest.mark.parametrize(
    "name",
    [
        "rfc7970-7_2-indicators-from-a-campaign.xml",  # as published
        "rfc7970-7_2-indicators-from-a-campaign.errata-6163.xml",  # as the erratum corrects it
    ],
)
def test_rfc7970_campaign_indicators_become_events(name: str) -> None:
    items, ctx = parse("iodef", RFC / name)
    got = events(items)
    assert [e["source.fqdn"] for e in got] == [
        "kj290023j09r34.example.com",
        "09ijk23jfj0k8.example.net",
        "klknjwfjiowjefr923.example.org",
        "oimireik79msd.example.org",
    ]
    assert {e["extra.indicator_id"] for e in got} == {"csirt.example.com#G90823490"}
    assert {e["time.source"] for e in got} == {"2014-12-02T16:18:00+00:00"}
    assert {e["extra.restriction"] for e in got} == {"green"}
    assert ctx.foreign_ticket == "csirt.example.com#897923"


@pytest.mark.parametrize(
    ("name", "addresses", "rsit"),
    [
        (
            "rfc5070-7_1-worm.xml",
            ["192.0.2.200", "dst:192.0.2.16"],
            "privileged-account-compromise",
        ),
        (
            "rfc5070-7_2-reconnaissance.xml",
            ["192.0.2.200", "dst:192.0.2.201", "192.0.2.240", "dst:192.0.2.64"],
            "scanner",
        ),
        ("rfc5070-7_3-bot-net-reporting.xml", ["192.0.2.1", "192.0.2.3", "192.0.2.20"], "dos"),
        (
            "rfc5070-7_4-watch-list.xml",
            ["192.0.2.53", "192.0.2.16", "192.0.2.241"],
            "privileged-account-compromise",
        ),
    ],
)
def test_rfc5070_examples_are_read(name: str, addresses: list[str], rsit: str) -> None:
    items, ctx = parse("iodef", RFC / name)
    got = events(items)
    assert [e.get("source.ip") or f"dst:{e['destination.ip']}" for e in got] == addresses
    assert {e["classification.type"] for e in got} == {rsit}
    assert {e["extra.iodef_version"] for e in got} == {"1.00"}
    assert ctx.foreign_ticket.startswith("csirt.example.com#")


def test_rfc5070_networks_and_node_names_are_kept() -> None:
    worm = events(parse("iodef", RFC / "rfc5070-7_1-worm.xml")[0])
    assert worm[1]["extra.destination_network"] == "192.0.2.16/28"
    watch = events(parse("iodef", RFC / "rfc5070-7_4-watch-list.xml")[0])
    assert watch[1]["source.network"] == "192.0.2.16/28"
    bots = events(parse("iodef", RFC / "rfc5070-7_3-bot-net-reporting.xml")[0])
    assert bots[2]["source.fqdn"] == "irc.example.com"
    assert bots[2]["extra.system_category"] == "intermediate"


def test_iodef_invalid_by_the_schema_is_refused_with_the_element_named() -> None:
    document = (RFC / "rfc7970-7_1-minimal-example.xml").read_bytes()
    no_id = re.sub(rb"<IncidentID[^>]*>\d+</IncidentID>", b"", document)
    with pytest.raises(ReportError, match="Element 'GenerationTime': This element is not exp"):
        list(formats.parse("iodef", io.BytesIO(no_id), Context()))
    bad_purpose = document.replace(b'purpose="reporting"', b'purpose="gossip"')
    with pytest.raises(ReportError, match="attribute 'purpose'"):
        list(formats.parse("iodef", io.BytesIO(bad_purpose), Context()))


def test_one_xml_guard_for_the_exchange_and_the_incident_importer() -> None:
    from bulwark.incidents import interchange

    assert interchange.parse_xml is iodef.parse_xml
    assert not hasattr(interchange, "_parse_xml")
    with pytest.raises(ValueError, match="DTD"):
        interchange.parse_iodef(b'<!DOCTYPE x [<!ENTITY a "b">]><IODEF-Document/>')


def test_a_record_that_cannot_become_an_event_is_still_counted() -> None:
    sample = Path(__file__).resolve().parent.parent / "samples" / "iodef-botnet-from-krcert.xml"
    items, _ctx = parse("iodef", sample)
    assert len(items) == 3
    with pytest.raises(Invalid, match="not-an-address"):
        normalise(items[2].fields or {})


# --- through the real intake (database) -------------------------------------------------


def test_an_xarf_0_2_mail_in_the_maildir_becomes_an_event_with_its_ticket(
    constituency: Any,
) -> None:
    from bulwark.exchange import intake
    from bulwark.exchange.models import Event, Report

    outcome = intake.handle((V0 / "xarf-0.2-login-attack.eml").read_bytes())
    assert outcome.kind == "report"
    report = Report.objects.get()
    assert (report.source, report.format, report.status) == ("email", "arf", "done")
    assert report.foreign_ticket == "1234567"
    event = Event.objects.get()
    assert event.fields["source.ip"] == "83.169.54.26"
    assert event.fields["classification.type"] == "brute-force"
    assert event.fields["extra.xarf_version"] == "0.2"


@pytest.mark.parametrize(
    ("name", "stored", "status"),
    [
        ("rfc7970-7_1-minimal-example.xml", 0, "done"),
        ("rfc7970-7_2-indicators-from-a-campaign.errata-6163.xml", 4, "done"),
        ("rfc7970-7_2-indicators-from-a-campaign.xml", 4, "done"),
        ("rfc5070-7_3-bot-net-reporting.xml", 3, "done"),
    ],
)
def test_rfc_examples_through_ingest(
    constituency: Any, name: str, stored: int, status: str
) -> None:
    from bulwark.exchange import services
    from bulwark.exchange.models import Event, Quarantined

    with (RFC / name).open("rb") as stream:
        result = services.ingest(None, stream, file_name=name)
    assert result.report.format == "iodef"
    assert result.report.status == status
    assert Event.objects.count() == stored
    assert result.report.foreign_ticket.startswith("csirt.example.com#")
    assert not Quarantined.objects.exists()


def test_an_invalid_iodef_document_is_kept_whole_with_the_schemas_rule(constituency: Any) -> None:
    from bulwark.exchange import services
    from bulwark.exchange.models import Event, Quarantined

    published = (RFC / "rfc7970-7_2-indicators-from-a-campaign.xml").read_bytes()
    broken = published.replace(b'type="fqdn"', b'type="hostname"')
    result = services.ingest(None, io.BytesIO(broken), file_name="campaign.xml")
    assert result.report.status == "failed"
    assert Event.objects.count() == 0
    (entry,) = Quarantined.objects.all()
    assert "RFC 7970 schema" in entry.reason and "'hostname'" in entry.reason
