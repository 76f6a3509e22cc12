"""Reports in: ingest a report (one transaction per batch, so that a crash loses at most
the batch in flight, which a re-run stores again), replay or discard a quarantined
record, re-route an event; one audit entry per action."""

import hashlib
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Organisation, User
from bulwark.core import audit, bulk
from bulwark.core.permissions import require
from bulwark.exchange.engine import formats
from bulwark.exchange.engine.formats.base import Context, ReportError, clip
from bulwark.exchange.engine.pipeline import DEFAULT_BATCH, Batch, bounded, prepare
from bulwark.exchange.models import (
    ColumnMapping,
    Event,
    Quarantined,
    Report,
    raw_path,
)
from bulwark.exchange.routing import current_router
from bulwark.exchange.store import Counts, encoded, store_batch

DEDUPE_WINDOW = int(os.environ.get("BULWARK_EXCHANGE_DEDUPE_SECONDS", str(24 * 3600)))
Progress = Callable[[Counts], None]


@dataclass
class IngestResult:
    report: Report
    counts: Counts
    already: bool = False  # the same bytes were fully ingested before: nothing was redone


def save_raw(stream: IO[bytes]) -> tuple[str, int]:
    """Copy the stream to the content-addressed store; (sha256, size). Written to a
    temporary file and renamed, so a crash never leaves half a report under its name."""
    digest = hashlib.sha256()
    size = 0
    tmp_dir = raw_path("00").parent.parent
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=tmp_dir, delete=False, prefix=".incoming-") as out:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    sha = digest.hexdigest()
    target = raw_path(sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(out.name, target)
    return sha, size


def ingest(
    actor: User | None,
    stream: IO[bytes],
    *,
    file_name: str = "",
    fmt: str = "",
    feed: str = "",
    source: str = Report.Source.FILE,
    mapping: str = "",
    progress: Progress | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> IngestResult:
    """Keep the report verbatim, then parse, normalise, route, deduplicate and store its
    events batch by batch. Re-running the same bytes after a crash completes the work
    with the counts an uninterrupted run would have given."""
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    sha, size = save_raw(stream)
    report = _report_for(actor, sha, size, file_name, fmt, feed, source)
    if report.status == Report.Status.DONE:
        return IngestResult(report, _counts_of(report), already=True)
    return process(actor, report, mapping=mapping, progress=progress, batch_size=batch_size)


def _report_for(
    actor: User | None, sha: str, size: int, file_name: str, fmt: str, feed: str, source: str
) -> Report:
    try:
        with transaction.atomic():
            return Report.objects.create(
                sha256=sha,
                size=size,
                file_name=Path(file_name).name[:255],
                format=fmt,
                feed_name=feed[:100],
                source=source,
                submitted_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        return Report.objects.get(sha256=sha)


def _counts_of(report: Report) -> Counts:
    stored = dict(report.counts)
    counts = Counts(rejected_lines=list(stored.pop("rejected_lines", [])))
    for name, value in stored.items():
        if hasattr(counts, name) and isinstance(value, int):
            setattr(counts, name, value)
    return counts


def process(
    actor: User | None,
    report: Report,
    *,
    mapping: str = "",
    progress: Progress | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> IngestResult:
    counts = Counts()
    ctx = Context(file_name=report.file_name, feed=report.feed_name)
    if mapping:
        found = ColumnMapping.objects.filter(name=mapping).first()
        if found is None:
            raise ValidationError(_("No saved column mapping is called %(n)s.") % {"n": mapping})
        ctx.options["mapping"] = found.as_options()
    observed = report.received_at.isoformat()
    try:
        with report.path.open("rb") as raw:
            fmt = report.format or formats.detect(report.file_name, raw.read(8192))
            raw.seek(0)
            if fmt != report.format:
                Report.objects.filter(pk=report.pk).update(format=fmt)
                report.format = fmt
            items = formats.parse(fmt, raw, ctx)
            batches = prepare(
                items,
                current_router(),
                observed_at=observed,
                window_seconds=DEDUPE_WINDOW,
                batch_size=batch_size,
            )
            ready = encoded(report.pk, batches, connection.vendor)
            with bulk.quick_handoff():  # the storing thread waits on the database
                for batch in bounded(ready, maxsize=4):
                    counts.add(store_batch(report.pk, batch))
                    if progress is not None:
                        progress(counts)
    except ReportError as exc:
        return _fail(actor, report, counts, str(exc))
    report.status = Report.Status.DONE
    report.error = ""
    report.finished_at = timezone.now()
    report.counts = counts.as_dict()
    report.provider = ctx.provider[:200]
    report.report_type = ctx.report_type[:100]
    report.foreign_ticket = ctx.foreign_ticket[:100]
    report.feed_name = report.feed_name or ctx.feed
    with transaction.atomic():
        report.save()
        mark_foreign(report)
        audit.record(actor, "exchange.report.ingested", report, changes=report.counts)
    return IngestResult(report, counts)


def mark_foreign(report: Report) -> int:
    """A report that carries a foreign CERT's ticket: flag its events as coming from a
    foreign CERT (the annual report's "international incident reports")."""
    if not report.foreign_ticket:
        return 0
    return Event.objects.filter(report_id=report.pk, from_foreign=False).update(from_foreign=True)


def _fail(actor: User | None, report: Report, counts: Counts, reason: str) -> IngestResult:
    """The report as a whole is unreadable: it goes to quarantine as record 0."""
    reason = clip(reason)
    with report.path.open("rb") as raw:
        head = raw.read(64 << 10).decode("utf-8", "backslashreplace")
    counts.rejected += 1
    counts.rejected_lines.insert(0, 0)
    with transaction.atomic():
        Quarantined.objects.get_or_create(
            report=report, record_no=0, defaults={"reason": reason, "raw": clip(head)}
        )
        report.status = Report.Status.FAILED
        report.error = reason
        report.finished_at = timezone.now()
        report.counts = counts.as_dict()
        report.save()
        audit.record(actor, "exchange.report.failed", report, changes={"error": reason})
    return IngestResult(report, counts)


LINE_FORMATS = {"shadowserver", "csv", "intelmq", "json"}


def replay(actor: User | None, item: Quarantined, fixed_text: str) -> Counts:
    """Parse a corrected record in the context of its report and store it under the same
    line number (so replaying twice stores it once)."""
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    if item.status != Quarantined.Status.OPEN:
        raise ValidationError(_("This record was already replayed or discarded."))
    report = item.report
    if item.record_no == 0:
        raise ValidationError(_("The whole report was refused: fix the file and ingest it again."))
    ctx = Context(file_name=report.file_name, feed=report.feed_name, report_type=report.report_type)
    data = fixed_text.encode()
    if report.format in ("shadowserver", "csv"):
        with report.path.open("rb") as raw:
            header = raw.readline(1 << 20)
        data = header.rstrip(b"\r\n") + b"\n" + data.strip(b"\r\n") + b"\n"
    parsed = list(formats.parse(report.format, _BytesReader(data), ctx))
    try:
        batch = next(
            prepare(parsed, current_router(), observed_at=report.received_at.isoformat(),
                    window_seconds=DEDUPE_WINDOW)
        )  # fmt: skip
    except StopIteration:
        raise ValidationError(_("The corrected text holds no record.")) from None
    if batch.rejected or len(batch.events) != 1:
        reason = batch.rejected[0].error if batch.rejected else _("more than one record")
        raise ValidationError(_("Still not readable: %(reason)s") % {"reason": reason})
    batch.events[0].number = item.record_no
    counts = store_batch(report.pk, Batch(events=batch.events))
    with transaction.atomic():
        mark_foreign(report)
        item.status = Quarantined.Status.REPLAYED
        item.resolved_at = timezone.now()
        item.save(update_fields=["status", "resolved_at"])
        audit.record(actor, "exchange.quarantine.replayed", item, changes=counts.as_dict())
    return counts


def discard(actor: User | None, item: Quarantined) -> None:
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    with transaction.atomic():
        item.status = Quarantined.Status.DISCARDED
        item.resolved_at = timezone.now()
        item.save(update_fields=["status", "resolved_at"])
        audit.record(actor, "exchange.quarantine.discarded", item)


def reroute(
    actor: User | None, event: Event, recipient: Organisation | None, reason: str = ""
) -> Event:
    """An analyst sends an event elsewhere (or back to the unrouted queue)."""
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    before = event.recipient_id
    with transaction.atomic():
        event.recipient = recipient
        event.route_via = "manual"
        event.route_match = reason[:120]
        event.save(update_fields=["recipient", "route_via", "route_match"])
        audit.record(
            actor,
            "exchange.event.rerouted",
            event,
            changes={"recipient": [before, recipient.pk if recipient else None], "reason": reason},
        )
    return event


class _BytesReader:
    def __init__(self, data: bytes) -> None:

        self._io = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._io.read(size)

    def readline(self, size: int = -1, /) -> bytes:
        return self._io.readline(size)
