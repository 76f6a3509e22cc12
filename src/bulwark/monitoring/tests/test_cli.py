"""`bulwark monitor match` and `bulwark monitor formats` as a user runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

from bulwark.monitoring.tests import labelled

BULWARK = [sys.executable, "-m", "bulwark.cli"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*BULWARK, "monitor", *args], input=stdin, capture_output=True, env=ENV, timeout=120
    )


def test_match_files_and_stdin(tmp_path: Path) -> None:
    truth = labelled.build()
    (tmp_path / "ind.txt").write_text("\n".join(truth.indicators) + "\nnot an indicator\n")
    text, expected = labelled.generate("zeek-dns-json", truth, 300, seed=4)
    log = tmp_path / "dns.log"
    log.write_bytes(text.encode() + b'{"ts":1,"query":"evil-0.com"\n')
    out = tmp_path / "hits.ndjson"
    done = run(
        "match",
        "--indicators",
        str(tmp_path / "ind.txt"),
        "--workers",
        "2",
        "--agency",
        "moe",
        "--output",
        str(out),
        str(log),
    )
    assert done.returncode == 0, done.stderr
    hits = [json.loads(line) for line in out.read_text().splitlines()]
    want = {(n, ind) for n, inds in enumerate(expected, start=1) for ind in inds}
    assert {(h["line"], h["indicator"]) for h in hits} == want
    assert set(hits[0]) >= {"indicator", "field", "ts", "src", "dst", "agency", "offset"}
    assert hits[0]["agency"] == "moe" and hits[0]["source"] == str(log)
    err = done.stderr.decode()
    assert "format zeek-dns-json" in err  # detected
    assert f"{len(expected) + 1:,} lines" in err and f"{len(hits):,} hits" in err
    assert f"bad line {len(expected) + 1} " in err
    assert "refused: not an indicator" in err
    # the same log on standard input, hits on standard output
    piped = run(
        "match",
        "--indicators",
        str(tmp_path / "ind.txt"),
        "--format",
        "zeek-dns-json",
        "-",
        stdin=log.read_bytes(),
    )
    assert piped.returncode == 0, piped.stderr
    assert sorted(piped.stdout.decode().splitlines()) == sorted(
        line.replace(str(log), "-").replace('"agency":"moe"', '"agency":null')
        for line in out.read_text().splitlines()
    )


def test_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "ind.txt").write_text("evil.com\n")
    (tmp_path / "x.log").write_text("hello\n")
    done = run(
        "match",
        "--indicators",
        str(tmp_path / "ind.txt"),
        "--format",
        "nope",
        str(tmp_path / "x.log"),
    )
    assert done.returncode != 0 and b"unknown format 'nope'" in done.stderr
    done = run("match", "--indicators", str(tmp_path / "ind.txt"), str(tmp_path / "x.log"))
    assert done.returncode != 0 and b"cannot tell the log format" in done.stderr
    done = run(
        "match",
        "--indicators",
        str(tmp_path / "missing"),
        "--format",
        "squid",
        str(tmp_path / "x.log"),
    )
    assert done.returncode != 0 and b"missing" in done.stderr
    bundle = tmp_path / "b.json"
    bundle.write_text('{"type": "bundle", "objects": ')
    done = run("match", "--indicators", str(bundle), "--format", "squid", str(tmp_path / "x.log"))
    assert done.returncode != 0 and b"not valid JSON" in done.stderr


def test_formats_lists_every_format() -> None:
    done = run("formats")
    assert done.returncode == 0
    names = [line.split()[0] for line in done.stdout.decode().splitlines()]
    assert "zeek-dns-json" in names and "zeek-smtp-tsv" in names and "cef" in names
    assert len(names) == 18
