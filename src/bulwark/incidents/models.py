"""Incidents reported by agencies, reviewed by their authority, handled with the CERT."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, Role
from bulwark.core.permissions import Reader
from bulwark.incidents.taxonomy import CLASS_CHOICES, TYPE_CHOICES
from bulwark.incidents.workflow import STATUS_LABELS, Status

IMPACT_CHOICES = [("none", _("None")), ("minor", _("Minor")), ("serious", _("Serious"))]
SECRET_CHOICES = [
    ("none", _("None")),
    ("general_official", _("General official secret")),
    ("sensitive", _("Sensitive information")),
    ("national", _("National secret")),
]
TLP_CHOICES = [
    ("clear", "TLP:CLEAR"),
    ("green", "TLP:GREEN"),
    ("amber", "TLP:AMBER"),
    ("amber+strict", "TLP:AMBER+STRICT"),
    ("red", "TLP:RED"),
]


# The API schema names this choice set StatusEnum (settings.SPECTACULAR_SETTINGS).
STATUS_CHOICES = [(s.value, STATUS_LABELS[s]) for s in Status]


class IncidentQuerySet(models.QuerySet["Incident"]):
    def visible_to(self, user: Reader) -> "IncidentQuerySet":
        """CERT staff see all; members see their organisation's incidents; members of an
        authority see those of the organisations below it; a law-enforcement agency sees
        the cases referred to it. TLP narrows: AMBER+STRICT keeps the authority's
        reviewers but not its other members; RED keeps only the reporter, the CERT and
        the reviewers."""
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        own = viewer.own_org_ids
        reviewer_at = {o for o, roles in viewer.roles.items() if Role.REVIEWER in roles}
        reviewed = _below(reviewer_at, viewer.supervised_org_ids)
        wide = Q(organisation_id__in=viewer.managed_org_ids) & Q(
            tlp__in=["clear", "green", "amber"]
        )
        strict = Q(tlp="amber+strict") & (
            Q(organisation_id__in=own) | Q(organisation_id__in=reviewed)
        )
        red = Q(tlp="red") & (Q(reported_by_id=viewer.user_id) | Q(organisation_id__in=reviewed))
        # The referred cases are fetched first (a handful of ids): an `OR id IN (SELECT ...)`
        # is a hashed SubPlan that stops PostgreSQL from combining the other branches'
        # indexes, and every non-CERT list became a full scan (bench/incident_queue.py).
        referred = list(
            Referral.objects.filter(organisation_id__in=own)
            .values_list("incident_id", flat=True)
            .distinct()
        )
        return self.filter(wide | strict | red | Q(pk__in=referred))


def _below(authority_ids: set[int], supervised: frozenset[int]) -> set[int]:
    """Organisations under the given authorities (reviewers review all of them)."""
    if not authority_ids:
        return set()
    below: set[int] = set()
    frontier = set(authority_ids)
    while frontier:
        children = set(
            Organisation.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
        )
        frontier = (children & set(supervised)) - below
        below |= frontier
    return below


class Incident(models.Model):
    reference = models.CharField(_("reference"), max_length=32, unique=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="incidents",
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reported by"),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("what happened"), max_length=20_000)
    profile = models.CharField(_("jurisdiction"), max_length=20, default="tw")
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=STATUS_CHOICES,
        default=Status.REPORTED,
    )
    level = models.PositiveSmallIntegerField(_("level"))
    proposed_level = models.PositiveSmallIntegerField(_("proposed level"))
    level_reason = models.TextField(
        _("reason for choosing another level"), blank=True, max_length=2000
    )
    rsit_class = models.CharField(_("class"), max_length=40, choices=CLASS_CHOICES)
    rsit_type = models.CharField(_("type"), max_length=40, choices=TYPE_CHOICES)
    confidentiality = models.CharField(
        _("leak (confidentiality)"), max_length=10, choices=IMPACT_CHOICES, default="none"
    )
    integrity = models.CharField(
        _("alteration (integrity)"), max_length=10, choices=IMPACT_CHOICES, default="none"
    )
    availability = models.CharField(
        _("outage (availability)"), max_length=10, choices=IMPACT_CHOICES, default="none"
    )
    core_system = models.BooleanField(_("core business system"), default=False)
    critical_infrastructure = models.BooleanField(
        _("critical infrastructure involved"), default=False
    )
    secret = models.CharField(
        _("secrets involved"), max_length=20, choices=SECRET_CHOICES, default="none"
    )
    restored_in_time = models.BooleanField(
        _("restored within tolerable time"), null=True, blank=True
    )
    affected_systems = models.TextField(_("affected systems"), blank=True, max_length=5000)
    tolerable_interruption_hours = models.PositiveIntegerField(
        _("tolerable interruption (hours)"), null=True, blank=True
    )
    tlp = models.CharField("TLP", max_length=15, choices=TLP_CHOICES, default="amber")
    is_drill = models.BooleanField(_("drill"), default=False)
    # The clock anchors: real times, in UTC.
    aware_at = models.DateTimeField(_("aware at"))
    reported_at = models.DateTimeField(_("reported at"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    backfill_reason = models.TextField(_("why reported another way"), blank=True, max_length=2000)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    forwarded_at = models.DateTimeField(_("forwarded at"), null=True, blank=True)
    recovered_at = models.DateTimeField(_("recovery completed at"), null=True, blank=True)
    final_report_at = models.DateTimeField(_("final report submitted at"), null=True, blank=True)
    final_report_extended_to = models.DateTimeField(
        _("final report extended to"), null=True, blank=True
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Earliest due time of an open clock; recomputed on every change, sorts the queue.
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The CERT staff member who owns the case ("my cases").
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_incidents",
        verbose_name=_("assignee"),
    )

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-reported_at"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        # Measured at 1 M incidents on PostgreSQL (bench/incident_queue.py, docs/incidents.md).
        # Text search has its trigram indexes in migration 0004 (PostgreSQL only).
        indexes = [
            models.Index(fields=["status", "next_due_at"]),
            models.Index(fields=["organisation", "-reported_at"]),
            models.Index(fields=["level", "rsit_class"]),
            # The duty officer's queue: open cases by nearest deadline (a small index).
            models.Index(
                F("next_due_at").asc(),
                F("reported_at").desc(),
                name="incident_open_queue",
                condition=~Q(status="closed"),
            ),
            # An organisation's open cases (a member's queue and its count).
            models.Index(
                F("organisation"),
                F("next_due_at").asc(),
                F("reported_at").desc(),
                name="incident_org_open_queue",
                condition=~Q(status="closed"),
            ),
            # Counts (/api/v1/incidents/stats/) from the index alone: open cases, and
            # cases reported in a period.
            models.Index(
                fields=["level", "rsit_class"],
                name="incident_open_counts",
                condition=~Q(status="closed"),
            ),
            # The statistics' period counts and timeliness: on PostgreSQL an index-only scan
            # over a year instead of reading every wide incident row (bench/stats_dashboards).
            models.Index(
                fields=["reported_at", "level", "rsit_class"],
                include=[
                    "id",
                    "is_drill",
                    "organisation",
                    "tlp",
                    "reported_by",
                    "profile",
                    "aware_at",
                    "reviewed_at",
                    "recovered_at",
                    "final_report_at",
                    "final_report_extended_to",
                ],
                name="incident_period_stats",
            ),
            # visible_to's "TLP:RED cases I reported" branch.
            models.Index(
                fields=["reported_by"], name="incident_red_reporter", condition=Q(tlp="red")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def backfilled(self) -> bool:
        return bool(self.backfill_reason)

    def clock_events(self) -> dict[str, Any]:
        return {
            "aware": self.aware_at,
            "reported": self.reported_at,
            "reviewed": self.reviewed_at,
            "forwarded": self.forwarded_at,
            "recovered": self.recovered_at,
            "final_report": self.final_report_at,
            "notification_report": self.reported_at,
        }


class IncidentCount(models.Model):
    """How many incidents there are per level, class, open/closed, drill and TLP: kept by
    database triggers on incidents_incident (migration 0006), so no write path can forget
    it. Only a viewer who sees every incident may read it (the stats endpoint checks);
    it answers the national counts without scanning a million rows."""

    level = models.PositiveSmallIntegerField()
    rsit_class = models.CharField(max_length=40)
    is_open = models.BooleanField()
    is_drill = models.BooleanField()
    tlp = models.CharField(max_length=20)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["level", "rsit_class", "is_open", "is_drill", "tlp"],
                name="incidentcount_key",
            )
        ]

    def __str__(self) -> str:
        return f"L{self.level} {self.rsit_class}: {self.n}"


class LevelChange(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="level_changes")
    level = models.PositiveSmallIntegerField(_("level"))
    at = models.DateTimeField(_("time"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    renotification = models.BooleanField(default=True)
    reason = models.TextField(_("reason"), blank=True, max_length=2000)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"L{self.level} at {self.at:%Y-%m-%d %H:%M}"


class TimelineEntry(models.Model):
    class Kind(models.TextChoices):
        EVENT = "event", _("Event")
        NOTE = "note", _("Note")
        GUIDANCE = "guidance", _("CERT guidance")
        ACTION = "action", _("Action taken")
        CISO_MEETING = "ciso_meeting", _("CISO meeting record")
        EVIDENCE = "evidence", _("Evidence")
        TASK = "task", _("Task")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(_("time"), auto_now_add=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    text = models.TextField(_("text"), max_length=10_000)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:50]}"


class FinalReport(models.Model):
    """The seven items the regulation requires; one row per submission (revisions kept)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="final_reports")
    submitted_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    times = models.TextField(
        _("1. time of occurrence, awareness and completion of recovery"), max_length=5000
    )
    scope_and_damage = models.TextField(_("2. scope and damage assessment"), max_length=20_000)
    damage_control = models.TextField(
        _("3. record of damage control and recovery"), max_length=20_000
    )
    investigation = models.TextField(
        _("4. record of investigation and handling"), max_length=20_000
    )
    root_cause = models.TextField(_("5. root-cause analysis"), max_length=20_000)
    prevention = models.TextField(_("6. measures to prevent recurrence"), max_length=20_000)
    follow_up = models.TextField(
        _("7. schedule and follow-up of those measures"), max_length=20_000
    )
    review_comment = models.TextField(_("CERT's comment"), blank=True, max_length=10_000)

    ITEMS = (
        "times",
        "scope_and_damage",
        "damage_control",
        "investigation",
        "root_cause",
        "prevention",
        "follow_up",
    )

    class Meta:
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return f"final report of {self.incident_id} at {self.submitted_at:%Y-%m-%d}"


class ClockAlert(models.Model):
    """A reminder or escalation sent for one clock's due time (sent once)."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", _("Reminder")
        ESCALATION = "escalation", _("Escalation")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    clock = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "clock", "kind", "due_at"], name="one_alert_per_due_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.clock} {self.incident_id}"


class ThroughIncidentQuerySet(models.QuerySet[Any]):
    def visible_to(self, user: Reader) -> "ThroughIncidentQuerySet":
        """Evidence and tasks are read with their incident (the audit log relies on it)."""
        incidents = Incident.objects.visible_to(user)
        if not incidents.query.where:  # the CERT: every incident, so no condition
            return self
        return self.filter(incident__in=incidents.values("pk"))


class Evidence(models.Model):
    """A file kept as it arrived: stored under its SHA-256, never modified in place."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="evidence")
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField()
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = ThroughIncidentQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "pk"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"

    @property
    def storage_name(self) -> str:
        return f"evidence/{self.sha256[:2]}/{self.sha256}"


class CustodyEvent(models.Model):
    """The chain of custody: every upload, download, hand-over and verification."""

    class Action(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        DOWNLOADED = "downloaded", _("Downloaded")
        HANDED_OVER = "handed_over", _("Handed over")
        VERIFIED = "verified", _("Hash verified")
        REFERRED = "referred", _("Included in a referral")

    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="custody")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.evidence_id} by {self.actor_id}"


class Referral(models.Model):
    """A case referred to a law-enforcement organisation as a signed package."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="referrals")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="referrals"
    )
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    referred_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(_("note"), blank=True, max_length=5000)
    package_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-referred_at"]

    def __str__(self) -> str:
        return f"{self.incident_id} -> {self.organisation_id}"

    @property
    def storage_name(self) -> str:
        return f"referrals/{self.package_sha256}.zip"


class IncidentIndicator(models.Model):
    """An observable reported with the incident (normalised; see indicators.py)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="indicators")
    kind = models.CharField(_("type"), max_length=10)
    value = models.CharField(_("value"), max_length=2048)
    # Labels on the observable (lower-case slugs, space separated, sorted), set by those
    # who handle the case: "c2", "phishing-kit", "false-positive" ...
    tags = models.CharField(_("tags"), max_length=1100, blank=True, default="")

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "kind", "value"], name="one_indicator_per_incident"
            )
        ]
        indexes = [models.Index(fields=["kind", "value"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @property
    def tag_list(self) -> list[str]:
        return self.tags.split()


class ResponseTask(models.Model):
    """A task in the response, with an owner and a due time."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("task"), max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
    )
    due_at = models.DateTimeField(_("due"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = ThroughIncidentQuerySet.as_manager()

    class Meta:
        ordering = ["done_at", "due_at"]

    def __str__(self) -> str:
        return self.title


class IncidentTag(models.Model):
    """A free label on an incident (lower case, no spaces), filterable in the queue."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tags")
    name = models.SlugField(_("tag"), max_length=50, allow_unicode=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "name"], name="one_tag_per_incident")
        ]
        indexes = [models.Index(fields=["name", "incident"])]

    def __str__(self) -> str:
        return self.name


class SavedFilterQuerySet(models.QuerySet["SavedFilter"]):
    def visible_to(self, user: Reader) -> "SavedFilterQuerySet":
        """A person's own saved filters only."""
        if not isinstance(user, AbstractBaseUser) or not user.is_authenticated:
            return self.none()
        return self.filter(user_id=user.pk)


class SavedFilter(models.Model):
    """A queue filter a person named and keeps (the query string, as in the URL)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="incident_filters"
    )
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("filter"), max_length=1000)

    objects = SavedFilterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="one_filter_name_per_user")
        ]

    def __str__(self) -> str:
        return self.name


class CaseTemplate(models.Model):
    """The CERT's task list for one incident class, added when the response starts."""

    rsit_class = models.CharField(_("class"), max_length=40, choices=CLASS_CHOICES, unique=True)
    # One task a line: "<hours> | <what to do>" (hours after the response starts).
    tasks = models.TextField(_("tasks"), max_length=10_000)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["rsit_class"]

    def __str__(self) -> str:
        return self.rsit_class
