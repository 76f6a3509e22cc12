"""Ingest through the services and the CLI on the demo constituency: routing to the right
agencies and foreign CERTs, duplicates, quarantine with replay, idempotent re-runs."""

import io
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db.models import ProtectedError

from bulwark.constituency.models import Organisation, User
from bulwark.core.models import AuditEntry
from bulwark.exchange import demo, services
from bulwark.exchange.models import ColumnMapping, Event, Quarantined, Report

SHADOW = "2026-11-20-scan_ntp-taiwan-geo.csv"


def ingest(name: str, **kwargs: Any) -> services.IngestResult:
    with (demo.SAMPLES / name).open("rb") as stream:
        return services.ingest(None, stream, file_name=name, **kwargs)


def recipients() -> dict[str, str | None]:
    return {
        e.source_ip or e.source_fqdn: (e.recipient.short_name if e.recipient else None)
        for e in Event.objects.select_related("recipient")
    }


def test_shadowserver_report_routes_to_agencies_foreign_certs_and_unrouted(
    constituency: None,
) -> None:
    result = ingest(SHADOW)
    c = result.counts
    assert (c.read, c.events, c.routed, c.unrouted, c.duplicates, c.rejected) == (
        12, 9, 8, 1, 1, 2,
    )  # fmt: skip
    assert c.rejected_lines == [11, 12]
    assert recipients() == {
        "198.18.12.7": "Taipower",  # /22 of Taiwan Power
        "198.18.8.20": "CHT",
        "198.18.17.5": "CPC",  # CPC's /22 inside the ministry's /20
        "198.18.30.1": "BOE",  # Bureau of Energy's /22 inside the same /20
        "198.18.200.9": "Taipower",  # no prefix claims it; AS64499 does
        "198.18.250.1": None,  # at home, nobody's: the unrouted queue
        "2001:db8:3::53": "Taipower",
        "192.0.2.44": "JPCERT/CC",  # abroad: Japan
        "198.51.100.7": "KrCERT/CC",  # abroad: Korea
    }
    jp = Event.objects.get(source_ip="192.0.2.44")
    assert (jp.route_via, jp.country) == ("country", "JP")
    first = Event.objects.get(source_ip="198.18.12.7")
    assert first.record_no == 2  # the later duplicate (line 13) was not stored
    assert first.fields["classification.identifier"] == "ntp-version"
    assert first.report.path.read_bytes() == (demo.SAMPLES / SHADOW).read_bytes()
    quarantined = list(Quarantined.objects.values_list("record_no", "reason"))
    assert quarantined == [
        (11, "'198.18.12.300' is not an IPv4 or IPv6 address"),
        (12, "4 columns, the header has 16"),
    ]
    report = result.report
    assert report.status == "done" and report.report_type == "scan_ntp"
    assert AuditEntry.objects.filter(action="exchange.report.ingested").count() == 1


def test_same_file_twice_is_one_report_and_duplicates_across_reports(constituency: None) -> None:
    first = ingest(SHADOW)
    again = ingest(SHADOW)
    assert again.already and again.report.pk == first.report.pk
    assert again.counts.as_dict() == first.counts.as_dict()
    assert Event.objects.count() == 9
    # The same events from another report (other bytes) are duplicates within the window.
    data = (demo.SAMPLES / SHADOW).read_bytes().replace(b"01:12:44", b"02:12:44")
    other = services.ingest(None, io.BytesIO(data), file_name=SHADOW)
    assert other.counts.events == 0 and other.counts.duplicates == 10
    assert Event.objects.count() == 9


def test_a_crashed_run_resumes_with_the_same_counts(constituency: None) -> None:
    clean = ingest(SHADOW).counts.as_dict()
    Report.objects.update(status="processing", counts={})
    resumed = ingest(SHADOW, batch_size=3)
    assert not resumed.already
    assert resumed.counts.as_dict() == clean
    assert Event.objects.count() == 9 and Quarantined.objects.count() == 2


def test_xarf_mail_from_a_foreign_cert_keeps_its_ticket(constituency: None) -> None:
    result = ingest("xarf-login-attack-from-jpcert.eml")
    assert result.report.format == "arf"
    assert result.report.foreign_ticket == "JPCERT#2026-1120-0042"
    event = Event.objects.get()
    assert event.recipient.short_name == "WRA"
    assert event.classification_type == "brute-force" and event.taxonomy == "intrusion-attempts"
    assert event.fields["extra.foreign_ticket"] == "JPCERT#2026-1120-0042"
    assert event.from_foreign  # counted among the reports from foreign CERTs
    assert not ingest(SHADOW).report.foreign_ticket
    assert Event.objects.filter(from_foreign=False).exists()  # a feed's events are not


@pytest.mark.parametrize(
    ("name", "events", "rejected"),
    [
        ("iodef-botnet-from-krcert.xml", 2, 1),
        ("stix-phishing-bundle.json", 3, 1),
        ("intelmq-events.jsonl", 4, 2),
    ],
)
def test_other_formats_are_stored(
    constituency: None, name: str, events: int, rejected: int
) -> None:
    result = ingest(name)
    assert (result.counts.events, result.counts.rejected) == (events, rejected)
    assert Event.objects.count() == events


def test_stix_domain_label_boundary_in_the_demo(constituency: None) -> None:
    ingest("stix-phishing-bundle.json")
    routed = recipients()
    assert routed["evil-moea.gov.tw"] is None  # not under moea.gov.tw
    assert routed["login.water.example.com.tw"] == "TWC"
    assert routed["198.18.56.80"] == "TWSE"


def test_unreadable_report_is_quarantined_whole(constituency: None) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    result = services.ingest(None, io.BytesIO(bomb), file_name="evil.xml")
    assert result.report.status == "failed" and "DTD" in result.report.error
    item = Quarantined.objects.get()
    assert item.record_no == 0 and "DOCTYPE" in item.raw
    assert Event.objects.count() == 0


def test_fix_and_replay_a_quarantined_line(constituency: None) -> None:
    ingest(SHADOW)
    item = Quarantined.objects.get(record_no=11)
    fixed = item.raw.replace("198.18.12.300", "198.18.13.30")
    with pytest.raises(ValidationError, match="Still not readable"):
        services.replay(None, item, item.raw)
    counts = services.replay(None, item, fixed)
    assert counts.events == 1 and counts.routed == 1
    event = Event.objects.get(source_ip="198.18.13.30")
    assert event.record_no == 11 and event.recipient.short_name == "Taipower"
    item.refresh_from_db()
    assert item.status == "replayed"
    with pytest.raises(ValidationError):
        services.replay(None, item, fixed)


def test_generic_csv_needs_and_uses_a_saved_mapping(constituency: None) -> None:
    ColumnMapping.objects.create(
        name="partner-scan",
        columns={"source.ip": "host", "time.source": "seen"},
        constants={"classification.type": "scanner", "feed.provider": "Partner"},
    )
    data = b"seen,host\n2026-11-20T00:00:00Z,198.18.0.5\n"
    result = services.ingest(
        None, io.BytesIO(data), file_name="partner.csv", fmt="csv", mapping="partner-scan"
    )
    assert result.counts.events == 1
    assert Event.objects.get().recipient.short_name == "ADI"
    with pytest.raises(ValidationError):
        services.ingest(None, io.BytesIO(data + b"\n"), fmt="csv", mapping="nope")


def test_only_cert_staff_may_ingest(constituency: None) -> None:
    reporter = User.objects.get(username="reporter")
    with pytest.raises(PermissionDenied):
        services.ingest(reporter, io.BytesIO(b"x"), file_name="x.csv")
    analyst = User.objects.get(username="analyst")
    with (demo.SAMPLES / SHADOW).open("rb") as stream:
        result = services.ingest(analyst, stream, file_name=SHADOW)
    assert result.report.submitted_by == analyst


def test_rerouting_an_event(constituency: None) -> None:
    ingest(SHADOW)
    event = Event.objects.get(source_ip="198.18.250.1")
    cht = Organisation.objects.get(short_name="CHT")
    services.reroute(User.objects.get(username="analyst"), event, cht, "customer line of CHT")
    event.refresh_from_db()
    assert event.recipient == cht and event.route_via == "manual"
    with pytest.raises(PermissionDenied):
        services.reroute(User.objects.get(username="reporter"), event, None)


def test_cli_prints_counts_and_rejected_lines(constituency: None) -> None:
    out = io.StringIO()
    call_command("exchange", "ingest", str(demo.SAMPLES / SHADOW), "--quiet", stdout=out)
    text = out.getvalue()
    assert "format shadowserver" in text
    assert "read 12  events 9  routed 8  unrouted 1  suppressed 0  duplicates 1  rejected 2" in text
    assert "rejected lines/records: 11, 12" in text
    out = io.StringIO()
    call_command(
        "exchange", "ingest", str(demo.SAMPLES / "xarf-login-attack-from-jpcert.eml"),
        "--format", "arf", "--feed", "jpcert-mail", "--quiet", stdout=out,
    )  # fmt: skip
    assert "sender's ticket JPCERT#2026-1120-0042" in out.getvalue()
    assert Event.objects.get(source_ip="198.18.20.9").feed_name == "jpcert-mail"


def test_demo_load_is_idempotent(db: Any) -> None:
    from bulwark.constituency import demo as constituency_demo

    constituency_demo.load()
    demo.load()
    demo.load()
    assert Report.objects.count() == 2
    assert Event.objects.count() == 10
    assert Event.objects.filter(recipient__kind="foreign_cert").count() == 2
    from bulwark.exchange.models import EventNotice

    queued = {
        n.recipient.short_name: n.event_count
        for n in EventNotice.objects.select_related("recipient")
    }
    assert queued == {
        "Taipower": 3, "CHT": 1, "CPC": 1, "BOE": 1, "WRA": 1, "JPCERT/CC": 1, "KrCERT/CC": 1,
    }  # fmt: skip
    assert Event.objects.filter(recipient__isnull=True).count() == 1


def test_nul_bytes_and_binary_garbage_are_quarantined_not_crashing(constituency: None) -> None:
    data = (demo.SAMPLES / SHADOW).read_bytes().replace(b"ntp1.", b"nt\x00p1.", 1)
    data += b"\x00\xff\xfe garbage \x00\n"
    result = services.ingest(None, io.BytesIO(data), file_name=SHADOW)
    assert result.counts.events == 9  # line 13 (a duplicate before) now stands for line 2
    reasons = dict(Quarantined.objects.values_list("record_no", "reason"))
    assert reasons[2] == "extra.hostname contains a NUL character"  # not a domain name
    assert reasons[14].startswith("not UTF-8")
    assert "\\x00" in Quarantined.objects.get(record_no=2).raw


def test_tabs_backslashes_and_newlines_survive_storage(constituency: None) -> None:
    header = (demo.SAMPLES / SHADOW).read_bytes().split(b"\n")[0]
    row = (
        b'"2026-11-20 01:12:44","198.18.12.7","udp",123,,"ntp",64499,"TW","TAI\\PEI",'
        b'"A\tB",0,0,"4","0x0",2,"multi\nline \\N \\\\ end"\n'
    )
    result = services.ingest(None, io.BytesIO(header + b"\n" + row), file_name=SHADOW)
    assert result.counts.events == 1, Quarantined.objects.values_list("reason", flat=True)
    fields = Event.objects.get().fields
    assert fields["extra.system"] == "multi\nline \\N \\\\ end"
    assert fields["source.geolocation.region"] == "TAI\\PEI"
    assert fields["source.geolocation.city"] == "A\tB"


def test_router_follows_constituency_changes(constituency: Any) -> None:
    from bulwark.constituency import services as constituency_services

    ingest(SHADOW)
    assert Event.objects.get(source_ip="198.18.250.1").recipient is None
    constituency_services.add_network(None, constituency["CHT"], "cidr", "198.18.250.0/24")
    data = (demo.SAMPLES / SHADOW).read_bytes().replace(b"2026-11-20", b"2026-11-22")
    services.ingest(None, io.BytesIO(data), file_name=SHADOW)
    later = Event.objects.filter(source_ip="198.18.250.1").order_by("-id").first()
    assert later is not None and later.recipient == constituency["CHT"]
    # a deactivated organisation no longer receives
    taipower = constituency["Taipower"]
    taipower.is_active = False
    taipower.save()
    data = data.replace(b"2026-11-22", b"2026-11-24")
    services.ingest(None, io.BytesIO(data), file_name=SHADOW)
    newest = Event.objects.filter(source_ip="198.18.12.7").order_by("-id").first()
    assert newest is not None and newest.recipient is None


def test_recipients_and_reports_with_events_cannot_be_deleted(
    constituency: dict[str, Organisation],
) -> None:
    """The event table's references are not database constraints (docs/architecture.md):
    Django's PROTECT is what keeps an event's recipient and report from disappearing."""
    result = ingest(SHADOW)
    taipower = constituency["Taipower"]
    assert Event.objects.filter(recipient=taipower).exists()
    with pytest.raises(ProtectedError):
        taipower.delete()
    with pytest.raises(ProtectedError):
        result.report.delete()
    assert Organisation.objects.filter(pk=taipower.pk).exists()
    assert Report.objects.filter(pk=result.report.pk).exists()
