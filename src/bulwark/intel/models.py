"""The intelligence store: STIX objects as received, observable values stored once, their
provenance, indicators, sightings, collections, sharing groups and categories.

Visibility is one rule (`bulwark.intel.access.object_q`) on the STIX object that carried
the information; every other model's `visible_to` reaches it through a join.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation
from bulwark.core.permissions import Reader
from bulwark.core.tlp import TLP
from bulwark.intel.access import VisibleManager, VisibleQuerySet, collection_q

TLP_CHOICES = [(level.value, level.label) for level in TLP]


class Status(models.TextChoices):
    PENDING = "pending", _("Awaiting review")
    PUBLISHED = "published", _("Published")
    REJECTED = "rejected", _("Rejected")


class Category(models.Model):
    """A category of shared information (early warning, vulnerability, malware, ...)."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        # Shown in the reader's language wherever the category is printed.
        if get_language() == "zh-hant" and self.name_zh_hant:
            return self.name_zh_hant
        return self.name


class MarkingAlias(models.Model):
    """Another tool's marking-definition id that means a TLP level (TLP 1.0 ids and the
    private AMBER+STRICT ids of other platforms). The TLP 2.0 and 1.0 ids in
    `bulwark.core.tlp` are always known; rows here add more."""

    marking_id = models.CharField(_("marking-definition id"), max_length=100, unique=True)
    tlp = models.PositiveSmallIntegerField("TLP", choices=TLP_CHOICES)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["marking_id"]

    def __str__(self) -> str:
        return f"{self.marking_id} = {TLP(self.tlp).label}"


class SharingGroupQuerySet(models.QuerySet["SharingGroup"]):
    def visible_to(self, user: Reader) -> "SharingGroupQuerySet":
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        return self.filter(organisations__in=viewer.own_org_ids).distinct()


class SharingGroup(models.Model):
    """Named organisations that an object is shared with; narrows any TLP level."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=5000)
    organisations = models.ManyToManyField(
        Organisation, related_name="intel_sharing_groups", verbose_name=_("organisations")
    )

    objects = SharingGroupQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CollectionQuerySet(models.QuerySet["Collection"]):
    def visible_to(self, user: Reader) -> "CollectionQuerySet":
        q = collection_q(viewer_of(user))
        return self if q is None else self.filter(q)


class Collection(models.Model):
    """A TAXII collection: the community's, one member's, or a public one."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=5000)
    alias = models.SlugField(_("alias"), max_length=100, blank=True)
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="intel_collections",
        help_text=_("Empty for a community collection; set for one member's collection."),
    )
    sharing_group = models.ForeignKey(
        SharingGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="collections"
    )
    public = models.BooleanField(
        _("public"), default=False, help_text=_("Anyone may read its TLP:CLEAR objects.")
    )
    members_can_write = models.BooleanField(_("members may add objects"), default=True)
    requires_review = models.BooleanField(
        _("members' objects need review"),
        default=True,
        help_text=_("Objects added by members wait for a CERT analyst to publish them."),
    )
    default_tlp = models.PositiveSmallIntegerField(
        _("TLP of unmarked objects"), choices=TLP_CHOICES, default=TLP.AMBER
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = CollectionQuerySet.as_manager()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class StixObjectQuerySet(VisibleQuerySet["StixObject"]):
    """Visibility on the object itself (no prefix)."""


StixObjectManager = VisibleManager.from_queryset(StixObjectQuerySet)


class StixObject(models.Model):
    """One version of a STIX object, its JSON kept exactly as received, plus the indexed
    columns that TAXII filters and visibility read."""

    # No index of its own: intel_obj_page, intel_obj_latest and intel_one_version lead with it.
    collection = models.ForeignKey(
        Collection, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    stix_id = models.CharField(max_length=100)
    type = models.CharField(max_length=64)
    spec_version = models.CharField(max_length=10, default="2.1")
    created = models.DateTimeField(null=True, blank=True)
    modified = models.DateTimeField(null=True, blank=True)
    # The TAXII "version": modified, else created, else date_added.
    version = models.DateTimeField()
    date_added = models.DateTimeField()
    is_latest = models.BooleanField(default=True)
    tlp = models.PositiveSmallIntegerField("TLP", choices=TLP_CHOICES)
    # Empty on what the platform imports itself (feeds), usually the bulk of the store;
    # these are indexed where set (the partial indexes in Meta), so a row that leaves
    # them empty costs no index entry.
    source_org = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    audience_org = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    sharing_group = models.ForeignKey(
        SharingGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", db_index=False,
    )  # fmt: skip
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PUBLISHED)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    raw = models.TextField()
    # The upload or TAXII request that brought this version (a "report" of shared items).
    submission = models.ForeignKey(
        "Submission", null=True, blank=True, on_delete=models.SET_NULL, related_name="stix_objects"
    )
    red_recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("named recipients")
    )

    objects = StixObjectManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "stix_id", "version"], name="intel_one_version"
            )
        ]
        indexes = [
            models.Index(fields=["collection", "date_added", "id"], name="intel_obj_page"),
            models.Index(
                fields=["collection", "is_latest", "date_added", "id"], name="intel_obj_latest"
            ),
            models.Index(
                fields=["source_org", "date_added"],
                name="intel_obj_review",
                condition=models.Q(status="pending"),
            ),
            *(
                models.Index(
                    fields=[name],
                    name=f"intel_obj_{short}",
                    condition=models.Q(**{f"{name}__isnull": False}),
                )
                for name, short in (
                    ("source_org", "source"),
                    ("audience_org", "audience"),
                    ("sharing_group", "group"),
                    ("submitted_by", "submitter"),
                    ("category", "category"),
                )
            ),
        ]

    def __str__(self) -> str:
        return self.stix_id

    @property
    def tlp_level(self) -> TLP:
        return TLP(self.tlp)


class Value(models.Model):
    """An observable value, stored once however many sources carry it."""

    kind = models.CharField(_("type"), max_length=10)
    value = models.CharField(_("value"), max_length=2048)
    # Sortable key of an address or a prefix's first address (see observables.net_key).
    net_key = models.CharField(max_length=34, null=True, blank=True)
    last_sighted_at = models.DateTimeField(null=True, blank=True)
    sighting_count = models.PositiveIntegerField(default=0)
    false_positive_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="intel_value_once")]
        indexes = [models.Index(fields=["net_key"], name="intel_value_net")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class ProvenanceQuerySet(VisibleQuerySet["Provenance"]):
    visibility_prefix = "stix_object__"


ProvenanceManager = VisibleManager.from_queryset(ProvenanceQuerySet)


class Provenance(models.Model):
    """One source's statement about a value: who, in which object, how sure, when, TLP."""

    # No indexes of their own: intel_prov_value leads with value, intel_prov_object is
    # stix_object's.
    value = models.ForeignKey(
        Value, on_delete=models.CASCADE, related_name="provenance", db_index=False
    )
    stix_object = models.ForeignKey(
        StixObject, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # Empty on what the platform imports itself: indexed where set (intel_prov_org).
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    tlp = models.PositiveSmallIntegerField("TLP", choices=TLP_CHOICES)

    objects = ProvenanceManager()

    class Meta:
        indexes = [
            models.Index(fields=["value", "stix_object"], name="intel_prov_value"),
            models.Index(fields=["stix_object"], name="intel_prov_object"),
            models.Index(
                fields=["organisation"],
                name="intel_prov_org",
                condition=models.Q(organisation__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value_id} in {self.stix_object_id}"


class IndicatorQuerySet(VisibleQuerySet["Indicator"]):
    visibility_prefix = "stix_object__"


IndicatorManager = VisibleManager.from_queryset(IndicatorQuerySet)


class Indicator(models.Model):
    """A STIX indicator version; its values are the Provenance rows of its object."""

    stix_object = models.OneToOneField(
        StixObject, on_delete=models.CASCADE, related_name="indicator"
    )
    name = models.CharField(max_length=500, blank=True)
    pattern = models.TextField()
    pattern_type = models.CharField(max_length=30, default="stix")
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    # The kind whose lifetime drives decay (the first value's kind).
    kind = models.CharField(max_length=10, blank=True)
    # False for what its sharer did not mean for detection (a MISP attribute with to_ids
    # false): it correlates, but never reaches a detection export. The database's default
    # fills it on the bulk insert path.
    detect = models.BooleanField(_("for detection"), default=True, db_default=True)

    objects = IndicatorManager()

    def __str__(self) -> str:
        return self.name or self.pattern[:80]


class SightingQuerySet(models.QuerySet["Sighting"]):
    def visible_to(self, user: Reader) -> "SightingQuerySet":
        """CERT staff see every sighting; members see their own organisations'."""
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        return self.filter(organisation_id__in=viewer.managed_org_ids)


class Sighting(models.Model):
    """Someone saw a value (or reports it as a false positive)."""

    value = models.ForeignKey(Value, on_delete=models.CASCADE, related_name="sightings")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    source = models.CharField(_("where"), max_length=200, blank=True)
    false_positive = models.BooleanField(_("false positive"), default=False)
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = SightingQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]
        indexes = [models.Index(fields=["value", "last_seen"], name="intel_sighting_value")]

    def __str__(self) -> str:
        kind = "false positive" if self.false_positive else "sighting"
        return f"{kind} of {self.value_id} by {self.organisation_id}"


class SubmissionQuerySet(models.QuerySet["Submission"]):
    def visible_to(self, user: Reader) -> "SubmissionQuerySet":
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        return self.filter(
            models.Q(organisation_id__in=viewer.own_org_ids)
            | models.Q(submitted_by_id=viewer.user_id)
        )


class Submission(models.Model):
    """Input as it arrived (TAXII POST, upload, form), kept until processed or discarded,
    with the report of what was stored and what was refused and why."""

    class Format(models.TextChoices):
        STIX = "stix", _("STIX 2.1 bundle")
        MISP = "misp", _("MISP event JSON")
        CSV = "csv", _("CSV")
        PLAIN = "plain", _("Plain list")

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    format = models.CharField(max_length=10, choices=Format.choices)
    channel = models.CharField(max_length=10, default="taxii")
    raw = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    stored = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list, blank=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.get_format_display()} #{self.pk}"


class TaxiiStatusQuerySet(models.QuerySet["TaxiiStatus"]):
    def visible_to(self, user: Reader) -> "TaxiiStatusQuerySet":
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        return self.filter(
            models.Q(user_id=viewer.user_id) | models.Q(organisation_id__in=viewer.own_org_ids)
        )


class TaxiiStatus(models.Model):
    """The TAXII 2.1 status resource of one POST."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, default="pending")
    request_timestamp = models.DateTimeField()
    total_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    pending_count = models.PositiveIntegerField(default=0)
    successes = models.JSONField(default=list)
    failures = models.JSONField(default=list)
    pendings = models.JSONField(default=list)

    objects = TaxiiStatusQuerySet.as_manager()

    def __str__(self) -> str:
        return f"status {self.pk}"
