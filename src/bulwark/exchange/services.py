"""The only code that writes exchange data: ingest a report, replay a quarantined record,
re-route an event, maintain routing rules. Each write is one transaction per batch (so
that a crash loses at most the batch in flight, which a re-run stores again) and one
audit entry per action."""

import hashlib
import io
import ipaddress
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from bulwark.constituency import networks
from bulwark.constituency.models import Organisation, OrganisationKind, User
from bulwark.core import audit, bulk
from bulwark.core.countries import ISO_3166_ALPHA2
from bulwark.core.permissions import require
from bulwark.exchange import sealing, taxii_client
from bulwark.exchange.engine import formats
from bulwark.exchange.engine.event import TAXONOMY_OF_TYPE, TYPE_ALIASES, Invalid, normalise
from bulwark.exchange.engine.fields import EVENT_FIELDS
from bulwark.exchange.engine.formats.base import Context, ReportError, clip
from bulwark.exchange.engine.pipeline import DEFAULT_BATCH, Batch, bounded, prepare
from bulwark.exchange.models import (
    Channel,
    ColumnMapping,
    CountryNetwork,
    Event,
    Feed,
    Notification,
    NotificationReply,
    Quarantined,
    RecipientSettings,
    Report,
    Rule,
    raw_path,
)
from bulwark.exchange.notify import MAX_ATTEMPTS
from bulwark.exchange.routing import current_router
from bulwark.exchange.store import Counts, encoded, store_batch
from bulwark.exchange.tasks import deliver_notification

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


def add_rule(actor: User | None, **fields: Any) -> Rule:
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    rule = Rule(**fields)
    if rule.network_kind:
        try:
            rule.network = networks.normalise(rule.network_kind, rule.network)
        except networks.InvalidClaim as exc:
            raise ValidationError({"network": str(exc)}) from None
    rule.full_clean()
    with transaction.atomic():
        rule.save()
        audit.record(actor, "exchange.rule.added", rule, changes=fields)
    return rule


RECIPIENT_FIELDS = (
    "cadence", "language", "email", "enabled", "channel", "taxii_api_root",
    "taxii_collection", "taxii_user",
)  # fmt: skip
KEEP = object()  # "leave the stored TAXII secret as it is"


def configure_recipient(
    actor: User | None, organisation: Organisation, *, taxii_secret: Any = KEEP, **fields: Any
) -> RecipientSettings:
    """Create or change an organisation's delivery settings. TAXII delivery is for
    foreign CERTs, needs a valid endpoint, and its secret is sealed; the audit entry says
    that the secret changed, never what it is."""
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    unknown = set(fields) - set(RECIPIENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown recipient settings: {', '.join(sorted(unknown))}")
    setting = RecipientSettings.objects.filter(organisation=organisation).first()
    setting = setting or RecipientSettings(organisation=organisation)
    before = {name: getattr(setting, name) for name in RECIPIENT_FIELDS}
    for name, value in fields.items():
        setattr(setting, name, value.strip() if isinstance(value, str) else value)
    if taxii_secret is not KEEP:
        secret = str(taxii_secret)
        if len(secret) > 2000 or any(ord(c) < 32 or ord(c) == 127 for c in secret):
            raise ValidationError(
                {"taxii_secret": _("The secret is too long or holds control characters.")}
            )
        setting.taxii_secret_sealed = sealing.seal(secret)
    if setting.channel == Channel.TAXII:
        if organisation.kind != OrganisationKind.FOREIGN_CERT:
            raise ValidationError(
                {"channel": _("Only foreign CERTs can receive their reports over TAXII.")}
            )
        problems = taxii_client.endpoint_problems(setting.taxii_api_root, setting.taxii_collection)
        if problems:
            raise ValidationError(problems)
    setting.full_clean()
    changes = {
        name: [before[name], getattr(setting, name)]
        for name in RECIPIENT_FIELDS
        if before[name] != getattr(setting, name)
    }
    if taxii_secret is not KEEP:
        changes["taxii_secret"] = ["(sealed)", "(changed)"]
    with transaction.atomic():
        setting.save()
        audit.record(
            actor,
            "exchange.recipient.configured",
            setting,
            organisation_id=organisation.pk,
            changes=changes,
        )
    return setting


class _BytesReader:
    def __init__(self, data: bytes) -> None:

        self._io = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._io.read(size)

    def readline(self, size: int = -1, /) -> bytes:
        return self._io.readline(size)


# --- column mappings (generic CSV / JSON feeds) -------------------------------------------

MAPPING_OPTIONS = {"header": bool, "comment": str, "strip": bool, "none": list}
PREVIEW_EVENTS = 20


def clean_mapping(data: dict[str, Any]) -> dict[str, Any]:
    """A mapping as the parser reads it, or ValidationError saying what is wrong with it
    ({"columns": {field: column}, "constants": {field: value}, "delimiter": ",", options})."""

    if not isinstance(data, dict):
        raise ValidationError(_("A mapping is a JSON object."))
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise ValidationError(
            {"columns": _('Name at least one field and its column, e.g. {"source.ip": "ip"}.')}
        )
    constants = data.get("constants") or {}
    if not isinstance(constants, dict):
        raise ValidationError({"constants": _("Constants are a JSON object: field -> value.")})
    for key in [*columns, *constants]:
        if not isinstance(key, str) or not (key in EVENT_FIELDS or key.startswith("extra.")):
            raise ValidationError(
                {
                    "columns": _("%(field)s is not an IntelMQ field (or extra.<name>).")
                    % {"field": key}
                }
            )
    for key, column in columns.items():
        if not isinstance(column, str | int) or str(column) == "":
            raise ValidationError(
                {
                    "columns": _("The column of %(field)s must be a name or a number.")
                    % {"field": key}
                }
            )
    if "classification.type" in constants:
        kind = str(constants["classification.type"]).strip().lower()
        if TYPE_ALIASES.get(kind, kind) not in TAXONOMY_OF_TYPE:
            raise ValidationError(
                {"constants": _("%(type)s is not an RSIT classification type.") % {"type": kind}}
            )
    delimiter = str(data.get("delimiter") or ",")
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise ValidationError(
            {"delimiter": _("The delimiter is one character, e.g. , ; | or a tab.")}
        )
    cleaned: dict[str, Any] = {
        "columns": {k: str(v) for k, v in columns.items()},
        "constants": constants,
        "delimiter": delimiter,
    }
    for option, kind_of in MAPPING_OPTIONS.items():
        if option in data:
            if not isinstance(data[option], kind_of):
                raise ValidationError(
                    {option: _("%(option)s has the wrong type.") % {"option": option}}
                )
            cleaned[option] = data[option]
    return cleaned


def save_mapping(actor: User | None, name: str, data: dict[str, Any]) -> ColumnMapping:
    """Create or replace the saved mapping `name` (CERT staff; audited)."""
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")

    if not name or slugify(name) != name or len(name) > 100:
        raise ValidationError({"name": _("A mapping's name is a slug: letters, digits, - and _.")})
    cleaned = clean_mapping(data)
    options = {k: cleaned[k] for k in MAPPING_OPTIONS if k in cleaned}
    with transaction.atomic():
        mapping, created = ColumnMapping.objects.update_or_create(
            name=name,
            defaults={
                "columns": cleaned["columns"],
                "constants": cleaned["constants"],
                "delimiter": cleaned["delimiter"],
                "options": options,
            },
        )
        audit.record(
            actor,
            "exchange.mapping.created" if created else "exchange.mapping.changed",
            mapping,
            changes=mapping.as_options(),
        )
    return mapping


def preview_mapping(
    actor: User | None, data: dict[str, Any], sample: bytes, fmt: str = "csv"
) -> dict[str, Any]:
    """What a mapping makes of a sample, without storing anything: the first events (as
    Bulwark stores them) and every refused record with its reason (CERT staff)."""
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")

    if fmt not in ("csv", "json"):
        raise ValidationError({"format": _("A mapping is for csv or json.")})
    ctx = Context(file_name="sample", options={"mapping": clean_mapping(data)})
    observed = timezone.now().isoformat()
    events: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    read = made = 0
    try:
        for item in formats.parse(fmt, io.BytesIO(sample), ctx):
            read += 1
            if item.error is None and item.fields is not None:
                try:
                    event = normalise(item.fields, {"time.observation": observed})
                except Invalid as exc:
                    item.error = str(exc)
                else:
                    made += 1
                    if len(events) < PREVIEW_EVENTS:
                        events.append({"record": item.number, "event": event})
                    continue
            refused.append(
                {"record": item.number, "reason": item.error, "raw": clip(item.raw)[:500]}
            )
    except ReportError as exc:
        raise ValidationError({"sample": str(exc)}) from None
    return {"read": read, "events": made, "refused": refused[:100], "first_events": events}


def attach_reply(
    notification: Notification,
    *,
    message_id: str,
    sender: str,
    subject: str,
    body: str,
    bounce_diagnostic: str | None = None,
) -> bool:
    """Keep a reply to one of our notifications on it (the mailbox poller, `intake`; audited
    as the system's). A bounce (`bounce_diagnostic` given) sets the notification back for a
    retry after a back-off, or fails it after the last attempt. False when this message was
    attached before."""
    is_bounce = bounce_diagnostic is not None
    try:
        with transaction.atomic():
            NotificationReply.objects.create(
                notification=notification,
                message_id=message_id,
                sender=sender,
                subject=subject,
                body=body,
                is_bounce=is_bounce,
            )
            if bounce_diagnostic is not None:
                notification.last_error = bounce_diagnostic[:2000]
                if notification.attempts >= MAX_ATTEMPTS:
                    notification.status = Notification.Status.FAILED
                    notification.next_attempt_at = None
                else:
                    notification.status = Notification.Status.BOUNCED
                    notification.next_attempt_at = timezone.now() + timedelta(
                        minutes=5 * 2 ** max(notification.attempts, 1)
                    )
                notification.save(update_fields=["status", "last_error", "next_attempt_at"])
            audit.record(
                None,
                "exchange.notification.bounce" if is_bounce else "exchange.notification.reply",
                notification,
                organisation_id=notification.recipient_id,
            )
    except IntegrityError:
        return False
    return True


def resend_notification(actor: User, notification: Notification) -> Notification:
    """An analyst sends a notification again (same ticket, same events): queued now, and
    sent by the worker once this transaction commits (`tasks.deliver_notification`)."""
    require(actor, "exchange.manage")
    with transaction.atomic():
        notification.status = Notification.Status.QUEUED
        notification.next_attempt_at = timezone.now()
        # TAXII: a new POST of new object versions, not a poll of the earlier one.
        notification.taxii_status_id = ""
        notification.stix_modified = None
        notification.save(
            update_fields=["status", "next_attempt_at", "taxii_status_id", "stix_modified"]
        )
        audit.record(actor, "exchange.notification.resend", notification)
        transaction.on_commit(lambda: deliver_notification.enqueue(notification.pk))
    return notification


# --- Pulled feeds and the country table (operator pages; before, only the shell) ---------

FEED_FIELDS = ("name", "url", "format", "mapping", "interval_minutes", "enabled")


def save_feed(actor: User, feed: Feed | None, **fields: Any) -> Feed:
    """Create a pulled feed (`feed` None) or change one (CERT staff; audited with what
    changed). A feed names a saved column mapping only if that mapping exists."""
    require(actor, "exchange.manage")
    feed = feed if feed is not None else Feed()
    before = {name: getattr(feed, name) for name in FEED_FIELDS}
    for name in FEED_FIELDS:
        if name in fields:
            setattr(feed, name, fields[name])
    if urlparse(feed.url).scheme not in ("http", "https"):
        raise ValidationError({"url": _("Only http and https URLs are pulled.")})
    if feed.mapping and not ColumnMapping.objects.filter(name=feed.mapping).exists():
        raise ValidationError({"mapping": _("No saved column mapping has that name.")})
    feed.full_clean(exclude=["etag", "last_modified", "last_outcome", "last_error"])
    created = feed.pk is None
    changes = {
        name: getattr(feed, name)
        for name in FEED_FIELDS
        if created or before[name] != getattr(feed, name)
    }
    with transaction.atomic():
        feed.save()
        audit.record(
            actor,
            "exchange.feed.created" if created else "exchange.feed.changed",
            feed,
            changes=changes,
        )
    return feed


def record_pull(feed: Feed, now: datetime, outcome: str, error: str) -> str:
    """Note on the feed how its last pull went (the puller, `pull.pull`; audited as the
    system's)."""
    feed.last_pulled_at = now
    feed.last_outcome = outcome[:100]
    feed.last_error = error[:2000]
    with transaction.atomic():
        feed.save()
        audit.record(
            None, "exchange.feed.pulled", feed, changes={"outcome": outcome, "error": error}
        )
    return outcome


def delete_feed(actor: User, feed: Feed) -> None:
    """Stop pulling a feed and forget it (its reports stay; CERT staff; audited)."""
    require(actor, "exchange.manage")
    with transaction.atomic():
        audit.record(actor, "exchange.feed.deleted", feed, changes={"url": feed.url})
        feed.delete()


def _network_value(kind: str, value: str) -> str:
    """An IP prefix in its canonical form, or an AS number as digits ("AS3462" -> "3462")."""
    value = value.strip()
    if kind == CountryNetwork.Kind.CIDR:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValidationError({"value": _("Not an IP prefix.")}) from None
    if kind == CountryNetwork.Kind.ASN:
        digits = value.upper().removeprefix("AS")
        if not digits.isdigit() or not 0 < int(digits) < 2**32:
            raise ValidationError({"value": _("Not an AS number.")})
        return str(int(digits))
    raise ValidationError({"kind": _("Choose an IP prefix or an AS number.")})


def save_country_network(
    actor: User, network: CountryNetwork | None, kind: str, value: str, country: str
) -> CountryNetwork:
    """Say which country a prefix or AS is in (CERT staff; audited). A change is stored as a
    new row replacing the old one: the router notices new rows (it compares the table's
    count and last id), so routing follows the change at once."""
    require(actor, "exchange.manage")
    country = country.strip().upper()
    if country not in ISO_3166_ALPHA2:
        raise ValidationError({"country": _("Not an ISO 3166 country code (e.g. TW, JP).")})
    value = _network_value(kind, value)
    clash = CountryNetwork.objects.filter(kind=kind, value=value)
    if network is not None:
        clash = clash.exclude(pk=network.pk)
    if clash.exists():
        raise ValidationError({"value": _("This network already has a country.")})
    with transaction.atomic():
        before = None
        if network is not None:
            before = {"kind": network.kind, "value": network.value, "country": network.country}
            network.delete()
        network = CountryNetwork.objects.create(kind=kind, value=value, country=country)
        after = {"kind": kind, "value": value, "country": country}
        audit.record(
            actor,
            "exchange.country_network.changed" if before else "exchange.country_network.created",
            network,
            changes={"before": before, "after": after} if before else after,
        )
    return network


def delete_country_network(actor: User, network: CountryNetwork) -> None:
    """Forget a prefix's or AS's country (CERT staff; audited)."""
    require(actor, "exchange.manage")
    with transaction.atomic():
        audit.record(
            actor,
            "exchange.country_network.deleted",
            network,
            changes={"kind": network.kind, "value": network.value, "country": network.country},
        )
        network.delete()
