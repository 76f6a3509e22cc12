"""Report exchange: raw reports kept verbatim, normalised events with their route,
quarantined records, routing rules and the country table.

Who sees what (docs/exchange.md, "Access"): CERT staff see everything; a member of an
organisation sees the events routed to that organisation and nothing else (no raw
reports, no quarantine, no other recipient's events).
"""

from pathlib import Path
from typing import Any, ClassVar

import orjson
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation
from bulwark.core.permissions import Reader
from bulwark.exchange.engine.formats import FORMATS
from bulwark.exchange.engine.rows import restore
from bulwark.incidents.taxonomy import TYPE_CHOICES

FORMAT_CHOICES = [(f, f) for f in FORMATS]


def _viewer(user: Reader) -> Any:
    return viewer_of(user)


class StaffOnlyQuerySet(models.QuerySet[Any]):
    """Raw reports, quarantine, rules, country table: CERT staff only (a raw report holds
    other organisations' addresses)."""

    def visible_to(self, user: Reader) -> "StaffOnlyQuerySet":
        return self if _viewer(user).sees_everything else self.none()


class Report(models.Model):
    class Status(models.TextChoices):
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Source(models.TextChoices):
        FILE = "file", _("File (command line)")
        UPLOAD = "upload", _("Upload")
        EMAIL = "email", _("E-mail")
        PULL = "pull", _("Scheduled pull")
        API = "api", _("API")

    sha256 = models.CharField(max_length=64, unique=True)
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    format = models.CharField(_("format"), max_length=20, choices=FORMAT_CHOICES, blank=True)
    feed_name = models.CharField(_("feed"), max_length=100, blank=True)
    provider = models.CharField(_("provider"), max_length=200, blank=True)
    report_type = models.CharField(_("report type"), max_length=100, blank=True)
    foreign_ticket = models.CharField(
        _("sender's ticket"),
        max_length=100,
        blank=True,
        help_text=_("The sending CERT's own ticket number, kept as a cross-reference."),
    )
    source = models.CharField(_("received by"), max_length=10, choices=Source.choices)
    size = models.BigIntegerField(_("size (bytes)"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PROCESSING
    )
    error = models.TextField(_("error"), blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    objects = StaffOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("received report")
        verbose_name_plural = _("received reports")

    def __str__(self) -> str:
        return f"{self.file_name or self.sha256[:12]} ({self.format or '?'})"

    @property
    def path(self) -> Path:
        return raw_path(self.sha256)


def raw_path(sha256: str) -> Path:
    """Where a report's bytes live, content-addressed (written once, never changed)."""
    return Path(settings.MEDIA_ROOT) / "exchange" / "reports" / sha256[:2] / sha256


class Rule(models.Model):
    """Routing data an analyst maintains: overrides and suppressions."""

    class Action(models.TextChoices):
        OVERRIDE = "override", _("Send to this organisation")
        SUPPRESS = "suppress", _("Do not notify")

    class NetworkKind(models.TextChoices):
        ANY = "", _("Any network")
        CIDR = "cidr", _("IP prefix")
        ASN = "asn", _("AS number")
        DOMAIN = "domain", _("Domain")

    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="exchange_rules",
    )
    network_kind = models.CharField(
        _("network kind"), max_length=10, choices=NetworkKind.choices, blank=True
    )
    network = models.CharField(_("network"), max_length=253, blank=True)
    classification_type = models.CharField(
        _("classification type"), max_length=40, choices=TYPE_CHOICES, blank=True
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StaffOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["action", "pk"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return f"{self.action} {self.network or '*'} {self.classification_type or '*'}"


class CountryNetwork(models.Model):
    """Which country an address block or AS is in: decides "abroad" for unclaimed
    addresses (load it from an RIR delegation file or a GeoIP export)."""

    class Kind(models.TextChoices):
        CIDR = "cidr", _("IP prefix")
        ASN = "asn", _("AS number")

    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=64)
    country = models.CharField(_("country"), max_length=2)

    objects = StaffOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="exchange_country_network")
        ]

    def __str__(self) -> str:
        return f"{self.value} -> {self.country}"


class ColumnMapping(models.Model):
    """A saved mapping for generic CSV/JSON: which column holds which IntelMQ field."""

    name = models.SlugField(_("name"), max_length=100, unique=True)
    columns = models.JSONField(_("columns"), default=dict)
    constants = models.JSONField(_("constants"), default=dict, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=1, default=",")
    # CSV reading: {"header": false, "comment": "#", "strip": false} (engine/formats/mapped.py)
    options = models.JSONField(_("options"), default=dict, blank=True)

    objects = StaffOnlyQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name

    def as_options(self) -> dict[str, Any]:
        return {
            **(self.options or {}),
            "columns": self.columns,
            "constants": self.constants,
            "delimiter": self.delimiter,
        }


class EventQuerySet(models.QuerySet["Event"]):
    def visible_to(self, user: Reader) -> "EventQuerySet":
        """CERT staff: all events. Anyone else: the events routed to an organisation they
        are a member of (never unrouted events, never a supervised organisation's)."""
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated or not viewer.own_org_ids:
            return self.none()
        return self.filter(recipient_id__in=viewer.own_org_ids)


class BlockRangeIndex(models.Index):
    """A BRIN index on PostgreSQL, a B-tree elsewhere. For a column that grows with the
    insertion order (the report, the time received), BRIN keeps one summary per 128
    table pages: nearly free to keep up on insert, where a B-tree took a twentieth of the
    time of storing a batch, and still finds a report's events or a day's in a few pages."""

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        if schema_editor.connection.vendor == "postgresql":
            using = " USING brin"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class Event(models.Model):
    # FK indexes are left out where a composite index below starts with the column.
    # The report and recipient references are not database constraints: PostgreSQL checks
    # a constraint row by row at commit, a quarter of the time of storing a batch
    # (docs/architecture.md). Both ids come from rows that exist when the batch is stored
    # (the report is created first, the router is compiled from organisations) and both
    # are PROTECT, so Django refuses to delete a report or an organisation with events.
    report = models.ForeignKey(
        Report,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    record_no = models.IntegerField(_("line / record"))
    event_id = models.UUIDField(_("event id"))  # shown, not searched: no index to maintain
    dedupe_key = models.UUIDField(unique=True)
    taxonomy = models.CharField(_("classification taxonomy"), max_length=40)
    classification_type = models.CharField(_("classification type"), max_length=40)
    identifier = models.CharField(_("classification identifier"), max_length=100, blank=True)
    source_ip = models.GenericIPAddressField(_("source address"), null=True, blank=True)
    source_port = models.IntegerField(_("source port"), null=True, blank=True)
    source_asn = models.BigIntegerField(_("source AS"), null=True, blank=True)
    source_fqdn = models.CharField(_("source domain"), max_length=253, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    destination_ip = models.GenericIPAddressField(_("destination address"), null=True, blank=True)
    feed_name = models.CharField(_("feed"), max_length=100, blank=True)
    feed_provider = models.CharField(_("provider"), max_length=200, blank=True)
    time_source = models.DateTimeField(_("time at source"), null=True, blank=True)
    time_observation = models.DateTimeField(_("time received"))
    recipient = models.ForeignKey(
        Organisation,
        verbose_name=_("recipient"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="exchange_events",
        db_index=False,
        db_constraint=False,
    )
    # Set when the report turns out to come from a foreign CERT (its ticket is known only
    # once the whole report is read): the statistics count these events by category
    # through the partial index below instead of joining every event to its report.
    from_foreign = models.BooleanField(_("from a foreign CERT"), default=False, db_default=False)
    route_via = models.CharField(_("routed by"), max_length=10)
    route_match = models.CharField(_("matched"), max_length=120, blank=True)
    suppressed_by = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # The event as IntelMQ JSON without what the columns above hold exactly (rows.slim;
    # `fields` puts it back), stored as text: PostgreSQL parsing it into jsonb cost a fifth
    # of the insert time, and searches use the columns.
    data = models.TextField(_("event"))
    notification = models.ForeignKey(
        "EventNotice",
        verbose_name=_("notification"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
        db_index=False,  # the partial index below: new events have none
    )

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["recipient", "classification_type"], name="exch_event_rcpt"),
            models.Index(fields=["source_ip"], name="exch_event_ip"),
            models.Index(fields=["source_asn"], name="exch_event_asn"),
            BlockRangeIndex(fields=["time_observation"], name="exch_event_received_brin"),
            BlockRangeIndex(fields=["report"], name="exch_event_report_brin"),
            # The events still to notify, in id order (notify.aggregate): new events go
            # to its right edge. Keyed by recipient and type it cost a fifth of the time
            # of storing a batch (inserts all over the index, no key deduplication).
            models.Index(
                fields=["id"],
                include=["recipient", "classification_type"],
                condition=models.Q(
                    notification__isnull=True, suppressed_by__isnull=True, recipient__isnull=False
                ),
                name="exch_event_pending",
            ),
            models.Index(
                fields=["time_observation", "classification_type", "recipient"],
                condition=models.Q(from_foreign=True),
                name="exch_event_foreign",
            ),
            models.Index(
                fields=["notification"],
                condition=models.Q(notification__isnull=False),
                name="exch_event_notification",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.classification_type} {self.source_ip or self.source_fqdn}"

    @property
    def fields(self) -> dict[str, Any]:
        """The event in IntelMQ field names (`data` and the columns that hold the rest)."""
        return restore(
            orjson.loads(self.data),
            taxonomy=self.taxonomy,
            classification_type=self.classification_type,
            identifier=self.identifier,
            source_port=self.source_port,
            source_asn=self.source_asn,
            source_fqdn=self.source_fqdn,
            feed_name=self.feed_name,
            feed_provider=self.feed_provider,
            time_source=self.time_source,
            time_observation=self.time_observation,
        )


class Quarantined(models.Model):
    """A record (or a whole report, record 0) that could not become an event."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        REPLAYED = "replayed", _("Replayed")
        DISCARDED = "discarded", _("Discarded")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="quarantined")
    record_no = models.IntegerField(_("line / record"))
    reason = models.TextField(_("reason"))
    raw = models.TextField(_("raw text"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = StaffOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["report", "record_no"]
        verbose_name = _("quarantined record")
        verbose_name_plural = _("quarantined records")
        constraints = [
            models.UniqueConstraint(fields=["report", "record_no"], name="exchange_quarantine_once")
        ]

    def __str__(self) -> str:
        return f"{self.report_id}:{self.record_no} {self.reason[:60]}"


class Cadence(models.TextChoices):
    IMMEDIATE = "immediate", _("Immediately")
    HOURLY = "hourly", _("Hourly")
    DAILY = "daily", _("Daily")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    TAXII = "taxii", _("STIX 2.1 over TAXII")


class RecipientSettings(models.Model):
    """How an organisation wants its reports: how often, in which language, where to.
    A foreign CERT may take its batches as STIX 2.1 over TAXII instead of e-mail; the
    TAXII credential is sealed (exchange/sealing.py) and never shown back."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="exchange_settings"
    )
    cadence = models.CharField(
        _("cadence"), max_length=10, choices=Cadence.choices, default=Cadence.DAILY
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="en"
    )
    email = models.EmailField(
        _("e-mail"), blank=True, help_text=_("Empty: the organisation's abuse contact.")
    )
    enabled = models.BooleanField(_("send notifications"), default=True)
    channel = models.CharField(
        _("delivery"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    taxii_api_root = models.URLField(
        _("TAXII API root"),
        max_length=140,  # with the collection id, fits EventNotice.address
        blank=True,
        help_text=_("For example https://taxii.cert.example/api1/"),
    )
    taxii_collection = models.CharField(_("TAXII collection id"), max_length=100, blank=True)
    taxii_user = models.CharField(
        _("TAXII user"),
        max_length=200,
        blank=True,
        help_text=_("Empty: the secret is sent as a bearer token."),
    )
    # Fernet token of the password or bearer token; see exchange/sealing.py.
    taxii_secret_sealed = models.TextField(blank=True, editable=False)

    objects = StaffOnlyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.organisation}: {self.cadence}"

    @property
    def taxii_collection_url(self) -> str:
        if not self.taxii_api_root or not self.taxii_collection:
            return ""
        return f"{self.taxii_api_root.rstrip('/')}/collections/{self.taxii_collection}/"

    @property
    def has_taxii_secret(self) -> bool:
        return bool(self.taxii_secret_sealed)


class EventNoticeQuerySet(models.QuerySet["EventNotice"]):
    def visible_to(self, user: Reader) -> "EventNoticeQuerySet":
        """CERT staff: all. Members: the notifications sent to their organisations."""
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated or not viewer.own_org_ids:
            return self.none()
        return self.filter(recipient_id__in=viewer.own_org_ids)


class EventNotice(models.Model):
    """One e-mail (or one TAXII POST) to one recipient about one classification type: a
    ticket, telling a network's owner of the events seen in it (not an in-app
    notification: that is `core.Notification`). Shown and served as a "notification"."""

    # Its name until session 29: audit entries written before keep this label, and the
    # audit log's visibility rule reads them as this model's (core.models.audited_models).
    audit_former_labels: ClassVar[tuple[str, ...]] = ("exchange.notification",)

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        RETRYING = "retrying", _("Failed, will retry")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")

    key = models.CharField(max_length=200, unique=True)  # idempotency: recipient/type/period
    ticket = models.CharField(_("ticket"), max_length=40, unique=True)
    recipient = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="exchange_notifications"
    )
    classification_type = models.CharField(_("classification type"), max_length=40)
    cadence = models.CharField(_("cadence"), max_length=10, choices=Cadence.choices)
    language = models.CharField(_("language"), max_length=10)
    address = models.CharField(_("sent to"), max_length=254, blank=True)
    event_count = models.IntegerField(_("events"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.IntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    channel = models.CharField(
        _("delivery"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    # TAXII delivery: the server's status id for the POST of this batch (a retry polls it
    # instead of posting again) and the `modified` time of the batch's STIX objects (kept
    # across retries so a repeated POST is the same object versions; a re-send moves it).
    taxii_status_id = models.CharField(_("TAXII status"), max_length=100, blank=True)
    stix_modified = models.DateTimeField(null=True, blank=True)

    objects = EventNoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="exch_notif_due")]

    def __str__(self) -> str:
        return self.ticket


class NotificationReplyQuerySet(models.QuerySet["NotificationReply"]):
    def visible_to(self, user: Reader) -> "NotificationReplyQuerySet":
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated or not viewer.own_org_ids:
            return self.none()
        return self.filter(notification__recipient_id__in=viewer.own_org_ids)


class NotificationReply(models.Model):
    """A message received that quotes a ticket: a reply, or a bounce."""

    notification = models.ForeignKey(EventNotice, on_delete=models.CASCADE, related_name="replies")
    message_id = models.CharField(max_length=300, unique=True)
    sender = models.CharField(_("from"), max_length=300)
    subject = models.CharField(_("subject"), max_length=500)
    body = models.TextField(_("text"))
    is_bounce = models.BooleanField(_("bounce"), default=False)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    objects = NotificationReplyQuerySet.as_manager()

    class Meta:
        ordering = ["received_at"]

    def __str__(self) -> str:
        return f"{self.notification}: {self.subject[:60]}"


class Feed(models.Model):
    """A report source pulled over HTTP on a schedule."""

    name = models.SlugField(_("name"), max_length=100, unique=True)
    url = models.URLField(_("URL"), max_length=1000)
    format = models.CharField(_("format"), max_length=20, choices=FORMAT_CHOICES, blank=True)
    mapping = models.CharField(_("column mapping"), max_length=100, blank=True)
    interval_minutes = models.PositiveIntegerField(_("every (minutes)"), default=60)
    enabled = models.BooleanField(_("enabled"), default=True)
    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_pulled_at = models.DateTimeField(_("last pulled"), null=True, blank=True)
    last_outcome = models.CharField(_("last outcome"), max_length=100, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    objects = StaffOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
