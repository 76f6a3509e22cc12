"""Behavioural detection on the platform (issue 25): the detectors (engine/behaviour)
over the rolling window of the logs the stream workers archived, findings into alerts
(services.record_findings), and the evidence charts of an alert page (inline SVG)."""

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from bulwark.constituency.models import Organisation
from bulwark.monitoring import archive, services
from bulwark.monitoring.engine import codec
from bulwark.monitoring.engine.behaviour import Settings, detect
from bulwark.monitoring.engine.behaviour.dataset import SUPPORTED, Dataset, read_lines
from bulwark.monitoring.engine.behaviour.run import observed_values
from bulwark.monitoring.models import DetectionRun, FirstSeen

ENV_PREFIX = "BULWARK_BEHAVIOUR_"


def detector_settings() -> Settings:
    """Defaults (engine/behaviour/settings.py), each overridable by
    BULWARK_BEHAVIOUR_<NAME> (e.g. BULWARK_BEHAVIOUR_BEACON_THRESHOLD=0.8)."""
    names = Settings.__dataclass_fields__
    return Settings.with_overrides(
        {
            name: os.environ[ENV_PREFIX + name.upper()]
            for name in names
            if ENV_PREFIX + name.upper() in os.environ
        }
    )


def interval_seconds() -> float:
    return float(os.environ.get(ENV_PREFIX + "INTERVAL", "3600"))


def _organisations(refs: set[str]) -> dict[str, Organisation]:
    from bulwark.monitoring.streaming import find_agency

    found: dict[str, Organisation] = {}
    for ref in refs:
        try:
            found[ref] = find_agency(ref)
        except LookupError:
            continue
    return found


def read_archive(window_hours: int, now: float) -> Dataset:
    """The archived batches of the window (conn, dns, http, ssl, EVE), older records left
    out; each record keeps its agency (the archive folder)."""
    data = Dataset()
    since = now - window_hours * 3600
    for agency, fmt, path in archive.files_since(timedelta(hours=window_hours + 24)):
        if fmt not in SUPPORTED:
            continue
        raw = path.read_bytes()
        if path.name.endswith(codec.ARCHIVE_SUFFIX):
            raw = codec.inflate(raw)
        read_lines(raw.splitlines(keepends=True), fmt, str(path), agency, data, since=since)
    return data


def run(
    window_hours: int = 24, *, force: bool = False, now: float | None = None
) -> DetectionRun | None:
    """One run over the rolling window, unless the last started less than
    BULWARK_BEHAVIOUR_INTERVAL seconds ago (force: run anyway)."""
    last = DetectionRun.objects.first()
    if (
        not force
        and last is not None
        and (timezone.now() - last.started_at).total_seconds() < interval_seconds()
    ):
        return None
    oldest = DetectionRun.objects.order_by("started_at").first()
    history_start = (
        oldest.started_at.timestamp() - oldest.window_hours * 3600 if oldest is not None else None
    )
    record = services.start_detection_run(window_hours)
    data = read_archive(window_hours, now or time.time())
    observed = observed_values(data)
    known = first_seen_of(observed)
    findings = detect(data, detector_settings(), first_seen=known, history_start=history_start)
    services.remember_first_seen(observed, known)
    record.records = data.lines
    record.findings = len(findings)
    services.record_findings(
        findings, _organisations({f.agency for f in findings if f.agency}), record
    )
    return record


def first_seen_of(observed: dict[str, float]) -> dict[str, float]:
    """The national history of the values in the window (queried per kind, in chunks)."""
    by_kind: dict[str, list[str]] = {}
    for key in observed:
        kind, _sep, value = key.partition(":")
        by_kind.setdefault(kind, []).append(value)
    known: dict[str, float] = {}
    for kind, values in by_kind.items():
        for i in range(0, len(values), 500):
            for value, stamp in FirstSeen.objects.filter(
                kind=kind, value__in=values[i : i + 500]
            ).values_list("value", "first_seen"):
                known[f"{kind}:{value}"] = stamp.timestamp()
    return known


# ----- evidence charts -------------------------------------------------------------------


def _bars(counts: list[int], labels: list[str], title: str, width: int = 480) -> SafeString:
    height, pad = 120, 20
    top = max(counts) if counts and max(counts) > 0 else 1
    step = (width - 2 * pad) / max(1, len(counts))
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>',
        (
            (
                round(pad + i * step, 1), round(height - pad - (c / top) * (height - 2 * pad), 1),
                round(max(1.0, step - 1), 1), round((c / top) * (height - 2 * pad), 1),
                labels[i], c,
            )
            for i, c in enumerate(counts)
        ),
    )  # fmt: skip
    return format_html(
        '<svg role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'class="evidence-chart" fill="currentColor"><title>{}</title>{}'
        '<text x="{}" y="{}" font-size="10">{}</text><text x="{}" y="{}" font-size="10" '
        'text-anchor="end">{}</text></svg>',
        title,
        width,
        height,
        width,
        height,
        title,
        bars,
        pad,
        height - 4,
        labels[0] if labels else "",
        width - pad,
        height - 4,
        labels[-1] if labels else "",
    )


def evidence_charts(
    evidence: dict[str, Any], interval_title: str, timeline_title: str
) -> list[SafeString]:
    """The beacon evidence as inline SVG: the interval histogram and the hourly timeline."""
    charts = []
    hist = evidence.get("interval_histogram")
    if isinstance(hist, dict) and hist.get("counts"):
        bins = hist.get("bins") or []
        labels = [f"{bins[i]:.0f}-{bins[i + 1]:.0f} s" for i in range(len(bins) - 1)]
        charts.append(_bars(list(hist["counts"]), labels, interval_title))
    timeline = evidence.get("timeline")
    if isinstance(timeline, dict) and timeline.get("hour_counts"):
        start = float(timeline.get("start") or 0)
        counts = list(timeline["hour_counts"])
        labels = [
            time.strftime("%m-%d %H:00", time.gmtime(start + 3600 * i)) for i in range(len(counts))
        ]
        charts.append(_bars(counts, labels, timeline_title))
    return charts


def raw_line(reference: str, context: int = 0) -> list[tuple[int, str]] | None:
    """The raw log line a finding refers to (`path:line`), read from the archive only
    (None for anything outside it)."""
    path_text, _, number_text = reference.rpartition(":")
    if not number_text.isdigit() or not path_text:
        return None
    path = Path(path_text).resolve()
    base = archive.root().resolve()
    if base not in path.parents or not path.is_file():
        return None
    raw = path.read_bytes()
    if path.name.endswith(codec.ARCHIVE_SUFFIX):
        raw = codec.inflate(raw)
    lines = raw.splitlines()
    number = int(number_text)
    if not 1 <= number <= len(lines):
        return None
    first = max(1, number - context)
    return [
        (n, lines[n - 1].decode("utf-8", "replace")[:4000])
        for n in range(first, number + context + 1)
        if n <= len(lines)
    ]
