"""Stream workers: log batches from a NATS JetStream stream (a durable pull consumer
shared by every worker) or, without NATS, from a watched directory.

A batch is acknowledged only after its hits are stored; its key is stored in the same
transaction (ProcessedBatch), so a batch redelivered because a worker died mid-batch is
recognised and acknowledged without counting it twice. The indicator snapshot is rebuilt
every `reload` seconds in a thread and swapped in by one reference assignment: a batch is
matched entirely against the old or entirely against the new snapshot, and no line waits.
"""

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import IntegrityError, close_old_connections, transaction

from bulwark.constituency.models import Organisation
from bulwark.monitoring import archive
from bulwark.monitoring.engine import FORMATS, Snapshot, load_indicator_file, match_buffer
from bulwark.monitoring.models import ProcessedBatch
from bulwark.monitoring.services import record_hits

log = logging.getLogger(__name__)
SUBJECT = "{stream}.batches"
BATCH_BYTES = 1024 * 1024


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
) -> str:
    """Match and store one batch unless it was stored before. Returns 'stored' or 'duplicate'."""
    close_old_connections()
    if ProcessedBatch.objects.filter(key=key).exists():
        return "duplicate"
    org = find_agency(agency)
    fmt = FORMATS[fmt_name]
    result = match_buffer(
        holder.current,
        fmt,
        data,
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
        return "duplicate"  # another worker stored it first
    archive.store(org.short_name or str(org.pk), fmt_name, key, data)
    return "stored"


def batches(path: Path, size: int = BATCH_BYTES) -> Any:
    """(offset, bytes) of whole-line batches of a file."""
    offset = 0
    with path.open("rb") as handle:
        carry = b""
        while True:
            block = handle.read(size)
            if not block:
                break
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            yield offset, data[:cut]
            offset += cut
            carry = data[cut:]
        if carry:
            yield offset, carry


async def _ensure_stream(js: Any, stream: str) -> None:
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
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    await _ensure_stream(js, stream)
    sent = 0
    for name in files:
        path = Path(name)
        for offset, data in batches(path, batch_bytes):
            headers = {
                "Nats-Msg-Id": f"{path.resolve()}:{path.stat().st_mtime_ns}:{offset}",
                "Bulwark-Agency": agency, "Bulwark-Format": fmt, "Bulwark-Source": str(path),
                "Bulwark-Offset": str(offset),
            }  # fmt: skip
            await js.publish(SUBJECT.format(stream=stream), data, headers=headers)
            sent += 1
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
    import nats
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import ConsumerConfig

    nc = await nats.connect(url)
    js = nc.jetstream()
    await _ensure_stream(js, stream)
    sub = await js.pull_subscribe(
        SUBJECT.format(stream=stream), durable=durable, stream=stream,
        config=ConsumerConfig(ack_wait=ack_wait, max_ack_pending=1000),
    )  # fmt: skip
    idle_since = time.monotonic()
    try:
        while True:
            try:
                messages = await sub.fetch(1, timeout=1)
            except NatsTimeout:
                if idle_exit and time.monotonic() - idle_since > idle_exit:
                    return
                continue
            for msg in messages:
                idle_since = time.monotonic()
                headers = msg.headers or {}
                key = headers.get("Nats-Msg-Id") or f"{stream}:{msg.metadata.sequence.stream}"
                try:
                    outcome = await asyncio.to_thread(
                        process_batch, holder, key, headers.get("Bulwark-Agency", ""),
                        headers.get("Bulwark-Format", "zeek-dns-json"), msg.data,
                        int(headers.get("Bulwark-Offset", "0")), headers.get("Bulwark-Source", "-"),
                        pause,
                    )  # fmt: skip
                except (LookupError, KeyError) as exc:
                    # Unroutable batch: terminate it (kept in the stream for an operator).
                    print(f"refused {key}: {exc}", file=sys.stderr, flush=True)
                    await msg.term()
                    continue
                await msg.ack()
                print(f"{outcome} {key}", flush=True)
    finally:
        await nc.close()


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
