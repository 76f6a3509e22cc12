"""Stream workers: log batches from a NATS JetStream stream (a durable pull consumer
shared by every worker) or, without NATS, from a watched directory.

A batch is acknowledged only after its hits are stored; its key is stored in the same
transaction (ProcessedBatch), so a batch redelivered because a worker died mid-batch is
recognised and acknowledged without counting it twice. The indicator snapshot is rebuilt
every `reload` seconds in a thread and swapped in by one reference assignment: a batch is
matched entirely against the old or entirely against the new snapshot, and no line waits.
"""

import asyncio
import ctypes
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import IntegrityError, close_old_connections, transaction

from bulwark.constituency.models import Organisation
from bulwark.core import metrics
from bulwark.monitoring import archive
from bulwark.monitoring.engine import FORMATS, Snapshot, codec, load_indicator_file, match_buffer
from bulwark.monitoring.models import ProcessedBatch
from bulwark.monitoring.services import record_hits

log = logging.getLogger(__name__)
SUBJECT = "{stream}.batches"
BATCH_BYTES = 1024 * 1024
HEADER_ROOM = 8 * 1024  # bytes kept free in a message for the headers
MAX_RAW_BATCH = 16 * 1024 * 1024  # raw lines in one compressed message, at most
PUBLISH_WINDOW = 16  # batches in flight while the publisher waits for JetStream's acks
FETCH = 16  # batches a NATS worker takes at once (at most) and stores in one transaction
GROUP_BYTES = 64 * 1024 * 1024  # lines per group, about (see group_size)
HEAP_PAD = 64 * 1024 * 1024  # see keep_heap_headroom
M_TOP_PAD = -2  # glibc's mallopt parameter number


def build_snapshot(indicator_files: list[str]) -> Snapshot:
    from bulwark.monitoring.indicator_sources import platform_indicators

    if indicator_files:
        refused: list[tuple[int, str]] = []
        return Snapshot.build(
            (i for f in indicator_files for i in load_indicator_file(Path(f), refused)), refused
        )
    return Snapshot.build(platform_indicators())


class SnapshotHolder:
    """The current snapshot, replaced whole by a reloader thread."""

    def __init__(self, build: Callable[[], Snapshot], reload_seconds: float) -> None:
        self._build = build
        self.current = build()
        self.reload_seconds = reload_seconds
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True, name="snapshot-reload").start()

    def _loop(self) -> None:
        while not self._stop.wait(self.reload_seconds):
            try:
                close_old_connections()
                fresh = self._build()
            except Exception:  # keep matching with the old snapshot
                metrics.MONITOR_ERRORS.labels(stage="indicators").inc()
                log.exception("indicator reload failed")
                continue
            self.current = fresh  # one assignment: atomic for the matching loop
            log.info("indicators reloaded: %s", fresh.size)

    def stop(self) -> None:
        self._stop.set()


def find_agency(ref: str) -> Organisation:
    query = (
        Organisation.objects.filter(pk=int(ref))
        if ref.isdigit()
        else Organisation.objects.filter(short_name=ref)
    )
    org = query.first() or Organisation.objects.filter(name=ref).first()
    if org is None:
        raise LookupError(f"no organisation {ref!r}")
    return org


def process_batch(
    holder: SnapshotHolder,
    key: str,
    agency: str,
    fmt_name: str,
    data: bytes,
    base_offset: int,
    source: str,
    pause: float = 0.0,
    encoding: str = "",
    count: bool = True,
) -> str:
    """Match and store one batch unless it was stored before. Returns 'stored' or
    'duplicate'; raises BatchDecodeError for a compressed batch that cannot be inflated.
    Counted in the metrics unless `count` is false (a group's retry, counted by the group)."""
    close_old_connections()
    if ProcessedBatch.objects.filter(key=key).exists():
        if count:
            metrics.count_batches(["duplicate"], lines=0, hits=0)
        return "duplicate"
    org = find_agency(agency)
    fmt = FORMATS[fmt_name]
    lines = unpack(data, encoding)
    result = match_buffer(
        holder.current,
        fmt,
        lines,
        base_offset=base_offset,
        source=source,
        agency=org.short_name or org.name,
    )
    print(f"matched {key} lines={result.lines} hits={len(result.hits)}", flush=True)
    if pause:
        time.sleep(pause)  # tests: a window in which the worker dies mid-batch
    try:
        with transaction.atomic():
            ProcessedBatch.objects.create(
                key=key, organisation=org, lines=result.lines, hits=len(result.hits)
            )
            record_hits(org, [h.as_dict() for h in result.hits], source=f"monitor:{source}")
    except IntegrityError:
        if count:
            metrics.count_batches(["duplicate"], lines=result.lines, hits=0)
        return "duplicate"  # another worker stored it first
    archive.store(org.short_name or str(org.pk), fmt_name, key, data, packed=bool(encoding))
    if count:
        metrics.count_batches(["stored"], lines=result.lines, hits=len(result.hits))
    return "stored"


def unpack(data: bytes, encoding: str) -> bytes:
    """A batch's lines from a message body (Bulwark-Encoding: '' or 'zstd')."""
    if not encoding:
        return data
    if encoding != codec.ENCODING:
        raise codec.BatchDecodeError(f"unknown Bulwark-Encoding {encoding[:40]!r}")
    return codec.inflate(data)


@dataclass
class Item:
    """One log batch as a stream worker received it."""

    key: str
    agency: str
    fmt_name: str
    data: bytes
    base_offset: int
    source: str
    encoding: str = ""  # Bulwark-Encoding: '' (plain lines) or 'zstd'
    outcome: str = ""  # stored, duplicate or refused: <reason>


class AgencyCache:
    """Organisations by the reference publishers put on batches, for a minute: a worker
    asks for the same few agencies thousands of times."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._found: dict[str, tuple[float, Organisation]] = {}

    def get(self, ref: str) -> Organisation:
        now = time.monotonic()
        hit = self._found.get(ref)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        org = find_agency(ref)
        self._found[ref] = (now, org)
        return org


def _offset(text: str) -> int:
    """A batch's byte offset from its header; -1 (refused) when it is not one."""
    return int(text) if text.isdigit() and len(text) < 19 else -1


def process_batches(
    holder: SnapshotHolder, items: list[Item], agencies: AgencyCache, pause: float = 0.0
) -> list[Item]:
    """Match a group of batches and store all their hits in one transaction (one commit
    for the group instead of one per batch). Batches stored before are marked duplicate;
    unroutable ones (unknown agency or format) are marked refused. When another worker
    stored one of them meanwhile, the group falls back to one transaction per batch."""
    close_old_connections()
    seen = set(
        ProcessedBatch.objects.filter(key__in=[i.key for i in items]).values_list("key", flat=True)
    )
    todo: list[tuple[Item, Organisation, Any]] = []
    snapshot = holder.current  # the whole group against one snapshot
    for item in items:
        if item.key in seen:
            item.outcome = "duplicate"
            continue
        try:
            org = agencies.get(item.agency)
            fmt = FORMATS[item.fmt_name]
        except (LookupError, KeyError) as exc:
            item.outcome = f"refused: {exc}"
            continue
        if item.base_offset < 0:
            item.outcome = "refused: the Bulwark-Offset header is not a byte offset"
            continue
        try:
            lines = unpack(item.data, item.encoding)
        except codec.BatchDecodeError as exc:
            item.outcome = f"refused: {exc}"
            continue
        result = match_buffer(
            snapshot, fmt, lines, base_offset=item.base_offset, source=item.source,
            agency=org.short_name or org.name,
        )  # fmt: skip
        del lines  # the inflated batch is not kept; the archive takes the frame as it came
        print(f"matched {item.key} lines={result.lines} hits={len(result.hits)}", flush=True)
        todo.append((item, org, result))
    if pause and todo:
        time.sleep(pause)  # tests: a window in which the worker dies mid-batch
    try:
        return _store_group(holder, items, todo)
    finally:
        metrics.count_batches(
            [i.outcome for i in items],
            lines=sum(r.lines for _, _, r in todo),
            hits=sum(len(r.hits) for _, _, r in todo),
        )


def _store_group(
    holder: SnapshotHolder, items: list[Item], todo: list[tuple[Item, Organisation, Any]]
) -> list[Item]:
    if not todo:
        return items
    try:
        with transaction.atomic():
            ProcessedBatch.objects.bulk_create(
                ProcessedBatch(key=i.key, organisation=o, lines=r.lines, hits=len(r.hits))
                for i, o, r in todo
            )
            grouped: dict[tuple[int, str], tuple[Organisation, list[dict[str, Any]]]] = {}
            for item, org, result in todo:
                entry = grouped.setdefault((org.pk, item.source), (org, []))
                entry[1].extend(h.as_dict() for h in result.hits)
            for (_, source), (org, hits) in grouped.items():
                record_hits(org, hits, source=f"monitor:{source}")
    except IntegrityError:
        for item, _, _ in todo:  # another worker stored some of them: one by one
            item.outcome = process_batch(
                holder, item.key, item.agency, item.fmt_name, item.data, item.base_offset,
                item.source, encoding=item.encoding, count=False,
            )  # fmt: skip
        return items
    for item, org, _ in todo:
        archive.store(
            org.short_name or str(org.pk), item.fmt_name, item.key, item.data,
            packed=bool(item.encoding),
        )  # fmt: skip
        item.outcome = "stored"
    return items


def batches(path: Path, size: int = BATCH_BYTES) -> Any:
    """(offset, bytes) of whole-line batches of a file, each at most `size` bytes, except
    a single line longer than that, which comes alone (the caller decides)."""
    offset = 0
    with path.open("rb") as handle:
        carry = b""
        while True:
            block = handle.read(size - len(carry))
            if not block:
                break
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) < size:
                carry = data
                continue
            if cut == 0:  # a line longer than size: read to its end in large reads
                parts = [data]
                while block := handle.read(1024 * 1024):
                    end = block.find(b"\n") + 1
                    parts.append(block[:end] if end else block)
                    if end:
                        break
                data = b"".join(parts)
                cut = len(data)
                handle.seek(offset + cut)
            yield offset, data[:cut]
            offset += cut
            carry = data[cut:]
        if carry:
            yield offset, carry


def _fit(offset: int, data: bytes, limit: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(offset, frame, raw size) for whole lines whose frame fits `limit`, halving at a
    line boundary until it does; a single line that does not fit comes with frame None."""
    frame = codec.compress(data)
    if len(frame) <= limit:
        yield offset, frame, len(data)
        return
    middle = data.rfind(b"\n", 0, len(data) // 2) + 1 or data.find(b"\n") + 1
    if middle <= 0 or middle >= len(data):
        yield offset, None, len(data)
        return
    yield from _fit(offset, data[:middle], limit)
    yield from _fit(offset + middle, data[middle:], limit)


def packed_batches(
    path: Path, limit: int, max_raw: int = MAX_RAW_BATCH
) -> Iterator[tuple[int, bytes | None, int]]:
    """(offset, Zstandard frame, raw size) of whole-line batches of a file, each frame at
    most `limit` bytes. The raw size of a batch follows the ratio the previous ones
    reached (about 8x for Zeek JSON), so a message carries as many lines as fit. A line
    that does not fit a message, or is longer than `max_raw`, comes with frame None and
    is not read into memory whole."""
    ratio = 4.0
    offset = 0
    with path.open("rb") as handle:
        carry = b""
        while True:
            want = int(min(max_raw, max(limit, limit * ratio * 0.8)))
            # At least 256 kB a read: a long line must not be gathered a byte at a time.
            block = handle.read(max(want - len(carry), 256 * 1024))
            if not block:
                break
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) < max_raw:
                    carry = data
                    continue
                skipped, carry = len(data), b""  # an overlong line: skipped to its end
                while block := handle.read(1024 * 1024):
                    end = block.find(b"\n") + 1
                    if end:
                        skipped, carry = skipped + end, block[end:]
                        break
                    skipped += len(block)
                yield offset, None, skipped
                offset += skipped
                continue
            packed = 0
            for part in _fit(offset, data[:cut], limit):
                packed += len(part[1] or b"")
                yield part
            ratio = cut / packed if packed else ratio
            offset += cut
            carry = data[cut:]
        if carry:
            yield from _fit(offset, carry, limit)


async def _ensure_stream(js: Any, stream: str) -> None:
    # Lazy: the NATS client only in the streaming workers.
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=stream, subjects=[SUBJECT.format(stream=stream)], duplicate_window=3600
            )
        )


async def publish(
    url: str, stream: str, agency: str, fmt: str, files: list[str], batch_bytes: int = BATCH_BYTES
) -> int:
    # Lazy: the NATS client only in the streaming workers.
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    await _ensure_stream(js, stream)
    # A message (batch and headers) must fit the server's max_payload (1 MB by default).
    limit = min(batch_bytes, nc.max_payload - HEADER_ROOM)
    sent = 0
    pending: list[Any] = []  # acknowledgements awaited together, not one round trip each
    for name in files:
        path = Path(name)
        for offset, frame, size in packed_batches(path, limit):
            if frame is None:
                print(
                    f"{path}: skipped a line of {size} bytes at offset {offset}: larger "
                    f"than the server's message limit even compressed",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            headers = {
                "Nats-Msg-Id": f"{path.resolve()}:{path.stat().st_mtime_ns}:{offset}",
                "Bulwark-Agency": agency, "Bulwark-Format": fmt, "Bulwark-Source": str(path),
                "Bulwark-Offset": str(offset), "Bulwark-Encoding": codec.ENCODING,
            }  # fmt: skip
            pending.append(js.publish(SUBJECT.format(stream=stream), frame, headers=headers))
            if len(pending) >= PUBLISH_WINDOW:
                await asyncio.gather(*pending)  # raises if the server refused one
                sent += len(pending)
                pending = []
    await asyncio.gather(*pending)
    sent += len(pending)
    await nc.close()
    return sent


async def run_nats_worker(
    holder: SnapshotHolder,
    url: str,
    stream: str,
    durable: str = "monitor",
    ack_wait: float = 30,
    pause: float = 0.0,
    idle_exit: float = 0.0,
) -> None:
    # Lazy: the NATS client only in the streaming workers.
    import nats
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import ConsumerConfig

    keep_heap_headroom()
    nc = await nats.connect(url)
    js = nc.jetstream()
    await _ensure_stream(js, stream)
    sub = await js.pull_subscribe(
        SUBJECT.format(stream=stream), durable=durable, stream=stream,
        config=ConsumerConfig(ack_wait=ack_wait, max_ack_pending=1000),
    )  # fmt: skip
    idle_since = time.monotonic()
    agencies = AgencyCache()
    count = FETCH
    # The next group is fetched while this one is matched and stored (in a thread).
    ahead = asyncio.ensure_future(sub.fetch(count, timeout=1))
    try:
        while True:
            try:
                messages = await ahead
            except (TimeoutError, NatsTimeout):  # fetch(n > 1) raises the built-in one
                if idle_exit and time.monotonic() - idle_since > idle_exit:
                    return
                ahead = asyncio.ensure_future(sub.fetch(count, timeout=1))
                continue
            idle_since = time.monotonic()
            count = group_size(messages)
            ahead = asyncio.ensure_future(sub.fetch(count, timeout=1))
            items = []
            for msg in messages:
                headers = msg.headers or {}
                items.append(
                    Item(
                        key=headers.get("Nats-Msg-Id")
                        or f"{stream}:{msg.metadata.sequence.stream}",
                        agency=headers.get("Bulwark-Agency", ""),
                        fmt_name=headers.get("Bulwark-Format", "zeek-dns-json"),
                        data=msg.data,
                        base_offset=_offset(headers.get("Bulwark-Offset", "0")),
                        source=headers.get("Bulwark-Source", "-"),
                        encoding=headers.get("Bulwark-Encoding", ""),
                    )
                )
            try:
                await asyncio.to_thread(process_batches, holder, items, agencies, pause)
            except Exception:
                metrics.MONITOR_ERRORS.labels(stage="store").inc()
                raise
            for msg, item in zip(messages, items, strict=True):
                if item.outcome.startswith("refused"):
                    # Unroutable batch: terminated (kept in the stream for an operator).
                    print(f"refused {item.key}: {item.outcome[9:]}", file=sys.stderr, flush=True)
                    await msg.term()
                    continue
                await msg.ack()
                print(f"{item.outcome} {item.key}", flush=True)
    finally:
        ahead.cancel()
        await nc.close()


def keep_heap_headroom(pad: int = HEAP_PAD) -> bool:
    """Ask glibc's malloc to keep `pad` bytes when it trims a heap (M_TOP_PAD). A worker
    allocates and frees a batch of several MB many times a second in a thread; by default
    the thread's heap shrinks after each and every page is faulted in again, which cost a
    quarter of the worker's CPU (0.6 of 2.4 s per million lines). False where the C
    library is not glibc (nothing changes there)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        return bool(libc.mallopt(M_TOP_PAD, ctypes.c_int(pad)))
    except (OSError, AttributeError):
        return False


def group_size(messages: list[Any]) -> int:
    """How many batches to fetch next: about GROUP_BYTES of lines, so a group of plain
    1 MB batches and one of compressed 8 MB batches take about as long to match."""
    inflated = sum(
        len(m.data) * (8 if (m.headers or {}).get("Bulwark-Encoding") else 1) for m in messages
    )
    each = max(1, inflated // max(1, len(messages)))
    return max(1, min(FETCH, GROUP_BYTES // each))


def run_directory_worker(
    holder: SnapshotHolder, directory: Path, poll: float = 2.0, once: bool = False
) -> None:
    """Files dropped as DIR/AGENCY/FORMAT/NAME are matched and then moved to DIR/done/...;
    a file is renamed only after its hits are stored."""
    done = directory / "done"
    while True:
        for path in sorted(directory.glob("*/*/*")):
            if not path.is_file() or done in path.parents:
                continue
            fmt_name, agency = path.parent.name, path.parent.parent.name
            if fmt_name not in FORMATS:
                continue
            key = f"{path.resolve()}:{path.stat().st_mtime_ns}"
            for offset, data in batches(path):
                process_batch(holder, f"{key}:{offset}", agency, fmt_name, data, offset, str(path))
            target = done / agency / fmt_name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)
        if once:
            return
        time.sleep(poll)
