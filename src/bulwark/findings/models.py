"""Engagements (audits, health checks, penetration tests...) and the findings they turn up,
each tracked to closure.

A finding is one problem on one asset of one agency; its `fingerprint` (from the engine)
is what imports and tools agree on, so a problem found again in a later scan, by another
tool or in next year's engagement, is the same row with a longer history (see
docs/findings.md). Every import decision about a finding is kept (`DedupeDecision`), so
the finding's page says why it is new, a duplicate, reopened or mitigated.

Who sees what (docs/access.md): CERT staff everything; an agency its own engagements and
findings; an authority those of the agencies below it.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from bulwark.advisories.models import InventoryItem
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation
from bulwark.core.permissions import Reader
from bulwark.incidents.models import Incident


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")
    INFO = "info", _("Informational")


SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"]


class EngagementKind(models.TextChoices):
    AUDIT = "audit", _("Security audit")
    HEALTH_CHECK = "health_check", _("Health check")
    PENTEST = "pentest", _("Penetration test")
    RED_TEAM = "red_team", _("Red-team exercise")
    VULN_SCAN = "vuln_scan", _("Vulnerability scan")


class EngagementStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    REPORTING = "reporting", _("Reporting")
    DELIVERED = "delivered", _("Report delivered")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    FIXED = "fixed", _("Fixed, awaiting retest")
    CLOSED = "closed", _("Closed (verified)")
    MITIGATED = "mitigated", _("Mitigated (absent from a re-scan)")
    RISK_ACCEPTED = "risk_accepted", _("Risk accepted")
    FALSE_POSITIVE = "false_positive", _("False positive")


# Still to be remediated: these count against the deadline.
OPEN_STATUSES = (
    FindingStatus.OPEN,
    FindingStatus.ASSIGNED,
    FindingStatus.IN_PROGRESS,
)
# Gone from the agency's work list but not yet verified or still to be counted as open
# for figures: "fixed" waits for the CERT's retest.
ACTIVE_STATUSES = (*OPEN_STATUSES, FindingStatus.FIXED)
RESOLVED_STATUSES = (FindingStatus.CLOSED, FindingStatus.MITIGATED)


def _org_condition(user: Reader, field: str) -> Q | None:
    """None when the user sees everything; else the condition on `field` (an
    organisation id): own organisations and those below them."""
    viewer = viewer_of(user)
    if viewer.sees_everything:
        return None
    if not viewer.authenticated:
        return Q(pk__in=[])
    return Q(**{f"{field}__in": viewer.managed_org_ids})


class EngagementQuerySet(models.QuerySet["Engagement"]):
    def visible_to(self, user: Reader) -> "EngagementQuerySet":
        """CERT staff see all; an agency its own; an authority the agencies below it."""
        condition = _org_condition(user, "organisation_id")
        return self if condition is None else self.filter(condition)


class Engagement(models.Model):
    """One audit, health check, penetration test, red-team exercise or vulnerability scan
    of one agency."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="engagements",
        verbose_name=_("agency"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EngagementKind.choices)
    title = models.CharField(_("title"), max_length=200)
    scope = models.TextField(
        _("scope"),
        blank=True,
        help_text=_("Hosts, networks and URLs in scope, one per line."),
    )
    scope_items = models.ManyToManyField(
        InventoryItem,
        blank=True,
        related_name="engagements",
        verbose_name=_("products in scope (from the asset inventory)"),
    )
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lead"),
    )
    team = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        verbose_name=pgettext_lazy("engagement", "team"),
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=EngagementStatus.choices,
        default=EngagementStatus.PLANNED,
        db_index=True,
    )
    deadline_profile = models.CharField(
        _("remediation deadline profile"), max_length=50, default="default"
    )
    report_delivered_at = models.DateTimeField(_("report delivered"), null=True, blank=True)
    report_note = models.TextField(_("report note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EngagementQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "-pk"]
        verbose_name = _("engagement")

    def __str__(self) -> str:
        return f"E-{self.pk} {self.title}"


class ScanImportState(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Refused")


class ThroughEngagementQuerySet(models.QuerySet[Any]):
    def visible_to(self, user: Reader) -> "ThroughEngagementQuerySet":
        condition = _org_condition(user, "engagement__organisation_id")
        return self if condition is None else self.filter(condition)


class ScanImport(models.Model):
    """One scanner output file as it arrived: kept (under its SHA-256) until processed and
    afterwards, with what the import did (nothing is lost)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="imports")
    tool = models.CharField(_("tool"), max_length=20, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    full_rescan = models.BooleanField(
        _("full re-scan of the scope"),
        default=True,
        help_text=_(
            "Findings of this tool on the scanned hosts that are absent from this file are "
            "marked mitigated."
        ),
    )
    state = models.CharField(
        max_length=20, choices=ScanImportState.choices, default=ScanImportState.RECEIVED
    )
    error = models.TextField(blank=True)
    new = models.PositiveIntegerField(default=0)
    duplicate = models.PositiveIntegerField(default=0)
    mitigated = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    services = models.PositiveIntegerField(default=0)
    hosts = models.JSONField(default=list, blank=True)
    # A CSV file's columns by our field name ({"title": "Vulnerability", ...}); empty:
    # the columns are recognised by their names.
    column_mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = ThroughEngagementQuerySet.as_manager()

    class Meta:
        ordering = ["-imported_at", "-pk"]
        verbose_name = _("scan import")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.tool or '?'})"


class ScannedService(models.Model):
    """A host an engagement's scans covered and, when the tool said so, an open port on it
    (Nmap's services, Nessus' port scanners and the ports its checks ran on): the
    engagement's assets, including the hosts found clean (`port` 0: the host itself)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="services")
    host = models.CharField(_("host"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=0)
    protocol = models.CharField(_("protocol"), max_length=10, blank=True)
    service = models.CharField(_("service"), max_length=50, blank=True)
    product = models.CharField(_("product"), max_length=200, blank=True)
    scan = models.ForeignKey(ScanImport, on_delete=models.SET_NULL, null=True, related_name="+")
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))

    objects = ThroughEngagementQuerySet.as_manager()

    class Meta:
        ordering = ["host", "port", "protocol"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "host", "port", "protocol"], name="scanned_service_once"
            )
        ]
        verbose_name = _("scanned service")

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.protocol}" if self.port else self.host


_RESOLVED_AT = ("fixed_at", "mitigated_at", "closed_at")
# A finding with a resolution date (fixed, mitigated or closed): what time to remediate
# averages; the same condition as the partial indexes serving it.
RESOLVED_ROWS = (
    Q(fixed_at__isnull=False) | Q(mitigated_at__isnull=False) | Q(closed_at__isnull=False)
)


class FindingQuerySet(models.QuerySet["Finding"]):
    def visible_to(self, user: Reader) -> "FindingQuerySet":
        """Read with the agency: CERT staff all, an agency its own, an authority those of
        the agencies below it."""
        condition = _org_condition(user, "organisation_id")
        return self if condition is None else self.filter(condition)

    def active(self) -> "FindingQuerySet":
        return self.filter(status__in=ACTIVE_STATUSES)


class Finding(models.Model):
    """One problem on one asset of one agency, from its first sighting to its closure."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="findings", verbose_name=_("agency")
    )
    engagement = models.ForeignKey(
        Engagement, on_delete=models.PROTECT, related_name="findings", verbose_name=_("engagement")
    )
    fingerprint = models.CharField(max_length=64)
    tool = models.CharField(_("tool"), max_length=20, blank=True)
    rule_id = models.CharField(_("rule"), max_length=200, blank=True)
    title = models.CharField(_("title"), max_length=500)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    cvss_vector = models.CharField(_("CVSS vector"), max_length=200, blank=True)
    cvss_score = models.FloatField(_("CVSS score"), null=True, blank=True)
    cves = models.JSONField(_("CVEs"), default=list, blank=True)
    cwes = models.JSONField(_("CWEs"), default=list, blank=True)
    host = models.CharField(_("host"), max_length=255, blank=True)
    port = models.PositiveIntegerField(_("port"), null=True, blank=True)
    protocol = models.CharField(_("protocol"), max_length=10, blank=True)
    service = models.CharField(_("service"), max_length=50, blank=True)
    url = models.CharField(_("URL"), max_length=2000, blank=True)
    location = models.CharField(_("location"), max_length=1000, blank=True)
    description = models.TextField(_("description"), blank=True)
    solution = models.TextField(_("solution"), blank=True)
    references = models.JSONField(default=list, blank=True)
    evidence = models.TextField(_("tool output"), blank=True)
    inventory_item = models.ForeignKey(
        InventoryItem,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="findings",
        verbose_name=_("affected product (inventory)"),
    )
    checklist_item = models.ForeignKey(
        "ChecklistItem", on_delete=models.SET_NULL, null=True, blank=True, related_name="findings"
    )
    epss = models.FloatField(_("EPSS"), null=True, blank=True)
    kev = models.BooleanField(_("known exploited"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee"),
    )
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    # When the CERT first recorded it (the import or the manual entry), as opposed to
    # `first_seen`, the tool's own date, which can be years old: time to remediate is
    # counted from here.
    recorded_at = models.DateTimeField(_("first recorded"), default=timezone.now)
    fixed_at = models.DateTimeField(_("fixed"), null=True, blank=True)
    mitigated_at = models.DateTimeField(_("mitigated"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reopened_count = models.PositiveIntegerField(default=0)
    false_positive_reason = models.TextField(_("why a false positive"), blank=True)
    reminded_days = models.IntegerField(null=True, blank=True)  # last reminder sent (days left)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # The incident this finding was reported as (one at most: a second request shows it).
    incident = models.ForeignKey(
        Incident,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("incident"),
    )

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["organisation", "fingerprint"]),
            # a full re-scan looks up the findings of the hosts it covered
            models.Index(fields=["organisation", "host"]),
            models.Index(fields=["organisation", "status", "severity"]),
            models.Index(fields=["status", "deadline"]),
            # the dashboards' mean time to remediate: the latest resolved, index only
            models.Index(
                fields=["id", "organisation", "recorded_at", *_RESOLVED_AT],
                condition=RESOLVED_ROWS,
                name="finding_resolved_latest",
            ),
            models.Index(
                fields=["organisation", "id", "recorded_at", *_RESOLVED_AT],
                condition=RESOLVED_ROWS,
                name="finding_resolved_agency",
            ),
        ]
        verbose_name = _("finding")

    def __str__(self) -> str:
        return f"F-{self.pk} {self.title}"[:300]

    @property
    def asset_label(self) -> str:
        if self.url:
            return self.url
        if self.port:
            return f"{self.host}:{self.port}/{self.protocol or 'tcp'}"
        return self.host

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class FindingCve(models.Model):
    """One CVE of a finding, indexed: an advisory about a CVE lists the agencies with open
    findings for it."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="cve_rows")
    cve = models.CharField(max_length=30, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["finding", "cve"], name="finding_cve_once")]

    def __str__(self) -> str:
        return self.cve


class ThroughFindingQuerySet(models.QuerySet[Any]):
    def visible_to(self, user: Reader) -> "ThroughFindingQuerySet":
        condition = _org_condition(user, "finding__organisation_id")
        return self if condition is None else self.filter(condition)


class TallyQuerySet(models.QuerySet["FindingTally"]):
    def visible_to(self, user: Reader) -> "TallyQuerySet":
        """As the findings counted: CERT staff all, an agency its own, an authority those
        of the agencies below it."""
        condition = _org_condition(user, "organisation_id")
        return self if condition is None else self.filter(condition)


class TallyResolved(models.IntegerChoices):
    NO = 0, _("not resolved, or no deadline")
    ON_TIME = 1, _("resolved by the deadline")
    LATE = 2, _("resolved after the deadline")


class FindingTally(models.Model):
    """How many findings share one (agency, status, severity, deadline, resolved on
    time?) key: what the dashboards count, a few hundred rows instead of a million.

    Kept by database triggers on the findings table (migration 0003_s30h5_tally), in the
    same transaction as every write to it: the imports' bulk COPY, the services' saves,
    deletions. No Python code writes it. SQLite updates one row per key; PostgreSQL
    appends one signed row per key and statement (no row lock shared between writers),
    summed when read and compacted by `services.compact_tally` (periodic)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    status = models.CharField(max_length=20)
    severity = models.CharField(max_length=10)
    deadline = models.DateTimeField(null=True)
    resolved = models.SmallIntegerField(default=TallyResolved.NO)
    n = models.BigIntegerField(default=0)

    objects = TallyQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["organisation", "status", "severity", "deadline", "resolved"])
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id} {self.status} {self.severity}: {self.n}"


class DedupeOutcome(models.TextChoices):
    NEW = "new", _("New finding")
    DUPLICATE = "duplicate", _("Seen again (duplicate)")
    REOPENED = "reopened", _("Reopened (found again after it was resolved)")
    MITIGATED = "mitigated", _("Mitigated (absent from a full re-scan)")


class DedupeDecision(models.Model):
    """What one import decided about one finding, and why (shown on the finding's page)."""

    scan = models.ForeignKey(ScanImport, on_delete=models.CASCADE, related_name="decisions")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="decisions")
    outcome = models.CharField(max_length=20, choices=DedupeOutcome.choices)
    previous_status = models.CharField(max_length=20, blank=True)
    # Every finding of the agency with the same fingerprint when the import ran:
    # [{"id": 12, "status": "mitigated"}, ...]; the chosen one is `finding`.
    candidates = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    objects = ThroughFindingQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.outcome} F-{self.finding_id}"

    @property
    def explanation(self) -> str:
        """Why the import decided this, in the reader's language."""
        n = len(self.candidates or [])
        if self.reason == "no_match":
            return str(_("No finding of this agency had this fingerprint: a new finding."))
        if self.reason == "open_match":
            return str(
                _(
                    "Matched a finding still being tracked (of %(n)d with this "
                    "fingerprint): seen again."
                )
            ) % {"n": n}
        if self.reason == "kept_decision":
            status = FindingStatus(self.previous_status).label if self.previous_status else ""
            return str(
                _("Matched a finding that was %(status)s: that decision stands, seen again.")
            ) % {"status": status}
        if self.reason == "fixed_still_present":
            return str(_("It was marked fixed, but the scan still finds it: back in progress."))
        if self.reason == "resolved_match":
            return str(
                _(
                    "All %(n)d findings with this fingerprint were resolved; the most recent "
                    "one is reopened (a regression)."
                )
            ) % {"n": n}
        if self.reason == "absent_from_rescan":
            return str(
                _("A full re-scan of this host with the same tool no longer reports it: mitigated.")
            )
        return self.reason


class EventKind(models.TextChoices):
    ASSIGNED = "assigned", _("Assigned")
    STARTED = "started", _("Work started")
    FIXED = "fixed", _("Marked fixed")
    RETEST_PASSED = "retest_passed", _("Retest passed, closed")
    RETEST_FAILED = "retest_failed", _("Retest failed")
    REOPENED = "reopened", _("Reopened")
    MITIGATED = "mitigated", _("Mitigated")
    COMMENT = "comment", _("Comment")
    RISK_REQUESTED = "risk_requested", _("Risk acceptance requested")
    RISK_APPROVED = "risk_approved", _("Risk accepted")
    RISK_REJECTED = "risk_rejected", _("Risk acceptance refused")
    RISK_EXPIRED = "risk_expired", _("Risk acceptance expired")
    FALSE_POSITIVE = "false_positive", _("Marked false positive")
    REMINDED = "reminded", _("Deadline reminder sent")
    ESCALATED = "escalated", _("Escalated to the authority")
    INCIDENT = "incident", _("Reported as an incident")


class RemediationEvent(models.Model):
    """One step in a finding's remediation, with an evidence file when there is one (kept
    under its SHA-256, the uploader's name only shown)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    evidence_name = models.CharField(max_length=255, blank=True)
    evidence_size = models.PositiveBigIntegerField(null=True, blank=True)

    objects = ThroughFindingQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} F-{self.finding_id}"


class RiskAcceptanceState(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Refused")
    EXPIRED = "expired", _("Expired")


class RiskAcceptance(models.Model):
    """A request to live with a finding until a date; a second person approves it."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="acceptances")
    reason = models.TextField(_("reason"))
    expires_on = models.DateField(_("expires on"))
    state = models.CharField(
        max_length=20, choices=RiskAcceptanceState.choices, default=RiskAcceptanceState.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    previous_status = models.CharField(max_length=20, blank=True)

    objects = ThroughFindingQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-pk"]

    def __str__(self) -> str:
        return f"risk acceptance F-{self.finding_id} until {self.expires_on}"


# The responsibility levels a checklist may be meant for (the agencies' levels are kept by
# training, `AgencyTraining.level`, and reach findings through `selectors.AGENCY_LEVEL`).
RESPONSIBILITY_LEVELS = ("A", "B", "C", "D", "E")


class Checklist(models.Model):
    """The CERT's checklist for one kind of engagement (e.g. a health check of a
    responsibility level A agency): each failed item becomes a manual finding."""

    kind = models.CharField(_("engagement kind"), max_length=20, choices=EngagementKind.choices)
    title = models.CharField(_("title"), max_length=200)
    level = models.CharField(
        _("responsibility level"),
        max_length=5,
        blank=True,
        help_text=_("The agencies' responsibility level it is for; empty: any level."),
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "title"]

    def __str__(self) -> str:
        return self.title


class ChecklistItem(models.Model):
    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="items")
    ref = models.CharField(_("reference"), max_length=30)
    title = models.CharField(_("title"), max_length=300)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    guidance = models.TextField(_("guidance"), blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["checklist", "order", "ref"]
        constraints = [
            models.UniqueConstraint(fields=["checklist", "ref"], name="checklist_item_ref_once")
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"


class ChecklistOutcome(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


class ChecklistResult(models.Model):
    """One checklist item's result in one engagement: pass, fail (then a manual finding)
    or not applicable. Recorded again, the result is replaced."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="checklist_results"
    )
    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="results")
    result = models.CharField(_("result"), max_length=20, choices=ChecklistOutcome.choices)
    note = models.TextField(_("note"), blank=True)
    finding = models.ForeignKey(
        Finding, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now=True)

    objects = ThroughEngagementQuerySet.as_manager()

    class Meta:
        ordering = ["item__order", "item__ref"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "item"], name="checklist_result_once")
        ]

    def __str__(self) -> str:
        return f"E-{self.engagement_id} {self.item_id}: {self.result}"


class StatusChange(models.Model):
    """One change of a finding's status (from, to, when; who, or the import that did it),
    so its status at any past moment is known: the annual report counts the year's
    findings as they stood at the year's end. Written by every service that changes a
    status, in bulk by the imports (`services.record_status_changes`)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    at = models.DateTimeField()
    # The finding's deadline until this change (a reopening sets a new one): the deadline
    # that applied at a moment before it.
    deadline = models.DateTimeField(null=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    scan = models.ForeignKey(ScanImport, on_delete=models.SET_NULL, null=True, related_name="+")

    objects = ThroughFindingQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["finding", "at"], name="status_change_finding_at")]

    def __str__(self) -> str:
        return f"F-{self.finding_id} {self.from_status} -> {self.to_status}"
