"""`bulwark monitor match`, `detect` and `formats`: the engine from the command
line (no database needed when --indicators is given)."""

import os
import sys
import time
from pathlib import Path
from typing import IO, Any

import orjson

from bulwark.monitoring.engine import FORMATS, Snapshot, detect_format, load_indicator_file
from bulwark.monitoring.engine.formats import KINDS, Format, ndjson_format
from bulwark.monitoring.engine.indicators import Indicator, IndicatorFileError
from bulwark.monitoring.engine.matcher import Hit, Summary, match_paths


class UsageError(ValueError):
    """Bad command-line input; the message is for the user."""


class _Prefixed:
    """A stream whose first bytes were already read (to detect the format)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            out, self.head = self.head, b""
            return out
        return self.rest.read(size)


def parse_map(items: list[str]) -> dict[str, str] | None:
    if not items:
        return None
    mapping: dict[str, str] = {}
    for item in items:
        key, sep, kind = item.partition("=")
        if not sep or not key or kind not in KINDS:
            raise UsageError(
                f"--map {item!r}: expected FIELD=KIND with KIND one of {', '.join(KINDS)}"
            )
        mapping[key] = kind
    return mapping


def choose_format(
    name: str | None, logs: list[str], mapping: dict[str, str] | None
) -> tuple[Format, bytes]:
    head = b""
    if name is None:
        first = logs[0]
        if first == "-":
            head = sys.stdin.buffer.read(64 * 1024)
            sample = head
        else:
            with open(first, "rb") as handle:
                sample = handle.read(64 * 1024)
        detected = detect_format(sample)
        if detected is None:
            raise UsageError(
                "cannot tell the log format; give --format (see `bulwark monitor formats`)"
            )
        name = detected
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r}; `bulwark monitor formats` lists them")
    if name == "ndjson" and mapping:
        return ndjson_format(mapping), head
    return FORMATS[name], head


def load_snapshot(paths: list[str], err: IO[str]) -> Snapshot:
    started = time.perf_counter()
    refused: list[tuple[int, str]] = []
    if paths:

        def indicators() -> Any:
            for path in paths:
                before = len(refused)
                try:
                    yield from load_indicator_file(Path(path), refused)
                except OSError as exc:
                    raise UsageError(f"{path}: {exc.strerror}") from None
                except IndicatorFileError as exc:
                    raise UsageError(str(exc)) from None
                for number, reason in refused[before : before + 5]:
                    err.write(f"{path}:{number}: refused: {reason}\n")
                if len(refused) - before > 5:
                    err.write(f"{path}: {len(refused) - before} lines refused in all\n")

        snapshot = Snapshot.build(indicators(), refused)
    else:
        from bulwark.monitoring.indicator_sources import platform_indicators

        snapshot = Snapshot.build(platform_indicators())
    err.write(
        f"indicators: {snapshot.size} loaded"
        + (f", {len(refused)} refused" if refused else "")
        + f" in {time.perf_counter() - started:.1f} s ("
        + ", ".join(f"{k} {v}" for k, v in sorted(snapshot.counts.items()))
        + ")\n"
    )
    return snapshot


def _progress(err: IO[str]) -> Any:
    last = [0.0]

    def show(done: int, total: int, seconds: float) -> None:
        if seconds - last[0] < 0.5 and done < total:
            return
        last[0] = seconds
        rate = done / seconds / 1e6 if seconds else 0.0
        if total:
            width = 30
            filled = int(width * min(done, total) / total)
            bar = "#" * filled + "." * (width - filled)
            err.write(f"\r[{bar}] {done * 100 // total:3d}% {rate:6.1f} MB/s")
        else:
            err.write(f"\r{done / 1e6:,.0f} MB {rate:6.1f} MB/s")
        err.flush()

    return show


def run_match(options: dict[str, Any], out: IO[str], err: IO[str]) -> Summary:
    logs: list[str] = options["logs"] or ["-"]
    for log in logs:
        if log != "-" and not os.path.isfile(log):
            raise UsageError(f"{log}: no such file")
    mapping = parse_map(options.get("map") or [])
    fmt, head = choose_format(options.get("format"), logs, mapping)
    snapshot = load_snapshot(options.get("indicators") or [], err)
    output_path = options.get("output")
    sink: IO[bytes] = open(output_path, "wb") if output_path else sys.stdout.buffer  # noqa: SIM115
    count = [0]

    def on_hit(hit: Hit) -> None:
        count[0] += 1
        sink.write(orjson.dumps(hit.as_dict()) + b"\n")

    stdin = _Prefixed(head, sys.stdin.buffer) if head else None
    try:
        summary = match_paths(
            snapshot,
            fmt,
            logs,
            workers=max(1, int(options.get("workers") or os.cpu_count() or 1)),
            agency=options.get("agency"),
            on_hit=on_hit,
            progress=_progress(err) if err.isatty() else None,
            stdin=stdin,  # type: ignore[arg-type]
            keep_hits=False,
        )
    finally:
        if output_path:
            sink.close()
        else:
            sink.flush()
    if err.isatty():
        err.write("\n")
    result = summary.result
    err.write(
        f"format {fmt.name}: {result.lines:,} lines, {result.bytes / 1e6:,.1f} MB, "
        f"{count[0]:,} hits, "
        f"{summary.rate:,.0f} lines/s ({summary.seconds:.2f} s), {len(result.bad):,} bad lines\n"
    )
    for line, offset, reason in result.bad[:20]:
        err.write(f"  bad line {line} (offset {offset}): {reason}\n")
    if len(result.bad) > 20:
        err.write(f"  ... and {len(result.bad) - 20} more bad lines\n")
    return summary


def list_formats(out: IO[str]) -> None:
    for name, fmt in FORMATS.items():
        fast = "fast path" if fmt.passes is not None else "line by line"
        out.write(f"{name:18} {fmt.description} [{fast}]\n")


def indicator_list(indicators: list[Indicator]) -> str:
    return "\n".join(i.value.decode() for i in indicators)


def run_detect(options: dict[str, Any], out: IO[str], err: IO[str]) -> int:
    """`bulwark monitor detect`: every behavioural detector over log files; one JSON line
    per finding (detector, source, destination, score, evidence, raw line references)."""
    from bulwark.monitoring.engine import behaviour

    logs: list[str] = options["logs"]
    for log in logs:
        if not os.path.isfile(log):
            raise UsageError(f"{log}: no such file")
    pairs: dict[str, str] = {}
    for item in options.get("set") or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r}: expected NAME=VALUE")
        pairs[name.strip()] = value.strip()
    only = options.get("only") or None
    for name in only or []:
        if name not in behaviour.DETECTORS:
            raise UsageError(f"--only {name!r}: detectors are {', '.join(behaviour.DETECTORS)}")
    try:
        settings = behaviour.Settings.with_overrides(pairs)
        allow_lines: list[str] = []
        for path in options.get("allow") or []:
            try:
                allow_lines += Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"{path}: {exc}") from None
        started = time.perf_counter()
        skipped: list[str] = []
        data = behaviour.read_logs(
            logs, options.get("format"), options.get("agency") or "", skipped=skipped
        )
        for note in skipped:
            err.write(note + "\n")
        if not data.files:
            raise UsageError("none of the logs is one the detectors read; give --format")
        read_s = time.perf_counter() - started
        timings: dict[str, float] = {}
        findings = behaviour.detect(
            data, settings, behaviour.AllowList.parse(allow_lines), only=only, timings=timings
        )
    except (behaviour.LogError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    output_path = options.get("output")
    sink: IO[bytes] = open(output_path, "wb") if output_path else sys.stdout.buffer  # noqa: SIM115
    try:
        for finding in findings:
            sink.write(orjson.dumps(finding.as_dict(), option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    finally:
        if output_path:
            sink.close()
        else:
            sink.flush()
    by: dict[str, int] = {}
    for finding in findings:
        by[finding.detector] = by.get(finding.detector, 0) + 1
    counts = data.counts()
    err.write(
        f"{data.lines:,} lines ({counts['conn']:,} connections, {counts['queries']:,} "
        f"DNS, {counts['names']:,} TLS/HTTP) read in {read_s:.2f} s; "
        f"{len(findings)} findings"
        + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(by.items())) + ")" if by else "")
        + f"; detectors {sum(timings.values()):.2f} s; {data.bad_count:,} bad lines\n"
    )
    for path, number, reason in data.bad[:20]:
        err.write(f"  bad line {path}:{number}: {reason}\n")
    return len(findings)
