"""OpenVAS, ZAP (XML and JSON), Nuclei, Burp, Nmap and mapped-CSV parsers on the tools'
real outputs (corpus/defectdojo: DefectDojo's unit-test scans; corpus/zaproxy: ZAP's own
report-generator fixtures). Each expected count is read from the file by an independent
reading (lxml XPath over the XML, json/csv over the rest), never from the parser."""

from __future__ import annotations

import base64
import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from bulwark.findings.engine import ParsedFinding, ParsedService, ParseError, detect, parse
from bulwark.findings.engine.model import severity_from_score
from bulwark.findings.engine.streams import read_head

CORPUS = Path(__file__).parent / "corpus"
DOJO = CORPUS / "defectdojo"


def parsed(path: Path, tool: str | None = None, **kwargs: object) -> list[object]:
    with path.open("rb") as stream:
        return list(parse(stream, tool, **kwargs))  # type: ignore[arg-type]


def only_findings(items: list[object]) -> list[ParsedFinding]:
    return [i for i in items if isinstance(i, ParsedFinding)]


def detected(path: Path) -> str:
    with path.open("rb") as stream:
        head, _ = read_head(stream)
    return detect(head, path.name)


def xml(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))


# --- OpenVAS / Greenbone --------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((DOJO / "openvas").glob("*.xml")), ids=lambda p: p.name)
def test_openvas_counts_match_the_file(path: Path) -> None:
    results = xml(path).xpath("//results/result")
    expected_severity = Counter(
        severity_from_score(float(r.findtext("severity") or 0)) for r in results
    )
    expected_cves = {
        ref.get("id")
        for r in results
        for ref in r.iterfind("nvt/refs/ref")
        if ref.get("type") == "cve"
    }
    got = only_findings(parsed(path))
    assert detected(path) == "openvas"
    assert len(got) == len(results)
    assert Counter(f.severity for f in got) == expected_severity
    assert {c for f in got for c in f.cves} == expected_cves
    assert [f.asset.host for f in got] == [
        (r.findtext("host") or "").strip().lower() for r in results
    ]
    assert [f.rule_id for f in got] == [r.find("nvt").get("oid") for r in results]


def test_openvas_fields() -> None:
    [firefox] = only_findings(parsed(DOJO / "openvas" / "one_vuln.xml"))
    assert firefox.title == "Mozilla Firefox Security Update (mfsa_2023-32_2023-36) - Windows"
    assert firefox.rule_id == "1.3.6.1.4.1.25623.1.0.832260"
    assert firefox.severity == "critical"  # <severity>10.0</severity>
    assert firefox.cvss_score == 10.0
    assert (firefox.asset.host, firefox.asset.port, firefox.asset.protocol) == (
        "10.0.101.2",
        None,
        "tcp",
    )
    assert len(firefox.cves) == 12 and firefox.cves[0] == "CVE-2023-4573"
    assert firefox.references == ("https://www.mozilla.org/en-US/security/advisories/mfsa2023-34/",)
    assert firefox.description.startswith("Mozilla Firefox is prone to multiple vulnerabilities.")
    assert firefox.solution.startswith("Upgrade to version 117 or later")
    assert "Installed version: 116.0.3" in firefox.evidence
    assert firefox.observed_at is not None and firefox.observed_at.year == 2023

    [windows] = only_findings(parsed(DOJO / "openvas" / "report_detail_v2.xml"))
    # GVM 21.04+: the vector in <severities><severity type="cvss_base_v3"><value>
    assert windows.cvss_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert (windows.cvss_score, windows.severity) == (9.8, "critical")
    assert (windows.asset.port, windows.asset.protocol) == (42, "tcp")

    many = only_findings(parsed(DOJO / "openvas" / "many_vuln.xml"))
    rexec = next(f for f in many if f.rule_id == "1.3.6.1.4.1.25623.1.0.100111")
    assert (rexec.asset.port, rexec.asset.protocol) == (512, "tcp")
    assert rexec.cves == ("CVE-1999-0618",)


@pytest.mark.parametrize("path", sorted((DOJO / "openvas").glob("*.xml")), ids=lambda p: p.name)
def test_openvas_hosts_and_ports_are_services(path: Path) -> None:
    """The report's <host> entries are scanned hosts, its <ports> list (port/protocol and
    host, once each; "general/tcp" is no port) the open ports."""
    tree = xml(path)
    hosts = [h.lower() for h in tree.xpath("/report/report/host/ip/text()")]
    ports = []
    for port in tree.xpath("/report/report/ports/port"):
        number, _, protocol = (port.text or "").strip().partition("/")
        key = (port.findtext("host").lower(), int(number), protocol) if number.isdigit() else None
        if key and key not in ports:
            ports.append(key)
    services = [s for s in parsed(path) if isinstance(s, ParsedService)]
    assert [s.asset.host for s in services if s.asset.port is None] == hosts
    assert [
        (s.asset.host, s.asset.port, s.asset.protocol) for s in services if s.asset.port
    ] == ports


def test_openvas_services_counts() -> None:
    """many_vuln.xml: one host (192.168.1.1001), 14 distinct ports among its 44 result
    ports (20 lines repeat a port, "general/tcp" is none); no_vuln.xml: nothing."""
    many = [s for s in parsed(DOJO / "openvas" / "many_vuln.xml") if isinstance(s, ParsedService)]
    assert len([s for s in many if s.asset.port]) == 14
    assert [s.asset.host for s in many if s.asset.port is None] == ["192.168.1.1001"]
    assert parsed(DOJO / "openvas" / "no_vuln.xml") == []


# --- OWASP ZAP --------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((DOJO / "zap").glob("*.xml")), ids=lambda p: p.name)
def test_zap_sites_are_services(path: Path) -> None:
    sites = xml(path).xpath("//site")
    services = [s for s in parsed(path) if isinstance(s, ParsedService)]
    assert [(s.asset.host, s.asset.port, s.asset.service) for s in services] == [
        (
            site.get("host").lower(),
            int(site.get("port")),
            "https" if site.get("ssl") == "true" else "http",
        )
        for site in sites
    ]


def test_zap_site_without_alerts_and_json_sites() -> None:
    """empty_2.9.0.xml has one site and no alert: the site was scanned all the same."""
    got = parsed(DOJO / "zap" / "empty_2.9.0.xml")
    assert [(s.asset.host, s.asset.port, s.asset.service) for s in got] == [  # type: ignore[attr-defined]
        ("isaac.nl", 443, "https")
    ]
    path = CORPUS / "zaproxy" / "basic-traditional-json.json"
    sites = json.loads(path.read_bytes())["site"]
    services = [s for s in parsed(path) if isinstance(s, ParsedService)]
    assert [(s.asset.host, s.asset.port) for s in services] == [
        (site["@host"], int(site["@port"])) for site in sites
    ]


ZAP_RISK = {"0": "info", "1": "low", "2": "medium", "3": "high"}


@pytest.mark.parametrize("path", sorted((DOJO / "zap").glob("*.xml")), ids=lambda p: p.name)
def test_zap_xml_one_finding_per_instance(path: Path) -> None:
    alerts = xml(path).xpath("//site/alerts/alertitem")  # comments are not elements
    expected = Counter()
    for alert in alerts:
        n = len(alert.findall("instances/instance")) or 1
        expected[ZAP_RISK[alert.findtext("riskcode")]] += n
    got = only_findings(parsed(path))
    assert detected(path) == "zap"
    assert Counter(f.severity for f in got) == expected
    assert {f.rule_id for f in got} == {a.findtext("pluginid") for a in alerts}
    assert all(f.asset.url.startswith(("http://", "https://")) and f.asset.host for f in got)


def test_zap_xml_commented_alert_is_not_imported_and_fields() -> None:
    got = only_findings(parsed(DOJO / "zap" / "0_zap_sample.xml"))
    assert not any("zap4" in f.title for f in got)  # the fourth alertitem is in a comment
    cookie = [f for f in got if f.rule_id == "10011"]
    assert {f.location for f in cookie} == {"opvc", "dmid", "sitevisitscookie"}
    assert cookie[0].title == "zap1: Cookie Without Secure Flag"
    assert cookie[0].cwes == (614,)
    assert [f.asset.url for f in cookie] == [
        "https://mainsite.com/dashboard",
        "https://mainsite.com/dashboard",
        "https://mainsite.com/",  # <uri>https://mainsite.com</uri>
    ]
    assert (cookie[0].asset.host, cookie[0].asset.port) == ("mainsite.com", 443)
    assert "Evidence: Set-Cookie: opvc" in next(f.evidence for f in cookie if f.location == "opvc")


def test_zap_html_is_plain_text() -> None:
    got = only_findings(parsed(DOJO / "zap" / "some_2.9.0.xml"))
    cookie = next(f for f in got if f.rule_id == "10011")
    assert cookie.description.startswith("A cookie has been set without the secure flag")
    assert "<p>" not in cookie.description and "<p>" not in cookie.solution
    assert cookie.references == (
        "http://www.owasp.org/index.php/Testing_for_cookies_attributes_(OWASP-SM-002)",
    )


@pytest.mark.parametrize("path", sorted((CORPUS / "zaproxy").glob("*.json")), ids=lambda p: p.name)
def test_zap_json_report(path: Path) -> None:
    document = json.loads(path.read_bytes())
    instances = [
        (alert, instance)
        for site in document["site"]
        for alert in site["alerts"]
        for instance in alert["instances"]
    ]
    got = only_findings(parsed(path))
    assert detected(path) == "zap"
    assert len(got) == len(instances) == 2
    assert [f.location for f in got] == [i["param"] for _, i in instances]
    first = got[0]
    assert (first.title, first.severity, first.cwes) == ("XSS", "high", (123,))
    assert first.asset.url == "http://example.com/example_3"
    assert first.description == "XSS Description" and first.solution == "Test Solution"
    assert first.observed_at is not None


# --- Nuclei ---------------------------------------------------------------------------


def _nuclei_expected(path: Path) -> list[dict[str, object]]:
    text = path.read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)  # type: ignore[no-any-return]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "path", sorted(p for p in (DOJO / "nuclei").glob("*") if p.stat().st_size), ids=lambda p: p.name
)
def test_nuclei_counts_match_the_file(path: Path) -> None:
    expected = _nuclei_expected(path)
    got = only_findings(parsed(path))
    assert detected(path) == "nuclei"
    assert [f.rule_id for f in got] == [e.get("template-id") or e["templateID"] for e in expected]
    assert [f.severity for f in got] == [e["info"]["severity"] for e in expected]  # type: ignore[index]


def test_nuclei_fields() -> None:
    got = only_findings(parsed(DOJO / "nuclei" / "many_findings_new.json"))
    ssh = next(f for f in got if f.rule_id == "CVE-2018-15473")
    assert ssh.cves == ("CVE-2018-15473",)
    assert ssh.cwes == (362,)
    assert ssh.cvss_vector == "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"
    assert ssh.cvss_score == 5.3
    assert (ssh.asset.host, ssh.asset.port, ssh.asset.protocol) == ("nuclei-example.com", 22, "tcp")
    assert "OpenSSH_7.4p1" in ssh.evidence
    assert ssh.observed_at is not None and ssh.observed_at.year == 2022
    old = only_findings(parsed(DOJO / "nuclei" / "many_findings.json"))  # "templateID" era
    openssh = next(f for f in old if f.rule_id == "openssh5.3-detect")
    assert openssh.references[0] == "http://seclists.org/fulldisclosure/2016/Jul/51"
    assert openssh.observed_at is not None
    assert openssh.observed_at.isoformat() == "2021-05-20T11:11:01.667748+03:00"
    matches = only_findings(parsed(DOJO / "nuclei" / "multiple_matches.json"))
    assert len({f.location for f in matches}) == len(matches) == 2  # one per matcher


def test_nuclei_empty_output_is_an_empty_import_when_named() -> None:
    assert parsed(DOJO / "nuclei" / "empty.jsonl", "nuclei") == []
    with pytest.raises(ParseError, match="empty"):
        parsed(DOJO / "nuclei" / "empty.jsonl")


# --- Burp -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((DOJO / "burp").glob("*.xml")), ids=lambda p: p.name)
def test_burp_counts_match_the_file(path: Path) -> None:
    issues = xml(path).xpath("/issues/issue")
    words = {"High": "high", "Medium": "medium", "Low": "low", "Information": "info"}
    got = only_findings(parsed(path))
    assert detected(path) == "burp"
    assert Counter(f.severity for f in got) == Counter(
        words[i.findtext("severity")] for i in issues
    )
    assert [f.rule_id for f in got] == [i.findtext("type") for i in issues]
    assert [f.asset.url for f in got] == [
        (i.findtext("host").rstrip("/") + i.findtext("path")).split("?")[0] for i in issues
    ]


def test_burp_request_is_decoded_from_base64() -> None:
    path = DOJO / "burp" / "one_finding_with_cwe.xml"
    [cacheable] = only_findings(parsed(path))
    request = base64.b64decode(xml(path).findtext(".//request")).decode()
    assert cacheable.evidence.startswith(request.split("\n", 1)[0])
    assert cacheable.evidence.startswith("GET /test/v4/public/users/fake HTTP/1.1")
    assert cacheable.cwes == (524, 525)
    assert cacheable.severity == "info"
    assert (cacheable.asset.host, cacheable.asset.port) == ("example.com", 443)
    assert cacheable.solution.startswith("Applications should return caching directives")
    assert "Cache-control: no-store" in cacheable.solution
    assert "https://cwe.mitre.org/data/definitions/524.html" in cacheable.references


def test_burp_evidence_is_bounded() -> None:
    for finding in only_findings(parsed(DOJO / "burp" / "seven_findings.xml")):
        assert len(finding.evidence.encode()) <= 8 * 1024


# --- Nmap -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((DOJO / "nmap").glob("*.xml")), ids=lambda p: p.name)
def test_nmap_open_ports_are_services(path: Path) -> None:
    tree = xml(path)
    open_ports = tree.xpath("//host/ports/port[state/@state='open']")
    vulners = tree.xpath(
        "//host/ports/port[state/@state='open']/script[@id='vulners']/table/table[elem[@key='type']='cve']"
    )
    up = tree.xpath("//host[status/@state='up']/address[1]/@addr")
    items = parsed(path)
    services = [i for i in items if isinstance(i, ParsedService)]
    assert detected(path) == "nmap"
    assert [(s.asset.port, s.asset.protocol) for s in services if s.asset.port] == [
        (int(p.get("portid")), p.get("protocol")) for p in open_ports
    ]
    # every host that is up is a scanned host (a service without a port)
    assert [s.asset.host for s in services if s.asset.port is None] == [a.lower() for a in up]
    assert len(only_findings(items)) == len(vulners)


def test_nmap_host_without_an_open_port_is_a_scanned_host() -> None:
    """nmap_0port.xml: 127.0.0.1 is up, its 997 ports closed: no open port, one host."""
    items = parsed(DOJO / "nmap" / "nmap_0port.xml")
    assert xml(DOJO / "nmap" / "nmap_0port.xml").xpath("//port[state/@state='open']") == []
    assert [(i.asset.host, i.asset.port) for i in items] == [("127.0.0.1", None)]  # type: ignore[attr-defined]


def test_nmap_service_and_vulners_fields() -> None:
    items = parsed(DOJO / "nmap" / "nmap_script_vulners.xml")
    [host, ssh] = [i for i in items if isinstance(i, ParsedService)]
    assert host.asset == host.asset.__class__("192.168.0.1")
    assert ssh.asset == ssh.asset.__class__("192.168.0.1", 5022, "tcp", "ssh")
    assert (ssh.product, ssh.version) == ("OpenSSH", "7.4")
    cves = only_findings(items)
    assert [f.cves for f in cves] == [("CVE-2018-15919",), ("CVE-2017-15906",)]
    assert all(
        f.severity == "medium" and f.cvss_score == 5.0 and f.asset == ssh.asset for f in cves
    )


# --- mapped CSV -------------------------------------------------------------------------


def test_csv_tenable_export_without_mapping() -> None:
    path = DOJO / "csv" / "tenable_nessus_many_vuln.csv"
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Plugin"]]  # the file pads with empty rows
    got = only_findings(parsed(path))
    assert detected(path) == "csv"
    assert len(got) == len(rows) == 4
    assert [f.rule_id for f in got] == [r["Plugin"] for r in rows]
    assert [f.asset.host for f in got] == [r["IP Address"] for r in rows]
    assert [f.severity for f in got] == [r["Severity"].lower() for r in rows]
    first = got[0]
    assert first.cves == ("CVE-2004-2761",)
    assert first.cvss_vector.startswith("AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N")
    assert first.asset.port == 443 and first.asset.protocol == "tcp"
    assert first.observed_at is not None
    assert (
        first.observed_at.isoformat() == "2021-01-05T10:24:08-07:00"
    )  # "Jan 5, 2021 10:24:08 MST"


def test_csv_greenbone_export_with_a_mapping() -> None:
    path = DOJO / "csv" / "openvas_report_using_openVAS.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    mapping = {
        "title": "NVT Name",
        "severity": "CVSS",
        "host": "IP",
        "port": "Port",
        "protocol": "Port Protocol",
        "rule_id": "NVT OID",
        "cves": "CVEs",
        "description": "Summary",
        "solution": "Solution",
        "evidence": "Specific Result",
    }
    got = only_findings(parsed(path, mapping=mapping))
    assert len(got) == len(rows)
    assert [f.rule_id for f in got] == [r["NVT OID"] for r in rows]
    assert [f.severity for f in got] == [severity_from_score(float(r["CVSS"])) for r in rows]


def test_csv_mapping_errors_are_clear() -> None:
    path = DOJO / "csv" / "openvas_report_using_openVAS.csv"
    with pytest.raises(ParseError, match="no column 'Risk'"):
        parsed(path, mapping={"title": "NVT Name", "severity": "Risk", "host": "IP"})
    with pytest.raises(ParseError, match="Unknown field"):
        parsed(path, mapping={"titel": "NVT Name"})
    with pytest.raises(ParseError, match="only for CSV"):
        parsed(DOJO / "nmap" / "nmap_1port.xml", mapping={"title": "x"})


def test_every_time_stamp_is_time_zone_aware() -> None:
    stamped = 0
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix in (".md",) or path.is_dir() or "cisa" in path.parts:
            continue
        for item in parsed(path, "nuclei" if path.parent.name == "nuclei" else None):
            if isinstance(item, ParsedFinding) and item.observed_at is not None:
                stamped += 1
                assert item.observed_at.utcoffset() is not None, path.name
    assert stamped > 600


def test_burp_export_time_zone() -> None:
    [cacheable] = only_findings(parsed(DOJO / "burp" / "one_finding_with_cwe.xml"))
    # exportTime="Wed Jan 27 22:43:35 WIB 2021" (Western Indonesia Time, UTC+7)
    assert cacheable.observed_at is not None
    assert cacheable.observed_at.isoformat() == "2021-01-27T22:43:35+07:00"
