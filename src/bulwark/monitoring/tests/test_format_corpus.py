"""Format detection on other tools' real output: Zeek logs as zat ships them (TSV and
JSON) and Suricata EVE records as suricata-verify pins them down (corpus/*/README.md).

A log is told by its fields, not by one key: a Zeek JSON http.log carries `version` like
ssl.log does, and was taken for ssl (its hosts then never matched)."""

import pathlib

import orjson
import pytest

from bulwark.monitoring.engine import FORMATS, Snapshot, detect_format, match_buffer
from bulwark.monitoring.engine.formats import ZEEK_FIELDS
from bulwark.monitoring.engine.indicators import from_text

CORPUS = pathlib.Path(__file__).parent / "corpus"
ZAT = CORPUS / "zat"
EVE = CORPUS / "suricata-verify"


def _zeek_path(path: pathlib.Path) -> str:
    """The log a file holds: its #path header (TSV), else its file name (zat's JSON)."""
    for line in path.read_bytes().split(b"\n")[:10]:
        if line.startswith(b"#path\t"):
            return line.split(b"\t", 1)[1].strip().decode()
    return path.name.removesuffix(".log")


def _expected(path: pathlib.Path) -> str | None:
    log = _zeek_path(path)
    json = path.parent.name == "json"
    if log in ZEEK_FIELDS:
        return f"zeek-{log}-{'json' if json else 'tsv'}"
    return "ndjson" if json else None  # a Zeek log we have no fields for


def test_zeek_logs_from_zat_are_detected_by_their_fields() -> None:
    files = sorted(ZAT.glob("*.log")) + sorted((ZAT / "json").glob("*.log"))
    outcome = {
        f.relative_to(ZAT).as_posix(): (detect_format(f.read_bytes()), _expected(f)) for f in files
    }
    wrong = {name: got for name, got in outcome.items() if got[0] != got[1]}
    assert wrong == {}
    assert len(files) == 32  # 15 TSV, 17 JSON
    supported = [name for name, (got, _) in outcome.items() if got and got.startswith("zeek-")]
    # conn, dns, http, ssl, files, smtp in TSV (+ conn_date_issue, http_empty) and
    # conn, dns, http, ssl, files in JSON (zat has no JSON smtp.log).
    assert len(supported) == 13
    assert outcome["json/http.log"][0] == "zeek-http-json"
    assert outcome["json/ssl.log"][0] == "zeek-ssl-json"


@pytest.mark.parametrize("name", ["json/http.log", "http.log"])
def test_every_line_of_an_http_log_hits_its_host(name: str) -> None:
    """The issue's case: each line of zat's http.log names a host; with the hosts as
    indicators every line with a host must hit (read as ssl, 31 of 55 did)."""
    data = (ZAT / name).read_bytes()
    fmt = FORMATS[detect_format(data) or ""]
    rows = [line for line in data.split(b"\n") if line.strip() and not line.startswith(b"#")]
    if name.startswith("json/"):
        hosts = [orjson.loads(line).get("host") for line in rows]
    else:
        header = next(x for x in data.split(b"\n") if x.startswith(b"#fields"))
        column = header.decode().split("\t")[1:].index("host")
        hosts = [line.decode().split("\t")[column] for line in rows]
    named = {h for h in hosts if h and h != "-"}
    snapshot = Snapshot.build(from_text(h) for h in sorted(named))
    result = match_buffer(snapshot, fmt, data)
    assert result.bad == []
    lines_hit = {hit.line for hit in result.hits if hit.field == "host"}
    assert len(lines_hit) == sum(1 for h in hosts if h and h != "-") > 20


def _eve_files() -> list[tuple[str, bytes]]:
    files = [("output-eve-fileinfo", (EVE / "output-eve-fileinfo.eve.json").read_bytes())]
    for line in (EVE / "expected-eve.jsonl").read_bytes().splitlines():
        test = orjson.loads(line)
        text = b"\n".join(orjson.dumps(record) for record in test["records"]) + b"\n"
        files.append((test["test"], text))
    return files


def test_suricata_eve_records_from_suricata_verify_are_detected() -> None:
    files = _eve_files()
    wrong = {name: detect_format(text) for name, text in files}
    wrong = {name: got for name, got in wrong.items() if got != "suricata-eve"}
    assert len(files) == 2009
    # The misses are tests that pin down nothing EVE-specific: engine messages matched
    # by log_level alone (a real record also has its timestamp and engine section), an
    # http record by its metadata, an alert by its tftp section. They read as NDJSON.
    assert len(files) - len(wrong) == 1987
    assert set(wrong.values()) == {"ndjson"}
    assert sum("exception-policy" in n or n.startswith("datasets/") for n in wrong) == 19
    # Every record reads as EVE (no line refused by the parser).
    parse = FORMATS["suricata-eve"].parse
    records = 0
    for _name, text in files:
        for line in text.splitlines():
            parse(line, {})
            records += 1
    assert records == 7181


def test_generic_json_is_not_taken_for_zeek_or_suricata() -> None:
    assert detect_format(b'{"uid": 1, "version": "1.1"}\n') == "ndjson"
    assert detect_format(b'{"event_type": "login", "user": "a"}\n') == "ndjson"
    assert detect_format(b'{"id": 4, "host": "a", "method": "GET"}\n') == "ndjson"
