"""Matching a chunk of log lines against a snapshot, and many files with worker processes.

Per chunk (a few MB of whole lines):
1. Fast path (formats with passes): each pass extracts the values of one key from the
   whole chunk with one `findall`; values are deduplicated and looked up in batches;
   only lines holding a value that hit, lines with escapes and lines that do not look
   like a whole record become candidates.
2. Slow path: candidate lines (or every line, for formats without passes) are parsed
   one by one; their values are again deduplicated and batch-checked; each value that
   hits is matched authoritatively and becomes a Hit. Unparseable lines are reported
   with their line number and offset.
"""

import contextlib
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bulwark.monitoring.engine import codec
from bulwark.monitoring.engine.formats import LIST_ITEM, MAX_LINE, BadLine, Format, Record
from bulwark.monitoring.engine.snapshot import Snapshot

try:  # the compiled pre-filter (setup.py); the pure-Python passes stand in without it
    from bulwark.monitoring.engine import _scan
except ImportError:  # pragma: no cover - depends on the build
    _scan = None  # type: ignore[assignment]

# Set BULWARK_MONITOR_PURE=1 to run the pure-Python passes even when _scan is built
# (the tests run both paths over the same corpus).
USE_KERNEL = _scan is not None and os.environ.get("BULWARK_MONITOR_PURE", "") != "1"
_KIND_CODES = {"domain": 0, "addr": 1, "host": 2}
_BLANK_COLONS = (b'": ', b'" :', b'":\t', b'"\t:')
_SCAN_MAX_KEYS, _SCAN_MAX_KEY = 64, 1024  # MAX_KEYS and NAME_MAX in _scan.pyx

CHUNK_BYTES = 4 * 1024 * 1024
_TABLE = {
    "domain": "domain",
    "ipv4": "addr",
    "ipv6": "addr",
    "cidr": "cidr",
    "url": "url",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
    "email": "email",
}


@dataclass(slots=True)
class Hit:
    indicator: str
    type: str
    field: str
    value: str
    line: int  # 1-based within its source
    offset: int  # byte offset of the line within its source
    source: str
    ts: str | float | None = None
    src: str | None = None
    dst: str | None = None
    agency: str | None = None
    indicator_id: str | None = None
    score: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "type": self.type,
            "indicator_id": self.indicator_id,
            "score": self.score,
            "field": self.field,
            "value": self.value,
            "ts": self.ts,
            "src": self.src,
            "dst": self.dst,
            "agency": self.agency,
            "source": self.source,
            "line": self.line,
            "offset": self.offset,
        }


@dataclass(slots=True)
class MatchResult:
    lines: int = 0
    bytes: int = 0
    hits: list[Hit] = field(default_factory=list)
    bad: list[tuple[int, int, str]] = field(default_factory=list)  # (line, offset, reason)
    candidates: int = 0

    def merge(self, other: "MatchResult", line_base: int) -> None:
        self.lines += other.lines
        self.bytes += other.bytes
        self.candidates += other.candidates
        self.hits.extend(other.hits)
        self.bad.extend((n + line_base, o, r) for n, o, r in other.bad)


def _line_bounds(buf: bytes, pos: int) -> int:
    return buf.rfind(b"\n", 0, pos) + 1


def _ordered_values(fmt: Format, buf: bytes) -> tuple[list[tuple[str, set[bytes]]], set[int]]:
    """Run the format's ordered pass; ([], set()) when it cannot be trusted for buf."""
    ordered = fmt.ordered
    if ordered is None or any(blank in buf for blank in _BLANK_COLONS):
        return [], set()  # its regex assumes Zeek's compact JSON
    rows = ordered.regex.findall(buf)
    if not rows:
        return [], set()
    columns = list(zip(*rows, strict=True))
    for column, needle in zip(columns, ordered.needles, strict=True):
        if needle is not None and len(column) - column.count(b"") != buf.count(needle):
            return [], set()
    return [(kind, set(col)) for kind, col in zip(ordered.kinds, columns, strict=True)], set(
        ordered.replaces
    )


def _candidates_fast(snapshot: Snapshot, fmt: Format, buf: bytes, lines: int) -> set[int]:
    """Start offsets of lines that may hold a hit or are not well-formed."""
    starts: set[int] = set()
    assert fmt.passes is not None
    work, skip = _ordered_values(fmt, buf)
    for number, p in enumerate(fmt.passes):
        if number in skip:
            continue
        found = p.regex.findall(buf)
        if found:
            values = set(found)
            if p.is_list:
                values = set(LIST_ITEM.findall(b",".join(values)))
            work.append((p.kind, values))
    for kind, values in work:
        values.discard(b"")
        for raw in snapshot.hits_among(kind, values):
            needle = b'"' + raw + b'"'
            pos = buf.find(needle)
            while pos >= 0:
                start = _line_bounds(buf, pos)
                starts.add(start)
                end = buf.find(b"\n", pos)
                if end < 0:
                    break
                pos = buf.find(needle, end)
    # Escaped strings are invisible to the passes: re-read those lines.
    pos = buf.find(b"\\")
    while pos >= 0:
        starts.add(_line_bounds(buf, pos))
        end = buf.find(b"\n", pos)
        if end < 0:
            break
        pos = buf.find(b"\\", end)
    # A whole JSON record per line ends with '}': lines that do not are re-read (and
    # reported as bad by the parser). Counting is cheap; the scan runs only on mismatch.
    closed = buf.count(b"}\n") + (1 if buf.endswith(b"}") else 0)
    if closed != lines:
        offset = 0
        for line in buf.split(b"\n"):
            if line.strip() and line.rstrip(b"\r \t")[-1:] != b"}":
                starts.add(offset)
            offset += len(line) + 1
    return starts


def _kernel_keys(fmt: Format) -> list[tuple[bytes, bytes, int]] | None:
    """The scan's key list, or None when the format's keys are beyond what it takes (more
    than 64, or one of 1 kB or longer: a generic NDJSON mapping can ask for that)."""
    keys = [
        (key.encode(), key.rsplit(".", 1)[-1].encode(), _KIND_CODES.get(kind, 3))
        for key, kind in fmt.fields
    ]
    if len(keys) > _SCAN_MAX_KEYS or any(len(k) >= _SCAN_MAX_KEY for k, _, _ in keys):
        return None
    return keys


def _candidates_kernel(
    snapshot: Snapshot, fmt: Format, buf: bytes
) -> tuple[int, set[tuple[int, int]]]:
    """(lines, {(line index, start offset)}) of lines that may hold a hit or are not
    well-formed, by the compiled scan; the values it cannot decide are checked here in
    batches, per kind."""
    assert _scan is not None
    keys = _kernel_keys(fmt)
    assert keys is not None
    lines, flagged, others = _scan.scan_json(buf, keys, snapshot.kernel_tables, MAX_LINE)
    found = set(flagged)
    if others:
        by_kind: dict[str, dict[bytes, list[tuple[int, int]]]] = {}
        for key, value, index, start in others:
            kind = fmt.fields[key][1]
            by_kind.setdefault(kind, {}).setdefault(value, []).append((index, start))
        for kind, values in by_kind.items():
            for raw in snapshot.hits_among(kind, values):
                found.update(values[raw])
    return lines, found


def _iter_lines(
    buf: bytes, starts: Iterable[int] | None, known: Iterable[tuple[int, int]] = ()
) -> Iterator[tuple[int, int, bytes]]:
    """(0-based line index, offset, line) for all lines, for the given line starts, or
    for the given (line index, start) pairs."""
    if known:
        for index, start in sorted(known):
            end = buf.find(b"\n", start)
            yield index, start, buf[start : end if end >= 0 else len(buf)]
        return
    if starts is None:
        offset = 0
        for index, line in enumerate(buf.split(b"\n")):
            if line or offset < len(buf):
                yield index, offset, line
            offset += len(line) + 1
        return
    index = 0
    previous = 0
    for start in sorted(starts):
        index += buf.count(b"\n", previous, start)
        previous = start
        end = buf.find(b"\n", start)
        yield index, start, buf[start : end if end >= 0 else len(buf)]


def match_buffer(
    snapshot: Snapshot,
    fmt: Format,
    buf: bytes,
    *,
    base_offset: int = 0,
    source: str = "-",
    agency: str | None = None,
    ctx: dict[str, object] | None = None,
) -> MatchResult:
    """Match one chunk of whole lines. Line numbers in the result are 1-based within the
    chunk; offsets are absolute (base_offset added)."""
    ctx = {} if ctx is None else ctx
    result = MatchResult(bytes=len(buf))
    starts: set[int] | None = None
    known: set[tuple[int, int]] = set()
    if (
        fmt.passes is not None
        and USE_KERNEL
        and fmt.family == "json"
        and snapshot.kernel_tables
        and _kernel_keys(fmt) is not None
    ):
        result.lines, known = _candidates_kernel(snapshot, fmt, buf)
        if not known:
            return result
    else:
        result.lines = buf.count(b"\n") + (1 if buf and not buf.endswith(b"\n") else 0)
        if fmt.passes is not None:
            starts = _candidates_fast(snapshot, fmt, buf, result.lines)
            if not starts:
                return result
    parsed: list[tuple[int, int, Record]] = []
    for index, offset, line in _iter_lines(buf, starts, known):
        try:
            record = fmt.parse(line, ctx)
        except BadLine as exc:
            result.bad.append((index + 1, base_offset + offset, str(exc)))
            continue
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
            result.bad.append((index + 1, base_offset + offset, f"unreadable: {exc}"))
            continue
        if record is not None and record.values:
            parsed.append((index, offset, record))
    result.candidates = len(parsed)
    by_kind: dict[str, set[bytes]] = {}
    for _, _, record in parsed:
        for _, kind, raw in record.values:
            by_kind.setdefault(kind, set()).add(raw)
    hitting = {kind: snapshot.hits_among(kind, raws) for kind, raws in by_kind.items()}
    for index, offset, record in parsed:
        seen: set[tuple[str, bytes, str]] = set()
        for fld, kind, raw in record.values:
            if raw not in hitting[kind]:
                continue
            for itype, value in snapshot.match(kind, raw):
                key = (itype, value, fld)
                if key in seen:
                    continue
                seen.add(key)
                for ident, score in snapshot.describe(_TABLE[itype], value):
                    result.hits.append(
                        Hit(
                            indicator=value.decode("utf-8", "replace"),
                            type=itype,
                            field=fld,
                            value=raw.decode("utf-8", "replace"),
                            line=index + 1,
                            offset=base_offset + offset,
                            source=source,
                            ts=record.ts,
                            src=record.src,
                            dst=record.dst,
                            agency=agency,
                            indicator_id=ident,
                            score=score,
                        )
                    )
    return result


# ----- many files, many processes ----------------------------------------------------------

_STATE: dict[str, Any] = {}


def _init_worker(snapshot: Snapshot, fmt: Format, agency: str | None) -> None:
    _STATE.update(snapshot=snapshot, fmt=fmt, agency=agency)


@dataclass(frozen=True, slots=True)
class Task:
    source: str
    path: str | None  # None: the data travels with the task (stdin)
    start: int
    end: int
    ctx: dict[str, object]
    data: bytes = b""
    packed: bool = False  # the whole file is one Zstandard frame (an archived batch)


def _run_task(task: Task) -> MatchResult:
    if task.path is None:
        data = task.data
    elif task.packed:
        with open(task.path, "rb") as handle:
            packed = handle.read()
        try:
            data = codec.inflate(packed)
        except codec.BatchDecodeError as exc:  # a damaged archive file: reported, not fatal
            return MatchResult(bytes=len(packed), bad=[(1, 0, f"unreadable batch: {exc}")])
    else:
        with open(task.path, "rb") as handle:
            handle.seek(task.start)
            data = handle.read(task.end - task.start)
    return match_buffer(
        _STATE["snapshot"],
        _STATE["fmt"],
        data,
        base_offset=task.start,
        source=task.source,
        agency=_STATE["agency"],
        ctx=dict(task.ctx),
    )


def header_context(fmt: Format, head: bytes) -> dict[str, object]:
    """Header state (TSV #fields, CSV header row) read from the start of a file, so a
    worker starting mid-file knows the columns."""
    ctx: dict[str, object] = {}
    if fmt.family not in ("tsv", "csv"):
        return ctx
    for line in head.split(b"\n")[:200]:
        if fmt.family == "csv":
            if line.strip():
                with contextlib.suppress(BadLine):
                    fmt.parse(line, ctx)
                break
        elif line.startswith(b"#fields\t"):
            fmt.parse(line, ctx)
        elif not line.startswith(b"#"):
            break
    return ctx


def file_tasks(path: Path, fmt: Format, chunk: int = CHUNK_BYTES) -> Iterator[Task]:
    size = path.stat().st_size
    if path.name.endswith(codec.ARCHIVE_SUFFIX):  # one batch, inflated by the worker
        yield Task(str(path), str(path), 0, size, {}, packed=True)
        return
    with path.open("rb") as handle:
        ctx = header_context(fmt, handle.read(256 * 1024))
        start = 0
        while start < size:
            handle.seek(min(start + chunk, size))
            if start + chunk < size:
                handle.readline()
            end = min(handle.tell(), size)
            yield Task(str(path), str(path), start, end, ctx if start > 0 else {})
            start = end


def stream_tasks(
    stream: IO[bytes], fmt: Format, source: str = "-", chunk: int = CHUNK_BYTES
) -> Iterator[Task]:
    carry = b""
    offset = 0
    ctx: dict[str, object] = {}
    first = True
    while True:
        block = stream.read(chunk)
        if not block:
            break
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data
            continue
        whole, carry = data[:cut], data[cut:]
        if first:
            ctx = header_context(fmt, whole)
        yield Task(source, None, offset, offset + len(whole), {} if first else ctx, whole)
        first = False
        offset += len(whole)
    if carry:
        yield Task(source, None, offset, offset + len(carry), {} if first else ctx, carry)


@dataclass
class Summary:
    result: MatchResult
    seconds: float
    sources: list[str]

    @property
    def rate(self) -> float:
        return self.result.lines / self.seconds if self.seconds > 0 else 0.0


def match_paths(
    snapshot: Snapshot,
    fmt: Format,
    paths: list[str],
    *,
    workers: int = 1,
    agency: str | None = None,
    on_hit: Callable[[Hit], None] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    stdin: IO[bytes] | None = None,
    keep_hits: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> Summary:
    """Match files (or stdin for '-') in order; hits come back with 1-based line numbers
    within their source. Workers are forked after the snapshot exists, so it is shared."""
    started = time.perf_counter()
    total = MatchResult()
    total_bytes = sum(os.path.getsize(p) for p in paths if p != "-")
    line_base: dict[str, int] = {}

    def tasks() -> Iterator[Task]:
        for path in paths:
            if path == "-":
                yield from stream_tasks(stdin or sys.stdin.buffer, fmt, chunk=chunk_bytes)
            else:
                yield from file_tasks(Path(path), fmt, chunk_bytes)

    _init_worker(snapshot, fmt, agency)
    iterator: Iterable[tuple[Task, MatchResult]]
    pool = None
    if workers > 1:
        context = multiprocessing.get_context("fork")
        pool = context.Pool(workers, initializer=_init_worker, initargs=(snapshot, fmt, agency))
        task_list = tasks()
        pending: list[Task] = []

        def paired() -> Iterator[tuple[Task, MatchResult]]:
            def feed() -> Iterator[Task]:
                for task in task_list:
                    pending.append(task)
                    yield task

            for result in pool.imap(_run_task, feed(), chunksize=1):
                yield pending.pop(0), result

        iterator = paired()
    else:
        iterator = ((task, _run_task(task)) for task in tasks())
    try:
        for task, part in iterator:
            base = line_base.get(task.source, 0)
            line_base[task.source] = base + part.lines
            for hit in part.hits:
                hit.line += base
            if on_hit is not None:
                for hit in part.hits:
                    on_hit(hit)
            if not keep_hits:
                part.hits = []
            total.merge(part, base)
            if progress is not None:
                progress(total.bytes, total_bytes, time.perf_counter() - started)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return Summary(total, time.perf_counter() - started, paths)
