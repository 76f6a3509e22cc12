"""Deduplication keys (a table of cases), CVSS scoring through the `cvss` library, FIRST's
EPSS CSV and CISA's KEV catalogue (the real one, corpus/cisa)."""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bulwark.findings.engine import (
    Asset,
    ParsedFinding,
    ParseError,
    cvss_score,
    fingerprint,
    parse,
    read_epss,
    read_kev,
)

CORPUS = Path(__file__).parent / "corpus"

BASE = ParsedFinding(
    tool="nessus",
    rule_id="97833",
    title="MS17-010: Security Update for Microsoft Windows SMB Server",
    severity="critical",
    asset=Asset("10.0.0.5", 445, "tcp", "cifs"),
    cves=("CVE-2017-0143", "CVE-2017-0144"),
)
WEB = ParsedFinding(
    tool="zap",
    rule_id="40012",
    title="Cross Site Scripting (Reflected)",
    severity="high",
    asset=Asset("shop.example", 443, "tcp", "https", "https://shop.example/search"),
    location="q",
)


@pytest.mark.parametrize(
    ("case", "a", "b", "same"),
    [
        ("same finding twice", BASE, BASE, True),
        (
            "new title, severity, score and evidence",
            BASE,
            replace(BASE, title="Renamed", severity="high", cvss_score=8.1, evidence="x"),
            True,
        ),
        (
            "another tool, same CVEs, same host and port",
            BASE,
            replace(BASE, tool="openvas", rule_id="1.3.6.1.4.1.25623.1.0.108031"),
            True,
        ),
        (
            "CVEs in another order and case",
            BASE,
            replace(BASE, cves=("cve-2017-0144", "CVE-2017-0143")),
            True,
        ),
        (
            "host name in another case",
            BASE,
            replace(BASE, asset=Asset("10.0.0.5".upper(), 445, "tcp")),
            True,
        ),
        (
            "the service name does not count",
            BASE,
            replace(BASE, asset=Asset("10.0.0.5", 445, "tcp", "smb")),
            True,
        ),
        (
            "IPv6 written long or short",
            replace(BASE, asset=Asset("2001:db8:0:0:0:0:0:1", 445, "tcp")),
            replace(BASE, asset=Asset("[2001:DB8::1]", 445, "tcp")),
            True,
        ),
        (
            "host name with its root dot",
            replace(BASE, asset=Asset("srv.gov.example.", 445, "tcp")),
            replace(BASE, asset=Asset("SRV.gov.example", 445, "tcp")),
            True,
        ),
        ("another port", BASE, replace(BASE, asset=Asset("10.0.0.5", 139, "tcp", "cifs")), False),
        (
            "another protocol",
            BASE,
            replace(BASE, asset=Asset("10.0.0.5", 445, "udp", "cifs")),
            False,
        ),
        ("another host", BASE, replace(BASE, asset=Asset("10.0.0.6", 445, "tcp", "cifs")), False),
        ("port unknown vs known", BASE, replace(BASE, asset=Asset("10.0.0.5", None, "tcp")), False),
        ("one CVE fewer", BASE, replace(BASE, cves=("CVE-2017-0143",)), False),
        (
            "no CVE: same tool and rule",
            replace(BASE, cves=()),
            replace(BASE, cves=(), title="x"),
            True,
        ),
        (
            "no CVE: another rule",
            replace(BASE, cves=()),
            replace(BASE, cves=(), rule_id="97834"),
            False,
        ),
        (
            "no CVE: same rule id in another tool",
            replace(BASE, cves=()),
            replace(BASE, cves=(), tool="csv"),
            False,
        ),
        (
            "URL query values do not count",
            WEB,
            replace(WEB, asset=replace(WEB.asset, url="https://shop.example/search?q=1&x=2")),
            True,
        ),
        (
            "URL default port and host case do not count",
            WEB,
            replace(WEB, asset=replace(WEB.asset, url="HTTPS://Shop.Example:443/search")),
            True,
        ),
        (
            "another URL path",
            WEB,
            replace(WEB, asset=replace(WEB.asset, url="https://shop.example/login")),
            False,
        ),
        ("another parameter", WEB, replace(WEB, location="category"), False),
        (
            "SARIF: another line",
            replace(WEB, tool="sarif", location="app.py:10"),
            replace(WEB, tool="sarif", location="app.py:11"),
            False,
        ),
    ],
)
def test_fingerprint_cases(case: str, a: ParsedFinding, b: ParsedFinding, same: bool) -> None:
    assert (fingerprint(a) == fingerprint(b)) is same, case
    assert len(fingerprint(a)) == 64


def test_same_real_scan_twice_gives_the_same_keys_and_no_internal_collisions() -> None:
    path = CORPUS / "defectdojo" / "nessus" / "nessus_v_unknown.xml.gz"
    first = [fingerprint(f) for f in parse(path.open("rb")) if isinstance(f, ParsedFinding)]
    second = [fingerprint(f) for f in parse(path.open("rb")) if isinstance(f, ParsedFinding)]
    assert first == second
    # Nessus reports each plugin once per host and port: distinct problems, distinct keys
    assert max(Counter(first).values()) == 1


def test_nessus_and_nmap_vulners_same_cve_same_port_merge() -> None:
    nmap = [
        f
        for f in parse((CORPUS / "defectdojo" / "nmap" / "nmap_script_vulners.xml").open("rb"))
        if isinstance(f, ParsedFinding)
    ]
    nessus_like = replace(
        BASE, cves=("CVE-2018-15919",), asset=Asset("192.168.0.1", 5022, "tcp", "ssh")
    )
    assert fingerprint(nessus_like) == fingerprint(nmap[0])


@pytest.mark.parametrize(
    ("vector", "expected"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", (9.8, "critical")),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", (5.3, "medium")),
        ("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", (0.0, "info")),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", (9.3, "critical")),
        ("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", (4.8, "medium")),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", (7.5, "high")),
        ("CVSS2#AV:N/AC:L/Au:N/C:P/I:N/A:N", (5.0, "medium")),
        ("CVSS:3.1/AV:X/AC:L", None),
        ("CVSS:4.0/AV:N", None),
        ("not a vector", None),
        ("", None),
    ],
)
def test_cvss_score(vector: str, expected: tuple[float, str] | None) -> None:
    assert cvss_score(vector) == expected


EPSS = (
    b"#model_version:v2025.03.14,score_date:2026-12-06T12:55:00Z\n"
    b"cve,epss,percentile\n"
    b"CVE-2017-0144,0.94386,0.99958\n"
    b"CVE-1999-0001,0.00500,0.66820\n"
)


def test_epss_plain_and_gzip() -> None:
    rows = [("CVE-2017-0144", 0.94386, 0.99958), ("CVE-1999-0001", 0.005, 0.6682)]
    assert list(read_epss(io.BytesIO(EPSS))) == rows
    assert list(read_epss(io.BytesIO(gzip.compress(EPSS)))) == rows


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"cve,score\nCVE-2017-0144,0.9\n", "header must be cve,epss,percentile"),
        (b"cve,epss,percentile\nXSS-1,0.1,0.2\n", "line 2: 'XSS-1' is not a CVE id"),
        (b"cve,epss,percentile\nCVE-2017-0144,high,0.2\n", "not numbers"),
        (b"cve,epss,percentile\nCVE-2017-0144,1.5,0.2\n", "between 0 and 1"),
    ],
)
def test_epss_errors(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        list(read_epss(io.BytesIO(data)))


def test_kev_real_catalogue() -> None:
    path = CORPUS / "cisa" / "known_exploited_vulnerabilities.json.gz"
    document = json.loads(gzip.decompress(path.read_bytes()))
    entries = list(read_kev(path.open("rb")))
    assert len(entries) == document["count"] == len(document["vulnerabilities"]) == 1404
    assert sum(e.ransomware for e in entries) == sum(
        v["knownRansomwareCampaignUse"] == "Known" for v in document["vulnerabilities"]
    )
    git = entries[0]
    assert (git.cve, git.vendor, git.product) == ("CVE-2025-48384", "Git", "Git")
    assert (git.date_added, git.due_date) == (date(2025, 8, 25), date(2025, 9, 15))
    assert git.cwes == (59, 436)
    eternal = next(e for e in entries if e.cve == "CVE-2017-0144")
    assert eternal.vendor == "Microsoft" and eternal.ransomware


def test_kev_errors() -> None:
    with pytest.raises(ParseError, match='no "vulnerabilities" list'):
        list(read_kev(io.BytesIO(b'{"title": "x"}')))
    with pytest.raises(ParseError, match="not a JSON object"):
        list(read_kev(io.BytesIO(b"[]")))
    with pytest.raises(ParseError, match="dateAdded"):
        list(
            read_kev(
                io.BytesIO(
                    b'{"vulnerabilities": [{"cveID": "CVE-2020-0001", "dateAdded": "soon"}]}'
                )
            )
        )
