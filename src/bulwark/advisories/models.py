"""Notice advisories to agencies, their targets (with acknowledgement and action), e-mail
deliveries, revisions, attachments, agencies' asset inventories and public publications.

Visibility is one queryset method per model (`visible_to`); see docs/advisories.md."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, Role, Sector
from bulwark.core.permissions import Reader

TLP_CHOICES = [
    ("clear", "TLP:CLEAR"),
    ("green", "TLP:GREEN"),
    ("amber", "TLP:AMBER"),
    ("amber+strict", "TLP:AMBER+STRICT"),
    ("red", "TLP:RED"),
]
SEVERITY_CHOICES = [
    ("low", _("Low")),
    ("medium", _("Medium")),
    ("high", _("High")),
    ("critical", _("Critical")),
]
# Limits on what one advisory may hold (hostile or careless input is refused clearly).
MAX_BODY_CHARS = 100_000
MAX_ATTACHMENT_BYTES = 1024 * 1024
MAX_ATTACHMENTS = 5


def _viewer(user: Reader) -> Any:
    return viewer_of(user)


class AdvisoryCategory(models.Model):
    """What kind of notice an advisory is (data, so statistics count it by category)."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=100, blank=True)

    class Meta:
        # Renamed from `Category` (issue 21: intel has one too); the table keeps its name.
        db_table = "advisories_category"
        ordering = ["name"]
        verbose_name = _("advisory category")
        verbose_name_plural = _("advisory categories")

    def __str__(self) -> str:
        # Shown in the reader's language wherever the object is printed.
        if get_language() == "zh-hant" and self.name_zh_hant:
            return self.name_zh_hant
        return self.name

    def label(self, language: str) -> str:
        return self.name_zh_hant if language == "zh-hant" and self.name_zh_hant else self.name


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING = "pending", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    SENT = "sent", _("Sent")


class Publication(models.TextChoices):
    NONE = "", _("Not public")
    ALERT = "alert", _("Security alert")
    NEWS = "news", _("News")
    GUIDELINE = "guideline", _("Guideline")


class Response(models.TextChoices):
    NONE = "none", _("No response required")
    ACKNOWLEDGE = "acknowledge", _("Acknowledge receipt")
    ACTION = "action", _("Report the action taken")


PUBLIC = Q(status=Status.SENT, tlp="clear") & ~Q(publication="")


class AdvisoryQuerySet(models.QuerySet["Advisory"]):
    def public(self) -> "AdvisoryQuerySet":
        """Published, TLP:CLEAR publications: what anyone may read without signing in."""
        return self.filter(PUBLIC)

    def visible_to(self, user: Reader) -> "AdvisoryQuerySet":
        """CERT staff see every advisory (drafts included). Anyone else sees the public
        publications and the sent advisories targeted at their own organisations; a
        TLP:RED advisory reaches only the organisation admins of its targets."""
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated or not viewer.own_org_ids:
            return self.public()
        admin_of = [o for o, roles in viewer.roles.items() if Role.ORG_ADMIN in roles]
        wide = Target.objects.filter(organisation_id__in=viewer.own_org_ids).exclude(
            advisory__tlp="red"
        )
        red = Target.objects.filter(organisation_id__in=admin_of, advisory__tlp="red")
        targeted = Q(pk__in=wide.values("advisory_id")) | Q(pk__in=red.values("advisory_id"))
        return self.filter(PUBLIC | (Q(status=Status.SENT) & targeted))


class Advisory(models.Model):
    reference = models.CharField(_("reference"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=200)
    title_zh_hant = models.CharField(_("title (Traditional Chinese)"), max_length=200, blank=True)
    summary = models.TextField(_("summary"), max_length=2000)
    summary_zh_hant = models.TextField(
        _("summary (Traditional Chinese)"), max_length=2000, blank=True
    )
    body = models.TextField(_("body (Markdown)"), max_length=MAX_BODY_CHARS)
    body_zh_hant = models.TextField(
        _("body (Markdown, Traditional Chinese)"), max_length=MAX_BODY_CHARS, blank=True
    )
    category = models.ForeignKey(
        AdvisoryCategory,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        related_name="advisories",
    )
    severity = models.CharField(_("severity"), max_length=10, choices=SEVERITY_CHOICES)
    tlp = models.CharField(_("TLP"), max_length=12, choices=TLP_CHOICES, default="amber")
    publication = models.CharField(
        _("public publication"), max_length=10, choices=Publication.choices, blank=True
    )
    # [{"id": "CVE-2026-1234", "cvss_score": 9.8, "cvss_vector": "CVSS:3.1/..."}]
    cves = models.JSONField(_("CVEs"), default=list, blank=True)
    # [{"vendor": "apache", "product": "http_server", "versions": ">=2.4.0,<2.4.60"}]
    affected_products = models.JSONField(_("affected products"), default=list, blank=True)
    recommended_actions = models.TextField(_("recommended actions"), max_length=20_000, blank=True)
    recommended_actions_zh_hant = models.TextField(
        _("recommended actions (Traditional Chinese)"), max_length=20_000, blank=True
    )
    response_required = models.CharField(
        _("required response"), max_length=12, choices=Response.choices, default=Response.NONE
    )
    response_deadline = models.DateTimeField(_("response deadline"), null=True, blank=True)
    # Free values until the intelligence store links them (ip, domain, hash, url ...).
    related_indicators = models.JSONField(_("related indicators"), default=list, blank=True)
    # Targeting (the union of these is the recipient list).
    target_all = models.BooleanField(_("all agencies"), default=False)
    target_sectors = models.ManyToManyField(
        Sector, verbose_name=_("sectors"), blank=True, related_name="+"
    )
    target_authorities = models.ManyToManyField(
        Organisation,
        verbose_name=_("authorities and the agencies under them"),
        blank=True,
        related_name="+",
    )
    target_organisations = models.ManyToManyField(
        Organisation, verbose_name=_("organisations"), blank=True, related_name="+"
    )
    target_inventory = models.BooleanField(
        _("agencies whose inventory holds an affected product"), default=False
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    revision = models.PositiveIntegerField(_("revision"), default=1)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = AdvisoryQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-created_at"]
        verbose_name = _("advisory")
        verbose_name_plural = _("advisories")
        indexes = [models.Index(fields=["status", "tlp", "publication"])]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_public(self) -> bool:
        return self.status == Status.SENT and self.tlp == "clear" and bool(self.publication)

    @property
    def tlp_label(self) -> str:
        return dict(TLP_CHOICES)[self.tlp]

    def localised(self, field: str, language: str) -> str:
        """The zh-Hant text when asked for and written, else the English one."""
        if language == "zh-hant":
            value = str(getattr(self, f"{field}_zh_hant", "") or "")
            if value:
                return value
        return str(getattr(self, field))


class RevisionQuerySet(models.QuerySet["Revision"]):
    def published(self) -> "RevisionQuerySet":
        """Approved revisions: the history recipients and the public see."""
        return self.filter(approved_at__isnull=False)

    def pending(self) -> "RevisionQuerySet":
        return self.filter(approved_at__isnull=True, rejected_at__isnull=True)


class Revision(models.Model):
    """One change of a sent advisory: what changed, who proposed it, who approved it (a
    second person) and why. It reaches the advisory and its recipients on approval."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(_("revision"), null=True, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(_("what changed"), max_length=1000)
    # {"field": [old, new]} for people; `proposed` holds the new values to apply.
    changes = models.JSONField(_("changes"), default=dict)
    proposed = models.JSONField(default=dict)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("sent back"), null=True, blank=True)

    objects = RevisionQuerySet.as_manager()

    class Meta:
        ordering = ["advisory", "-number", "-at"]
        constraints = [
            models.UniqueConstraint(fields=["advisory", "number"], name="unique_revision_number")
        ]

    def __str__(self) -> str:
        return f"{self.advisory.reference} r{self.number or '?'}"

    @property
    def is_pending(self) -> bool:
        return self.approved_at is None and self.rejected_at is None


class Attachment(models.Model):
    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="attachments")
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TargetQuerySet(models.QuerySet["Target"]):
    def visible_to(self, user: Reader) -> "TargetQuerySet":
        """CERT staff see every target; an organisation sees its own rows of the advisories
        it may read."""
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        readable = Advisory.objects.visible_to(user).values("pk")
        return self.filter(organisation_id__in=viewer.own_org_ids, advisory_id__in=readable)


class Target(models.Model):
    """One organisation an advisory was sent to, and what it did about it."""

    class Action(models.TextChoices):
        NONE = "", _("None yet")
        PATCHED = "patched", _("Patched")
        MITIGATED = "mitigated", _("Mitigated")
        NOT_AFFECTED = "not_affected", _("Not affected")

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="targets")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="advisory_targets"
    )
    reason = models.CharField(_("why targeted"), max_length=200, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(_("action"), max_length=15, choices=Action.choices, blank=True)
    action_note = models.TextField(_("note"), max_length=5000, blank=True)
    acted_at = models.DateTimeField(_("acted"), null=True, blank=True)
    acted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)

    objects = TargetQuerySet.as_manager()

    class Meta:
        ordering = ["organisation__name"]
        constraints = [
            models.UniqueConstraint(fields=["advisory", "organisation"], name="unique_target")
        ]

    def __str__(self) -> str:
        return f"{self.advisory.reference} → {self.organisation}"

    def state(self, now: Any = None) -> str:
        """read / acknowledged / acted / overdue / unread, for the tracking view."""
        return tracking_state(
            self.advisory.response_required,
            self.advisory.response_deadline,
            self.read_at,
            self.acknowledged_at,
            self.acted_at,
            now or timezone.now(),
        )


def tracking_state(
    required: str, deadline: Any, read_at: Any, ack_at: Any, acted_at: Any, now: Any
) -> str:
    if acted_at is not None:
        return "acted"
    done = ack_at is not None if required != Response.ACTION else False
    if required == Response.NONE:
        done = True
    if not done and deadline is not None and now > deadline:
        return "overdue"
    if ack_at is not None:
        return "acknowledged"
    return "read" if read_at is not None else "unread"


class Delivery(models.Model):
    """One e-mail of an advisory (or its revision, reminder) to one contact address."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="deliveries")
    # Denormalised from the target, so the tracking view counts deliveries from an index.
    advisory = models.ForeignKey(
        Advisory, null=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    kind = models.CharField(max_length=12, default="advisory")  # advisory, revision, reminder
    revision = models.PositiveIntegerField(default=1)
    email = models.EmailField()
    language = models.CharField(max_length=10, default="en")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["advisory", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.state})"


class InventoryQuerySet(models.QuerySet["InventoryItem"]):
    def visible_to(self, user: Reader) -> "InventoryQuerySet":
        """CERT staff see every inventory (they target by it); members see their own
        organisations' and those they supervise."""
        viewer = _viewer(user)
        if viewer.sees_everything:
            return self
        return self.filter(organisation_id__in=viewer.managed_org_ids)


class InventoryItem(models.Model):
    """A product an organisation runs: a CPE 2.3 name, or vendor / product / version."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="inventory"
    )
    cpe = models.CharField(_("CPE 2.3 name"), max_length=500, blank=True)
    vendor = models.CharField(_("vendor"), max_length=100)
    product = models.CharField(_("product"), max_length=100)
    version = models.CharField(_("version"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = InventoryQuerySet.as_manager()

    class Meta:
        ordering = ["vendor", "product", "version"]
        indexes = [models.Index(fields=["vendor", "product"])]
        verbose_name = _("inventory item")

    def __str__(self) -> str:
        return f"{self.vendor} {self.product} {self.version}".strip()
