"""The stream worker against the real nats-server: two workers share a JetStream
consumer, one is SIGKILLed in the middle of a batch, and every line is still matched
exactly once into the stored sightings. Also: an indicator update reaches a running
worker without a restart.

The tests that talk to NATS take the `nats_url` fixture (bulwark/conftest.py): without a
nats-server on :4222 they are skipped, unless BULWARK_REQUIRE_NATS=1 (CI), where that is
a failure. The others run either way."""

import base64
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bulwark.conftest import NATS_URL
from bulwark.monitoring.engine import FORMATS, Snapshot, match_buffer
from bulwark.monitoring.engine.indicators import from_text
from bulwark.monitoring.tests import labelled

SRC = str(Path(__file__).resolve().parents[3])


def bulwark(env: dict[str, str], *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bulwark.cli", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def done(env: dict[str, str], *args: str) -> str:
    proc = bulwark(env, *args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return out


@pytest.fixture
def platform(tmp_path: Path, nats_url: str) -> dict[str, str]:
    """A migrated SQLite platform in tmp_path for worker subprocesses (needs NATS)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(BULWARK_DATA_DIR=str(tmp_path), PYTHONPATH=SRC)
    done(env, "migrate", "--noinput", "-v", "0")
    done(env, "shell", "-c", (
        "from bulwark.constituency.models import Organisation as O; "
        "O.objects.create(name='Agency one', short_name='AG1', kind='government_agency', "
        "country='TW')"
    ))  # fmt: skip
    return env


def stored(tmp_path: Path) -> tuple[int, int, int, int]:
    with sqlite3.connect(tmp_path / "bulwark.sqlite3") as db:
        batches, lines, keys = db.execute(
            "select count(*), coalesce(sum(lines), 0), count(distinct key) "
            "from monitoring_processedbatch"
        ).fetchone()
        hits = db.execute("select coalesce(sum(count), 0) from monitoring_logsighting").fetchone()[
            0
        ]
    return batches, lines, keys, hits


def test_two_workers_one_killed_mid_batch_every_line_once(
    platform: dict[str, str], tmp_path: Path
) -> None:
    truth = labelled.build()
    indicators = tmp_path / "ind.txt"
    indicators.write_text("\n".join(truth.indicators) + "\n")
    text, _ = labelled.generate("zeek-dns-json", truth, 3000, seed=8)
    log = tmp_path / "dns.json"
    log.write_text(text)
    snapshot = Snapshot.build(from_text(v) for v in truth.indicators)
    expected = len(match_buffer(snapshot, FORMATS["zeek-dns-json"], text.encode()).hits)
    stream, durable = f"T{uuid.uuid4().hex[:10]}", "shared"
    out = done(platform, "monitor", "publish", "--nats", NATS_URL, "--stream", stream, "--agency",
               "AG1", "--format", "zeek-dns-json", "--batch-bytes", "3000", str(log))  # fmt: skip
    sent = int(out.split()[1])
    assert sent > 20

    common = ["monitor", "worker", "--nats", NATS_URL, "--stream", stream, "--durable", durable,
              "--indicators", str(indicators), "--ack-wait", "4", "--idle-exit", "12"]  # fmt: skip
    # The slow worker takes its batches (up to 16 per fetch) before the fast one starts,
    # so it surely holds some when it is killed; the fast one then shares the consumer.
    slow = bulwark(platform, *common, "--pause", "30")
    fast = None
    try:
        killed_key = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = slow.stdout.readline() if slow.stdout else ""
            if line.startswith("matched "):
                killed_key = line.split()[1]
                break
        assert killed_key, "the slow worker never received a batch"
        fast = bulwark(platform, *common, "--pause", "0.2")
        assert fast.stdout and fast.stdout.readline().startswith("worker ready")
        slow.send_signal(signal.SIGKILL)  # between matching and storing: nothing acked
        slow.wait(timeout=10)
        fast_out, fast_err = fast.communicate(timeout=300)
    finally:
        for proc in (slow, fast):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert fast.returncode == 0, fast_err
    batches, lines, keys, hits = stored(tmp_path)
    assert batches == keys == sent
    assert lines == len(text.splitlines())
    assert hits == expected and expected > 100
    assert f"stored {killed_key}" in fast_out  # the killed worker's batch was redelivered


def test_indicator_update_reaches_running_worker(platform: dict[str, str], tmp_path: Path) -> None:
    indicators = tmp_path / "ind.txt"
    indicators.write_text("old.example\n")
    line = '{"ts":1763900000.0,"id.orig_h":"10.0.0.1","query":"www.new.example"}\n'
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(line)
    second.write_text(line.replace("1763900000", "1763903600"))
    stream = f"T{uuid.uuid4().hex[:10]}"
    worker = bulwark(platform, "monitor", "worker", "--nats", NATS_URL, "--stream", stream,
                     "--indicators", str(indicators), "--reload", "2", "--idle-exit", "20")  # fmt: skip  # noqa: E501
    try:
        assert worker.stdout and worker.stdout.readline().startswith("worker ready")
        publish = ["monitor", "publish", "--nats", NATS_URL, "--stream", stream, "--agency", "AG1",
                   "--format", "zeek-dns-json"]  # fmt: skip
        done(platform, *publish, str(first))
        deadline = time.monotonic() + 60
        while stored(tmp_path)[0] < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert stored(tmp_path)[3] == 0  # not an indicator yet
        indicators.write_text("old.example\nnew.example\n")
        time.sleep(5)  # > the reload interval
        done(platform, *publish, str(second))
        while stored(tmp_path)[0] < 2 and time.monotonic() < deadline + 60:
            time.sleep(0.5)
        assert stored(tmp_path)[3] == 1
    finally:
        worker.kill()
        worker.wait()


def test_directory_worker_archives_and_hunt_finds_old_contacts(tmp_path: Path) -> None:
    """Without NATS the worker watches a directory; what it stored is archived, and a
    retro-hunt for a value published later finds the contact in the archive."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(BULWARK_DATA_DIR=str(tmp_path), PYTHONPATH=SRC)
    done(env, "migrate", "--noinput", "-v", "0")
    done(env, "shell", "-c", (
        "from bulwark.constituency.models import Organisation as O; "
        "O.objects.create(name='Agency one', short_name='AG1', kind='government_agency', "
        "country='TW')"
    ))  # fmt: skip
    inbox = tmp_path / "inbox" / "AG1" / "zeek-dns-json"
    inbox.mkdir(parents=True)
    (inbox / "dns.json").write_text(
        '{"ts":1763900000.0,"id.orig_h":"10.0.0.7","query":"later-known.example"}\n'
        '{"ts":1763900001.0,"id.orig_h":"10.0.0.8","query":"fine.example"}\n'
    )
    (tmp_path / "ind.txt").write_text("other.example\n")
    worker = bulwark(env, "monitor", "worker", "--watch", str(tmp_path / "inbox"),
                     "--indicators", str(tmp_path / "ind.txt"))  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "inbox" / "done").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        worker.kill()
        worker.wait()
    assert stored(tmp_path)[:2] == (1, 2)
    assert not (inbox / "dns.json").exists()
    out = done(env, "monitor", "hunt", "--since", "30d", "Later-Known.example", "10.0.0.99")
    hits = [line for line in out.splitlines() if line]
    assert len(hits) == 1 and '"indicator":"later-known.example"' in hits[0]
    assert '"agency":"AG1"' in hits[0]


def test_batches_fit_the_size_and_keep_every_line(tmp_path: Path) -> None:
    from bulwark.monitoring.streaming import batches

    lines = [f'{{"query":"host{i}.example","pad":"{"x" * (i % 300)}"}}\n' for i in range(5000)]
    long_line = '{"query":"' + "a" * 20_000 + '"}\n'
    path = tmp_path / "log"
    path.write_text("".join(lines[:2500]) + long_line + "".join(lines[2500:]))
    got = list(batches(path, 8192))
    assert all(len(data) <= 8192 for _, data in got if data != long_line.encode())
    assert b"".join(data for _, data in got) == path.read_bytes()  # nothing lost, in order
    assert all(offset == sum(len(d) for _, d in got[:n]) for n, (offset, _) in enumerate(got))
    assert all(data.endswith(b"\n") for _, data in got)


def test_publish_default_batches_fit_the_server_limit(
    platform: dict[str, str], tmp_path: Path
) -> None:
    """1 MB batches plus headers exceeded nats-server's 1 MB max_payload: the publisher
    sizes its (compressed) batches to the server's limit, and a single line too large for
    a message even compressed is reported. Random base64 hardly compresses."""
    rnd = random.Random(3)
    lines = [
        '{"ts":1,"id.orig_h":"10.0.0.1","query":"' + base64.b64encode(rnd.randbytes(240)).decode()
        + '.example"}\n'
        for _ in range(8000)
    ]  # fmt: skip
    huge = '{"query":"' + base64.b64encode(rnd.randbytes(1_200_000)).decode() + '"}\n'
    log = tmp_path / "big.json"
    log.write_text("".join(lines) + huge + "".join(lines[:10]))
    stream = f"T{uuid.uuid4().hex[:10]}"
    proc = bulwark(platform, "monitor", "publish", "--nats", NATS_URL, "--stream", stream,
                   "--agency", "AG1", "--format", "zeek-dns-json", str(log))  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert int(out.split()[1]) >= 3  # 2.8 MB of lines in messages under 1 MB
    offset = len("".join(lines).encode())
    assert f"skipped a line of {len(huge)} bytes at offset {offset}" in err
