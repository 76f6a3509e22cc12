"""Compressed log batches: what the publisher packs, what a worker refuses (damaged,
truncated, oversized-when-inflated, unknown encoding), what the archive keeps and what a
retro-hunt reads back, old plain archives included."""

import base64
import random
import time
from pathlib import Path

import pytest
import zstandard
from django.core.management import call_command

from bulwark.constituency.models import Organisation
from bulwark.monitoring import archive, streaming
from bulwark.monitoring.engine import FORMATS, Snapshot, codec, match_paths
from bulwark.monitoring.engine.indicators import from_text
from bulwark.monitoring.models import LogSighting, ProcessedBatch

HIT = b'{"ts":1763900000.0,"id.orig_h":"10.0.0.7","query":"www.bad.example"}\n'
MISS = b'{"ts":1763900001.0,"id.orig_h":"10.0.0.8","query":"fine.example"}\n'


def test_inflate_round_trip_and_refusals() -> None:
    lines = HIT + MISS * 1000
    frame = codec.compress(lines)
    assert len(frame) < len(lines) // 10
    assert codec.inflate(frame) == lines
    assert codec.inflate(frame, limit=len(lines)) == lines  # exactly at the limit
    refusals = {
        "truncated": (frame[:-3], "truncated"),
        "empty": (b"", "truncated"),
        "garbage": (b"not zstd at all" * 10, "not a valid Zstandard frame"),
        "trailing": (frame + b"junk", "bytes follow"),
        "two frames": (frame + frame, "bytes follow"),
        "one byte over": (frame, "inflates beyond"),
    }
    for name, (payload, message) in refusals.items():
        limit = len(lines) - 1 if name == "one byte over" else codec.MAX_INFLATED
        with pytest.raises(codec.BatchDecodeError, match=message):
            codec.inflate(payload, limit=limit)


def test_a_small_frame_that_inflates_to_gigabytes_is_refused_early() -> None:
    bomb = codec.compress(b"\0" * (codec.MAX_INFLATED + 1))
    assert len(bomb) < 10_000
    with pytest.raises(codec.BatchDecodeError, match="inflates beyond"):
        codec.inflate(bomb)


def test_frames_that_do_not_declare_their_size_are_inflated_within_the_limit() -> None:
    """Other publishers may stream-compress (no size in the header): still read, and a
    bomb among them is refused once the limit is passed, never inflated further."""
    lines = HIT + MISS * 1000
    streamed = zstandard.ZstdCompressor(level=1, write_content_size=False).compress(lines)
    assert zstandard.frame_content_size(streamed) == codec.UNKNOWN_SIZE
    assert codec.inflate(streamed) == lines
    bomb = zstandard.ZstdCompressor(write_content_size=False).compress(b"\0" * 5_000_000)
    with pytest.raises(codec.BatchDecodeError, match="inflates beyond 1,000,000 bytes"):
        codec.inflate(bomb, limit=1_000_000)


def test_a_header_that_claims_a_huge_size_is_refused_before_inflating() -> None:
    frame = codec.compress(HIT * 10)
    descriptor = frame[4]  # RFC 8878 3.1.1.1.1: the content size field's size, and more
    single = descriptor >> 5 & 1
    size_field = {0: single, 1: 2, 2: 4, 3: 8}[descriptor >> 6]
    assert descriptor & 3 == 0  # no dictionary id
    rest = 5 + (0 if single else 1)  # after the window descriptor, if any
    forged = (
        frame[:4] + bytes([descriptor | 0xC0]) + frame[5:rest]
        + (2**60).to_bytes(8, "little") + frame[rest + size_field :]
    )  # fmt: skip
    assert zstandard.frame_content_size(forged) == 2**60
    with pytest.raises(codec.BatchDecodeError, match="inflates beyond"):
        codec.inflate(forged)


def test_packed_batches_fit_keep_every_line_and_skip_overlong_ones(tmp_path: Path) -> None:
    rnd = random.Random(5)
    noisy = [  # random base64: compresses to about 3/4, so frames must be split
        b'{"query":"h%d.example","pad":"%s"}\n' % (i, base64.b64encode(rnd.randbytes(i % 400)))
        for i in range(6000)
    ]
    plain = [b'{"query":"host%d.example"}\n' % i for i in range(20000)]
    overlong = b'{"query":"' + base64.b64encode(rnd.randbytes(300_000)) + b'"}\n'
    body = b"".join(noisy[:3000]) + overlong + b"".join(plain) + b"".join(noisy[3000:])
    path = tmp_path / "log"
    path.write_bytes(body + b'{"query":"last.example"}')  # no newline at the end
    whole = path.read_bytes()
    got = list(streaming.packed_batches(path, limit=20_000, max_raw=200_000))
    position = 0
    skipped = []
    for offset, frame, size in got:
        assert offset == position  # contiguous, in order
        position += size
        if frame is None:
            skipped.append((offset, size))
            continue
        assert len(frame) <= 20_000
        assert codec.inflate(frame) == whole[offset : offset + size]
    assert position == len(whole)  # nothing lost but the one line reported
    assert skipped == [(len(b"".join(noisy[:3000])), len(overlong))]
    sizes = [size for _, frame, size in got if frame is not None]
    assert max(sizes) > 100_000  # plain lines: several times the frame limit per message


def test_long_lines_are_read_in_large_pieces(tmp_path: Path) -> None:
    """A line longer than a batch was gathered one byte per read, copying everything
    gathered so far each time (minutes for a few MB); now both readers finish at once."""
    path = tmp_path / "log"
    long_line = b'{"query":"' + b"a" * 3_000_000 + b'"}\n'
    path.write_bytes(b'{"query":"x.example"}\n' * 10 + long_line + b'{"query":"y.example"}\n')
    started = time.monotonic()
    packed = list(streaming.packed_batches(path, limit=20_000, max_raw=8_000_000))
    plain = list(streaming.batches(path, 64 * 1024))
    assert time.monotonic() - started < 10
    assert b"".join(codec.inflate(f) for _, f, _ in packed if f) == path.read_bytes()
    assert b"".join(data for _, data in plain) == path.read_bytes()
    assert long_line in [data for _, data in plain]  # the long line comes alone
    assert all(o == sum(len(d) for _, d in plain[:n]) for n, (o, _) in enumerate(plain))


def _items(*payloads: tuple[str, bytes, str]) -> list[streaming.Item]:
    common = {"agency": "AG1", "fmt_name": "zeek-dns-json", "base_offset": 0, "source": "a.log"}
    return [
        streaming.Item(key=key, data=data, encoding=encoding, **common)  # type: ignore[arg-type]
        for key, data, encoding in payloads
    ]


@pytest.mark.django_db
def test_worker_stores_compressed_batches_and_refuses_bad_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULWARK_MONITOR_ARCHIVE", str(tmp_path / "archive"))
    # The worker drops stale connections before each group; here the test's transaction
    # holds the only one.
    monkeypatch.setattr(streaming, "close_old_connections", lambda: None)
    Organisation.objects.create(name="Agency one", short_name="AG1", kind="government_agency")
    holder = streaming.SnapshotHolder(
        lambda: Snapshot.build([from_text("bad.example")]), reload_seconds=3600
    )
    good = codec.compress(HIT + MISS * 50)
    items = streaming.process_batches(
        holder,
        _items(
            ("good", good, "zstd"),
            ("plain", HIT, ""),
            ("damaged", good[:-4], "zstd"),
            ("bomb", codec.compress(b"\n" * (codec.MAX_INFLATED + 10)), "zstd"),
            ("odd", good, "gzip"),
        ),
        streaming.AgencyCache(),
    )
    outcomes = {item.key: item.outcome for item in items}
    assert outcomes["good"] == outcomes["plain"] == "stored"
    assert outcomes["damaged"] == "refused: the Zstandard frame is truncated"
    assert outcomes["bomb"].startswith("refused: the batch inflates beyond")
    assert outcomes["odd"] == "refused: unknown Bulwark-Encoding 'gzip'"
    assert set(ProcessedBatch.objects.values_list("key", "lines")) == {("good", 51), ("plain", 1)}
    assert LogSighting.objects.get().count == 2
    files = sorted((tmp_path / "archive").rglob("*"))
    kept = [p for p in files if p.is_file()]
    assert len(kept) == 2 and all(p.name.endswith(".log.zst") for p in kept)
    assert sorted(codec.inflate(p.read_bytes()) for p in kept) == sorted([HIT, HIT + MISS * 50])
    assert good in {p.read_bytes() for p in kept}  # the frame as it came, not compressed again


@pytest.mark.django_db
def test_hunt_reads_compressed_plain_and_reports_damaged_archive_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BULWARK_MONITOR_ARCHIVE", str(tmp_path / "archive"))
    old = archive.store("AG1", "zeek-dns-json", "new", MISS + HIT).with_name("old.log")
    old.write_bytes(HIT.replace(b"10.0.0.7", b"10.0.0.9"))  # written before compression
    damaged = old.with_name("damaged.log.zst")
    damaged.write_bytes(codec.compress(HIT)[:-2])
    found = sorted(p.name for _, _, p in archive.files_since(archive.parse_since("1d")))
    assert len(found) == 3 and "old.log" in found and "damaged.log.zst" in found
    summary = match_paths(
        Snapshot.build([from_text("bad.example")]), FORMATS["zeek-dns-json"],
        [str(p) for _, _, p in archive.files_since(archive.parse_since("1d"))], workers=2,
    )  # fmt: skip
    assert sorted(h.src or "" for h in summary.result.hits) == ["10.0.0.7", "10.0.0.9"]
    assert summary.result.lines == 3
    assert [reason for _, _, reason in summary.result.bad] == [
        "unreadable batch: the Zstandard frame is truncated"
    ]
    call_command("monitor", "hunt", "--since", "2d", "www.bad.example")
    out = capsys.readouterr().out
    assert out.count('"indicator":"www.bad.example"') == 2


def test_worker_keeps_heap_headroom_on_glibc() -> None:
    assert streaming.keep_heap_headroom(64 * 1024 * 1024) is True
