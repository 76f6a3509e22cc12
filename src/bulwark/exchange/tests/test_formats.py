"""Every format from real-looking samples, plus broken, hostile and oversized input:
a clear reason per refused record, and every other record still read. Pure engine."""

import codecs
import io
import os
import tempfile
from pathlib import Path

import orjson
import pytest

from bulwark.exchange.engine import formats
from bulwark.exchange.engine.event import Invalid, dedupe_key, event_id, normalise
from bulwark.exchange.engine.formats import shadowserver
from bulwark.exchange.engine.formats.base import MAX_LINE_BYTES, Context, ReportError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def read(fmt: str, data: bytes, name: str = "", **ctx: object) -> tuple[list, list, Context]:
    context = Context(file_name=name, **ctx)  # type: ignore[arg-type]
    good, bad = [], []
    for item in formats.parse(fmt, io.BytesIO(data), context):
        if item.error:
            bad.append(item)
            continue
        try:
            good.append((item.number, normalise(item.fields)))
        except Invalid as exc:
            item.error = str(exc)
            bad.append(item)
    return good, bad, context


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


SHADOW = "2026-11-20-scan_ntp-taiwan-geo.csv"


def test_shadowserver_type_from_file_name_and_fields_in_intelmq_names() -> None:
    good, bad, ctx = read("shadowserver", sample(SHADOW), SHADOW)
    assert ctx.report_type == "scan_ntp"
    assert len(good) == 10
    assert [(b.number, b.error) for b in bad] == [
        (11, "'198.18.12.300' is not an IPv4 or IPv6 address"),
        (12, "4 columns, the header has 16"),
    ]
    line, first = good[0]
    assert line == 2
    assert first["source.ip"] == "198.18.12.7"
    assert first["source.port"] == 123 and first["source.asn"] == 64499
    # as Shadowserver's schema classifies its NTP Version report
    assert first["classification.taxonomy"] == "vulnerable"
    assert first["classification.type"] == "vulnerable-system"
    assert first["classification.identifier"] == "ntp-version"
    assert first["protocol.application"] == "ntp"
    assert first["feed.name"] == "shadowserver-scan_ntp"
    assert first["feed.provider"] == "Shadowserver"
    assert first["time.source"] == "2026-11-20T01:12:44+00:00"
    assert first["source.geolocation.cc"] == "TW"
    assert first["extra.stratum"] == 2  # converted as the schema says (an integer)
    assert first["source.geolocation.city"] == "TAIPEI"
    assert shadowserver.documentation_url(ctx.report_type).startswith("https://www.shadowserver")
    # the IPv6 row, canonicalised
    assert any(e["source.ip"] == "2001:db8:3::53" for _n, e in good)


def test_shadowserver_type_from_header_when_the_file_was_renamed() -> None:
    data = (
        b"timestamp,src_ip,src_port,src_asn,src_geo,dst_ip,dst_port,infection,protocol\n"
        b"2026-11-20 00:00:01,198.18.44.17,40211,64507,TW,192.0.2.9,80,mirai,tcp\n"
    )
    good, bad, ctx = read("shadowserver", data, "report.csv")
    assert ctx.report_type == "event4_sinkhole" and not bad
    event = good[0][1]
    assert event["classification.type"] == "infected-system"
    assert event["classification.identifier"] == "mirai"
    assert event["malware.name"] == "mirai"
    assert event["destination.ip"] == "192.0.2.9"


def test_shadowserver_unknown_report_is_refused_with_advice() -> None:
    with pytest.raises(ReportError, match="file name"):
        read("shadowserver", b"timestamp,foo\n2026-11-20,1\n", "x.csv")
    with pytest.raises(ReportError, match="file name"):  # a report no longer published
        read("shadowserver", b"timestamp,foo\n2026-11-20,1\n", "2026-11-20-old_thing-x.csv")


def test_xarf_mail_keeps_the_senders_ticket() -> None:
    good, bad, ctx = read("arf", sample("xarf-login-attack-from-jpcert.eml"))
    assert not bad and len(good) == 1
    assert ctx.foreign_ticket == "JPCERT#2026-1120-0042"
    event = good[0][1]
    assert event["source.ip"] == "198.18.20.9"
    assert event["classification.type"] == "brute-force"
    assert event["destination.port"] == 22
    assert event["extra.foreign_ticket"] == "JPCERT#2026-1120-0042"


def test_xarf_json_alone_and_broken_reports() -> None:
    report = orjson.loads(
        sample("xarf-login-attack-from-jpcert.eml")
        .split(b'filename="xarf.json"\n\n')[1]
        .split(b"\n--xarf")[0]
    )
    good, bad, _ = read("xarf", orjson.dumps(report))
    assert len(good) == 1 and not bad
    invented = {**report, "Version": "0.2"}  # the JSON "0.2" Bulwark once wrote: never existed
    missing = {**report, "Report": {k: v for k, v in report["Report"].items() if k != "Date"}}
    bad_ip = {**report, "Report": {**report["Report"], "SourceIp": "198.18.20.300"}}
    good, bad, _ = read("xarf", orjson.dumps([report, invented, missing, bad_ip]))
    assert len(good) == 1
    assert [b.number for b in bad] == [2, 3, 4]
    assert bad[0].error.startswith("X-ARF JSON Version '0.2' does not exist")
    assert "'Date' is a required property" in bad[1].error
    assert bad[1].error.startswith("X-ARF 3 schema loginattack.schema.json, rule ")
    assert "$.Report.SourceIp" in bad[2].error


def test_rfc5965_feedback_report() -> None:
    mail = (
        b"From: abuse@isp.example\r\nTo: cert@ncsc.example\r\nSubject: FW: spam\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSpam from your network.\r\n"
        b"--b\r\nContent-Type: message/feedback-report\r\n\r\n"
        b"Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n"
        b"Source-IP: 198.18.24.5\r\nArrival-Date: Thu, 19 Nov 2026 23:55:01 +0000\r\n"
        b"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: x@y.example\r\n"
        b"--b--\r\n"
    )
    good, bad, _ = read("arf", mail)
    assert not bad
    assert good[0][1]["source.ip"] == "198.18.24.5"
    assert good[0][1]["classification.type"] == "spam"
    assert good[0][1]["time.source"] == "2026-11-19T23:55:01+00:00"


def test_mail_without_a_report_part_is_refused() -> None:
    with pytest.raises(ReportError, match="no X-ARF part"):
        read("arf", b"From: a@b.example\nSubject: hello\n\nJust text.\n")


def test_iodef_v2_systems_and_the_senders_incident_id() -> None:
    good, bad, ctx = read("iodef", sample("iodef-botnet-from-krcert.xml"))
    assert ctx.foreign_ticket == "krcert.example#KR-2026-77031"
    assert [e["source.ip"] for _n, e in good] == ["198.18.44.17", "2001:db8:b::1:17"]
    assert good[0][1]["source.port"] == 23 and good[0][1]["protocol.transport"] == "tcp"
    assert good[0][1]["classification.type"] == "infected-system"
    assert [(b.number, b.error) for b in bad] == [
        (3, "'not-an-address' is not an IPv4 or IPv6 address")
    ]


def _entity(i: int) -> bytes:
    body = (f"&lol{i - 1};" if i > 1 else "&lol;") * 10
    return f'<!ENTITY lol{i} "{body}">'.encode()


def test_iodef_entity_expansion_and_external_entities_are_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(_entity(i) for i in range(1, 10))
        + b']><IODEF-Document xmlns="urn:ietf:params:xml:ns:iodef-2.0">&lol9;</IODEF-Document>'
    )
    with pytest.raises(ReportError, match="DTD"):
        read("iodef", laughs)
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<IODEF-Document xmlns="urn:ietf:params:xml:ns:iodef-2.0">&x;</IODEF-Document>'
    )
    with pytest.raises(ReportError, match="Refused"):
        read("iodef", xxe)
    with pytest.raises(ReportError, match="not well-formed"):
        read("iodef", b"<IODEF-Document><Incident>")
    # IODEF v1 is read (tests/test_conformance_xarf_iodef.py), but by its schema: an empty
    # document breaks two of its rules, both named
    v1 = b'<IODEF-Document xmlns="urn:ietf:params:xml:ns:iodef-1.0" version="1.00"/>'
    with pytest.raises(ReportError, match=r"not valid IODEF 1.00 \(RFC 5070 schema\)") as refused:
        read("iodef", v1)
    assert "'lang' is required" in str(refused.value)
    assert "Expected is ( Incident )" in str(refused.value)


def test_stix_bundle_observables_and_indicators() -> None:
    good, bad, _ = read("stix", sample("stix-phishing-bundle.json"))
    assert [b.error for b in bad] == ["the indicator pattern is not one value equality"]
    by_value = {e.get("source.ip") or e.get("source.fqdn"): e for _n, e in good}
    assert by_value["198.18.56.80"]["malware.name"] == "Emotet"
    assert by_value["198.18.56.80"]["classification.type"] == "system-compromise"
    assert by_value["login.water.example.com.tw"]["source.url"].startswith("http://login.")
    assert "evil-moea.gov.tw" in by_value
    with pytest.raises(ReportError, match=r"not a STIX 2\.1 bundle"):
        read("stix", b'{"type": "indicator"}')


def test_intelmq_events_line_by_line() -> None:
    good, bad, _ = read("intelmq", sample("intelmq-events.jsonl"))
    assert [(b.number, b.error) for b in bad] == [
        (4, "'yesterday' is not an ISO 8601 time"),
        (5, "not JSON: invalid literal, expected 'true': line 1 column 1 (char 0)"),
    ]
    assert [n for n, _e in good] == [1, 2, 3, 6]
    assert good[0][1]["classification.type"] == "other"  # IntelMQ's "blacklist"
    assert good[0][1]["classification.taxonomy"] == "other"
    assert "raw" not in good[0][1]
    assert good[2][1]["source.fqdn"] == "files.ntuh.example.gov.tw"


def test_generic_csv_and_json_with_a_saved_mapping() -> None:
    mapping = {
        "columns": {"source.ip": "Address", "time.source": "Seen"},
        "constants": {"classification.type": "scanner"},
        "delimiter": ";",
    }
    data = b"Seen;Address;Note\n2026-11-20T00:00:00Z;198.18.0.9;ports 22,23\n;bad;\n"
    good, bad, _ = read("csv", data, options={"mapping": mapping})
    assert good[0][1]["source.ip"] == "198.18.0.9" and good[0][1]["extra.note"] == "ports 22,23"
    assert bad[0].number == 3
    with pytest.raises(ReportError, match="mapping"):
        read("csv", data)
    json_mapping = {
        "columns": {"source.ip": "host.ip"},
        "constants": {"classification.type": "spam"},
    }
    good, bad, _ = read(
        "json", b'[{"host": {"ip": "198.18.0.10"}}, 7]', options={"mapping": json_mapping}
    )
    assert good[0][1]["source.ip"] == "198.18.0.10"
    assert bad[0].error == "a record is not a JSON object"


def test_wrong_encodings() -> None:
    header = sample(SHADOW).split(b"\n")[0]
    big5 = "臺北".encode("big5")
    data = (
        header + b"\n"
        b'"2026-11-20 01:12:44","198.18.12.7","udp",123,"' + big5 + b'","ntp",64499,"TW","TAIPEI",'
        b'"TAIPEI",0,0,"4","0x0",2,"UNIX"\n'
        b'"2026-11-20 01:12:45","198.18.12.8","udp",123,,"ntp",64499,"TW","TAIPEI","TAIPEI",0,0,'
        b'"4","0x0",2,"UNIX"\n'
    )
    good, bad, _ = read("shadowserver", data, SHADOW)
    assert [n for n, _e in good] == [3]
    assert bad[0].number == 2 and bad[0].error.startswith("not UTF-8 (byte 0xbb")
    # UTF-16 with a byte-order mark (spreadsheet exports) is read as such.
    utf16 = codecs.BOM_UTF16_LE + data.replace(big5, b"").decode().encode("utf-16-le")
    good, bad, _ = read("shadowserver", utf16, SHADOW)
    assert len(good) == 2 and not bad
    # UTF-8 with a BOM
    good, bad, _ = read("shadowserver", codecs.BOM_UTF8 + data.replace(big5, b""), SHADOW)
    assert len(good) == 2


def test_a_100_mb_line_is_refused_and_the_lines_after_it_are_read() -> None:
    header = sample(SHADOW).split(b"\n")[0]
    row = sample(SHADOW).split(b"\n")[1]
    with tempfile.TemporaryFile() as handle:
        handle.write(header + b"\n" + row + b"\n")
        handle.write(b'"2026-11-20 00:00:00","198.18.0.1","udp",123,"')
        chunk = b"A" * (1 << 20)
        for _ in range(100):
            handle.write(chunk)
        handle.write(b'"\n' + row.replace(b"198.18.12.7", b"198.18.12.9") + b"\n")
        handle.seek(0)
        context = Context(file_name=SHADOW)
        items = list(formats.parse("shadowserver", handle, context))
    assert [i.number for i in items if i.fields] == [2, 4]
    refused = [i for i in items if i.error]
    assert len(refused) == 1 and refused[0].number == 3
    assert "over the 1,048,576-byte limit" in refused[0].error
    assert "104,857,6" in refused[0].error  # the true length is reported
    assert len(refused[0].raw) <= 70_000  # the quarantine keeps a clip, the raw file all


def test_a_long_json_line_in_intelmq_format() -> None:
    data = b'{"source.ip": "198.18.0.1", "comment": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n'
    data += b'{"source.ip": "198.18.0.2"}\n'
    good, bad, _ = read("intelmq", data)
    assert [n for n, _e in good] == [2] and bad[0].number == 1


def test_normaliser_refuses_oversized_values_and_garbage() -> None:
    with pytest.raises(Invalid, match="characters long"):
        normalise({"source.ip": "198.18.0.1", "comment": "x" * 5000})
    with pytest.raises(Invalid, match=r"source\.port"):
        normalise({"source.ip": "198.18.0.1", "source.port": "70000"})
    with pytest.raises(Invalid, match="not an RSIT type"):
        normalise({"source.ip": "198.18.0.1", "classification.type": "evil"})
    with pytest.raises(Invalid, match="no source"):
        normalise({"classification.type": "spam"})
    with pytest.raises(Invalid, match="domain"):
        normalise({"source.fqdn": "bad..name"})


def test_event_id_is_stable_and_dedupe_key_follows_the_window() -> None:
    a = normalise({"source.ip": "198.18.0.1", "time.source": "2026-11-20T01:00:00Z"})
    b = normalise({"source.ip": "198.18.0.1", "time.source": "2026-11-20 01:00:00"})
    later = normalise({"source.ip": "198.18.0.1", "time.source": "2026-11-20T09:00:00Z"})
    assert event_id(a) == event_id(b) == event_id({**b, "time.observation": "x"})
    assert event_id(a) != event_id(later)
    assert dedupe_key(a, 86400) == dedupe_key(later, 86400)
    assert dedupe_key(a, 3600) != dedupe_key(later, 3600)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (SHADOW, "shadowserver"),
        ("xarf-login-attack-from-jpcert.eml", "arf"),
        ("iodef-botnet-from-krcert.xml", "iodef"),
        ("stix-phishing-bundle.json", "stix"),
        ("intelmq-events.jsonl", "intelmq"),
    ],
)
def test_format_detection(name: str, expected: str) -> None:
    assert formats.detect(name, sample(name)[:8192]) == expected


def test_undetectable_report_asks_for_a_format() -> None:
    with pytest.raises(ReportError, match="choose its format, one of"):
        formats.detect("notes.txt", os.urandom(64).replace(b"{", b"x"))


def test_nul_bytes_are_refused_per_record_and_shown_escaped() -> None:
    header = sample(SHADOW).split(b"\n")[0]
    rows = sample(SHADOW).split(b"\n")[1:3]
    data = header + b"\n" + rows[0].replace(b"ntp1.", b"nt\x00p1.") + b"\n" + rows[1] + b"\n"
    good, bad, _ = read("shadowserver", data, SHADOW)
    assert [n for n, _e in good] == [3]
    assert bad[0].error == "extra.hostname contains a NUL character"  # not a domain name
