"""The scanner parsers on the tools' real outputs (DefectDojo's unit-test scans, see
corpus/defectdojo/README.md). Every expected count is taken from the file itself by an
independent reading (regular expressions over the XML, json over the JSON), never from
the parser, and fields are asserted on findings picked out of the files by hand."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bulwark.findings.engine import ParsedFinding, ParsedService, detect, parse
from bulwark.findings.engine.streams import read_head

CORPUS = Path(__file__).parent / "corpus"
DOJO = CORPUS / "defectdojo"


def raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def findings(path: Path, tool: str | None = None) -> list[ParsedFinding]:
    with path.open("rb") as stream:
        out = list(parse(stream, tool))
    assert all(isinstance(f, ParsedFinding) for f in out)
    return out  # type: ignore[return-value]


def nessus_findings(path: Path) -> list[ParsedFinding]:
    """A Nessus file's findings (it also yields the hosts and ports it covered)."""
    with path.open("rb") as stream:
        return [f for f in parse(stream) if isinstance(f, ParsedFinding)]


def detected(path: Path) -> str:
    with path.open("rb") as stream:
        head, _ = read_head(stream)
    return detect(head, path.name)


# --- Nessus ----------------------------------------------------------------------------

NESSUS = sorted((DOJO / "nessus").glob("*"))
NESSUS_SEVERITY = {"0": "info", "1": "low", "2": "medium", "3": "high", "4": "critical"}


@pytest.mark.parametrize("path", NESSUS, ids=lambda p: p.name)
def test_nessus_counts_match_the_file(path: Path) -> None:
    text = raw(path).decode()
    items = re.findall(r"<ReportItem\b([^>]*)>(.*?)</ReportItem>", text, re.S)
    hosts = set(re.findall(r'<ReportHost name="([^"]+)"', text))
    expected_severity = Counter(
        NESSUS_SEVERITY[re.search(r'severity="(\d)"', attrs).group(1)]  # type: ignore[union-attr]
        for attrs, _ in items
    )
    expected_cves = {c for _, body in items for c in re.findall(r"<cve>(CVE-[\d-]+)</cve>", body)}

    got = nessus_findings(path)

    assert detected(path) == "nessus"
    assert len(got) == len(items) > 0
    assert Counter(f.severity for f in got) == expected_severity
    assert {f.asset.host for f in got} == {h.lower() for h in hosts}
    assert {c for f in got for c in f.cves} == expected_cves
    assert all(f.tool == "nessus" and f.rule_id.isdigit() and f.title for f in got)
    assert all(len(f.evidence.encode()) <= 8 * 1024 for f in got)


def test_nessus_fields_of_a_cvss3_finding() -> None:
    got = nessus_findings(DOJO / "nessus" / "nessus_with_cvssv3.nessus.gz")
    browsable = next(f for f in got if f.rule_id == "40984")
    assert browsable.title == "Browsable Web Directories"
    assert browsable.severity == "medium"
    assert browsable.asset.host == "testphp.vulnweb.com"
    assert (browsable.asset.port, browsable.asset.protocol, browsable.asset.service) == (
        80,
        "tcp",
        "www",
    )
    assert browsable.cvss_vector == "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"
    assert browsable.cvss_score == 5.3
    assert browsable.description.startswith(
        "Some directories on the remote web server are browsable."
    )
    assert browsable.solution.startswith("Make sure that browsable directories")
    assert "http://testphp.vulnweb.com/admin/" in browsable.evidence
    assert browsable.references == ("http://www.nessus.org/u?0a35179e",)
    assert browsable.observed_at == datetime.fromtimestamp(1648044472, tz=UTC)

    php = next(f for f in got if f.rule_id == "31649")
    assert php.severity == "high"
    assert php.cves[:3] == ("CVE-2006-1015", "CVE-2006-1549", "CVE-2006-2660")
    assert php.cwes == (94, 119, 399)
    # Without a v3 vector the v2 one is kept, without its "CVSS2#" prefix.
    assert php.cvss_vector.startswith("AV:N/")

    general = [f for f in got if f.asset.port is None]
    assert general and all(f.asset.service == "" for f in general)  # port 0, "general"


def test_nessus_v_unknown_hosts_and_dates() -> None:
    got = nessus_findings(DOJO / "nessus" / "nessus_v_unknown.xml.gz")
    per_host = Counter(f.asset.host for f in got)
    text = raw(DOJO / "nessus" / "nessus_v_unknown.xml.gz").decode()
    for block in re.findall(r"<ReportHost name=\"([^\"]+)\">(.*?)</ReportHost>", text, re.S):
        assert per_host[block[0].lower()] == block[1].count("<ReportItem ")
    assert {f.observed_at.date() for f in got if f.observed_at} == {datetime(2013, 7, 1).date()}


def test_nessus_hosts_and_open_ports_are_services() -> None:
    """Every host of the file is a service without a port (its operating system as the
    product), every port a check ran on a service of that port, once per host."""
    path = DOJO / "nessus" / "nessus_v_unknown.xml.gz"
    text = raw(path).decode()
    expected_ports = set()
    expected_hosts = set()
    for name, body in re.findall(r'<ReportHost name="([^"]+)">(.*?)</ReportHost>', text, re.S):
        expected_hosts.add(name.lower())
        for attrs in re.findall(r"<ReportItem\b([^>]*)>", body):
            port = re.search(r'port="(\d+)"', attrs).group(1)  # type: ignore[union-attr]
            protocol = re.search(r'protocol="(\w+)"', attrs).group(1)  # type: ignore[union-attr]
            if port != "0":
                expected_ports.add((name.lower(), int(port), protocol))
    with path.open("rb") as stream:
        services = [s for s in parse(stream) if isinstance(s, ParsedService)]
    ports = [(s.asset.host, s.asset.port, s.asset.protocol) for s in services if s.asset.port]
    assert len(ports) == len(set(ports))  # once per host, port and protocol
    assert set(ports) == expected_ports
    assert {s.asset.host for s in services if s.asset.port is None} == expected_hosts
    systems = {s.asset.host: s.product for s in services if s.asset.port is None}
    assert systems["qa3app09"].startswith("Microsoft Windows")
    www = [s for s in services if s.asset == s.asset.__class__("qa3app09", 80, "tcp", "www")]
    assert len(www) == 1


def clean_copy(path: Path, host: str) -> bytes:
    """The real file with every ReportItem of `host` taken out: the same host scanned
    again and found clean (its ReportHost and HostProperties stay, as Nessus writes them)."""
    text = raw(path).decode()
    start = text.index(f'<ReportHost name="{host}">')
    end = text.index("</ReportHost>", start)
    block = re.sub(r"<ReportItem\b.*?</ReportItem>", "", text[start:end], flags=re.S)
    return (text[:start] + block + text[end:]).encode()


def test_nessus_clean_host_is_still_a_scanned_host() -> None:
    import io

    data = clean_copy(DOJO / "nessus" / "nessus_with_cvssv3.nessus.gz", "testphp.vulnweb.com")
    got = list(parse(io.BytesIO(data)))
    assert not [f for f in got if isinstance(f, ParsedFinding)]
    assert [(s.asset.host, s.asset.port, s.product) for s in got] == [
        ("testphp.vulnweb.com", None, "Linux Kernel 2.6")
    ]


# --- SARIF -----------------------------------------------------------------------------

SARIF = sorted((DOJO / "sarif").glob("*.sarif*"))


def _sarif_expected(path: Path) -> list[dict[str, object]]:
    """The results that are findings: not pass/notApplicable, not suppressed (a
    suppression whose status is absent or "accepted")."""
    document = json.loads(raw(path))
    kept = []
    for run in document.get("runs") or []:
        for result in run.get("results") or []:
            if result.get("kind") in ("pass", "notApplicable"):
                continue
            if any(
                s.get("status", "accepted") == "accepted" for s in result.get("suppressions") or []
            ):
                continue
            kept.append(result)
    return kept


@pytest.mark.parametrize("path", SARIF, ids=lambda p: p.name)
def test_sarif_counts_match_the_file(path: Path) -> None:
    expected = _sarif_expected(path)
    got = findings(path)
    assert detected(path) == "sarif"
    assert len(got) == len(expected)
    lines = Counter(
        (r["locations"][0]["physicalLocation"].get("region") or {}).get("startLine")  # type: ignore[index]
        for r in expected
        if r.get("locations")
    )
    got_lines = Counter(
        int(f.location.rsplit(":", 1)[1]) if re.search(r":\d+$", f.location) else None for f in got
    )
    assert got_lines == lines
    assert all(f.tool == "sarif" and f.title and f.rule_id and f.asset.host == "" for f in got)


def test_sarif_suppressed_results_are_skipped() -> None:
    got = findings(DOJO / "sarif" / "SuppressionTestCurrent.sarif")
    assert [(f.rule_id, f.location) for f in got] == [("TST0004", "C:/code/file4.c")]
    assert "Rule 004" in got[0].description
    assert findings(DOJO / "sarif" / "appendix_k.sarif") == []  # its one result is suppressed


def test_sarif_fields_njsscan_and_flawfinder() -> None:
    njs = findings(DOJO / "sarif" / "njsscan.sarif")
    weak = next(f for f in njs if f.rule_id == "node_insecure_random_generator")
    assert weak.location == "/src/index.js:321"
    assert weak.severity == "medium"  # level "warning"
    assert "Math.random()" in weak.evidence
    assert weak.references == (
        "https://ajinabraham.github.io/nodejsscan/#node_insecure_random_generator",
    )

    flaw = findings(DOJO / "sarif" / "flawfinder.sarif")
    random = next(f for f in flaw if f.rule_id == "FF1048")
    assert random.cwes == (327,)
    assert random.location == "src/tree/param.cc:29"
    # The level is the result's, else its rule's default, else "warning".
    document = json.loads((DOJO / "sarif" / "flawfinder.sarif").read_bytes())
    defaults = {
        rule["id"]: (rule.get("defaultConfiguration") or {}).get("level", "warning")
        for rule in document["runs"][0]["tool"]["driver"]["rules"]
    }
    levels = Counter(
        r.get("level") or defaults[r["ruleId"]]  # type: ignore[index]
        for r in _sarif_expected(DOJO / "sarif" / "flawfinder.sarif")
    )
    rated = {"error": "high", "warning": "medium", "note": "low", "none": "info"}
    assert Counter(f.severity for f in flaw) == Counter(
        {rated[str(level)]: n for level, n in levels.items()}
    )


def test_sarif_results_without_rule_id_take_their_message() -> None:
    got = findings(DOJO / "sarif" / "gitleaks_7.5.0.sarif")
    assert {f.rule_id for f in got} >= {"AWS Access Key secret detected"}


def test_no_runs_is_an_empty_import() -> None:
    assert findings(DOJO / "sarif" / "no_runs.sarif") == []


def test_services_are_not_findings() -> None:
    assert ParsedService.__name__ != ParsedFinding.__name__


def test_sarif_codeql_cwes_snippets_and_semgrep_titles() -> None:
    codeql = findings(DOJO / "sarif" / "codeQL-output.sarif.gz")
    path_injection = next(f for f in codeql if f.rule_id == "py/path-injection")
    assert path_injection.title == "Uncontrolled data used in path expression"
    assert path_injection.cwes == (22, 23, 36, 73, 99)  # tags external/cwe/cwe-022...
    assert path_injection.severity == "high"  # the rule's default level "error"
    empty_except = next(f for f in codeql if f.rule_id == "py/empty-except")
    assert empty_except.location == "good/db_init.py:39"
    assert "os.remove('db_users.sqlite')" in empty_except.evidence  # contextRegion snippet

    semgrep = findings(DOJO / "sarif" / "semgrepowasp-benchmark-sample.sarif.gz")
    assert len(semgrep) == 1768
    assert all(len(f.title) <= 201 and "\n" not in f.title for f in semgrep)
    assert semgrep[0].rule_id == "java.lang.security.audit.cbc-padding-oracle.cbc-padding-oracle"
