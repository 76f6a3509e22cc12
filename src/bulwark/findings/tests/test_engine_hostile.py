"""Hostile and broken files are refused with a reason a user can act on: XML bombs and
external entities, truncated files, the wrong tool, binary junk, endless lines, damaged
gzip. Nothing is yielded half-way without the error surfacing before the end."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from bulwark.findings.engine import ParseError, detect, parse
from bulwark.findings.engine import streams as engine_streams

DOJO = Path(__file__).parent / "corpus" / "defectdojo"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<NessusClientData_v2><Report name="x"><ReportHost name="a"><ReportItem pluginID="1"
 severity="2" pluginName="&lol2;" port="80" protocol="tcp"/></ReportHost></Report>
</NessusClientData_v2>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE issues [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<issues burpVersion="2023"><issue><name>&xxe;</name></issue></issues>"""
EXTERNAL_DTD = b'<!DOCTYPE nmaprun SYSTEM "http://attacker.example/n.dtd"><nmaprun scanner="nmap"/>'
PARAMETER_ENTITY = b'<!DOCTYPE issues [<!ATTLIST issues a CDATA "x"> %remote; ]><issues/>'
DEEP = b"<NessusClientData_v2>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</NessusClientData_v2>"


def run(data: bytes, tool: str | None = None) -> list[object]:
    return list(parse(io.BytesIO(data), tool))


@pytest.mark.parametrize(
    ("data", "tool", "reason"),
    [
        (BILLION_LAUGHS, None, "entity declarations and external DTDs are refused"),
        (BILLION_LAUGHS, "nessus", "entity declarations and external DTDs are refused"),
        (XXE, "burp", "entity declarations and external DTDs are refused"),
        (EXTERNAL_DTD, None, "entity declarations and external DTDs are refused"),
        (PARAMETER_ENTITY, "burp", "entity declarations and external DTDs are refused"),
        (DEEP, "nessus", "more than 256 levels deep"),
        (b"", None, "empty"),
        (bytes(range(256)) * 40, None, "binary"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "nessus", "binary|not XML|not a Nessus"),
        (b"<foo><bar/></foo>", None, r"root element is <foo>"),
        (b"<foo><bar/></foo>", "nessus", "This is not a Nessus v2 file: the root element is <foo>"),
        (b"<NessusClientData><Report/></NessusClientData>", None, "Nessus v1 files are not"),
        (b"<issues/>", "nessus", "This is not a Nessus v2 file: it looks like a Burp file"),
        (b"a,b,c\n1,2,3\n", "nmap", "This is not an Nmap file: it looks like a CSV"),
        (
            b'{"version": "2.1.0", "runs": []}',
            "nessus",
            "This is not a Nessus v2 file: it looks like a SARIF file",
        ),
        (b"just some words\nmore words\n", None, "Unknown file"),
        (bytes(range(256)) * 40, "csv", "binary"),
        (b'<?xml version="1.0"?><nmaprun scanner="nmap"/>', "csv", "looks like an Nmap file"),
        (b'{"version": "1.0.0", "runs": []}', "sarif", "SARIF version 1.0.0 is not supported"),
        (b'{"version": "2.1.0"}', "sarif", 'no "runs" array'),
        (b'{"a": 1}', None, "Unknown JSON report"),
        (b'{"template-id": "x", "info": {}}\n{broken\n', None, "Line 2 is not JSON"),
        (b'{"template-id": "x", "info": {}}\n[1, 2]\n', "nuclei", "line 2 is not a JSON object"),
        (b'{"info": {}, "template-id": ""}\n', "nuclei", "no template-id"),
    ],
)
def test_refused_with_a_reason(data: bytes, tool: str | None, reason: str) -> None:
    with pytest.raises(ParseError, match=f"(?i){reason}"):
        run(data, tool)


def _cut(path: Path, keep: float) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data[: int(len(data) * keep)]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (DOJO / "nessus" / "nessus_with_cvssv3.nessus.gz", "not well-formed"),
        (DOJO / "openvas" / "many_vuln.xml", "not well-formed"),
        (DOJO / "burp" / "seven_findings.xml", "not well-formed"),
        (DOJO / "zap" / "juicy2.xml", "not well-formed"),
        (DOJO / "nmap" / "issue4406.xml", "not well-formed"),
        (DOJO / "sarif" / "flawfinder.sarif", "JSON file is truncated"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_truncated_real_files_fail_before_the_end(path: Path, reason: str) -> None:
    """A file cut in the middle raises: the app, which stores only after the iteration
    ends, keeps nothing of it."""
    with pytest.raises(ParseError, match=reason):
        run(_cut(path, 0.6))


def test_damaged_gzip_is_refused() -> None:
    data = (DOJO / "nessus" / "nessus_v_unknown.xml.gz").read_bytes()
    with pytest.raises(ParseError, match="gzip"):
        run(data[: len(data) // 2])


def test_endless_jsonl_line_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_streams, "MAX_LINE", 4096)
    line = b'{"template-id": "x", "info": {"description": "' + b"a" * 10_000 + b'"}}\n'
    with pytest.raises(ParseError, match="Line 1 is longer than 4,096 bytes"):
        run(line, "nuclei")


def test_internal_dtd_without_entities_is_accepted() -> None:
    """Burp's real exports carry an internal DTD of element declarations only."""
    assert (DOJO / "burp" / "one_finding.xml").read_bytes().lstrip().startswith(b"<?xml")
    assert b"<!DOCTYPE issues [" in (DOJO / "burp" / "one_finding.xml").read_bytes()
    with (DOJO / "burp" / "one_finding.xml").open("rb") as stream:
        assert len(list(parse(stream))) == 3


def test_detect_needs_only_the_head() -> None:
    head = (DOJO / "nmap" / "issue4406.xml").read_bytes()[:2000]
    assert detect(head) == "nmap"
    with pytest.raises(ParseError, match="Nessus v1"):
        detect(b"<?xml version='1.0'?><NessusClientData><Report/></NessusClientData>")


def test_gzip_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_streams, "MAX_GUNZIPPED", 1024 * 1024)
    bomb = gzip.compress(b"<NessusClientData_v2>" + b" " * (4 * 1024 * 1024))
    assert len(bomb) < 10_000
    with pytest.raises(ParseError, match="more than 1 MiB once decompressed"):
        run(bomb)


class _Trickle:
    """A stream that returns at most 7 bytes per read (a slow upload, a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(7 if size < 0 else min(size, 7))


def test_trickling_streams_parse_the_same() -> None:
    for path in (
        DOJO / "nuclei" / "many_findings.json",
        DOJO / "nessus" / "nessus_v_unknown.xml.gz",
    ):
        whole = list(parse(path.open("rb")))
        assert list(parse(_Trickle(path.read_bytes()))) == whole  # type: ignore[arg-type]
        assert whole
