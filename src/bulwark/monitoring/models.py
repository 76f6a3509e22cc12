"""Monitoring records: hourly sightings of indicators in an agency's logs, the rules that
raise alerts, the alerts the CERT triages, and per-agency false-positive suppressions."""

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation
from bulwark.core.permissions import Reader


class AgencyScopedQuerySet(models.QuerySet[Any]):
    def visible_to(self, user: Reader) -> "AgencyScopedQuerySet":
        """CERT staff see every agency's; an agency's members see their own; nobody else
        sees any (the one place this rule lives: pages, API, counts use it)."""
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated or not viewer.own_org_ids:
            return self.none()
        return self.filter(organisation_id__in=viewer.own_org_ids)


class LogSighting(models.Model):
    """Hits of one indicator value in one agency's logs during one hour (not a STIX
    sighting shared as intelligence: that is `intel.Sighting`)."""

    # Its name until session 29: audit entries written before keep this label, and the
    # audit log's visibility rule reads them as this model's (core.models.audited_models).
    audit_former_labels: ClassVar[tuple[str, ...]] = ("monitoring.sighting",)

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    indicator_type = models.CharField(_("type"), max_length=10)
    indicator = models.CharField(_("indicator"), max_length=2048)
    indicator_ref = models.CharField(_("indicator id"), max_length=100, blank=True)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    hour = models.DateTimeField(_("hour"))
    count = models.PositiveIntegerField(_("count"), default=0)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    last_field = models.CharField(_("field"), max_length=100, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-hour", "indicator"]
        verbose_name = _("sighting")
        verbose_name_plural = _("sightings")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "indicator_type", "indicator", "hour"],
                name="one_sighting_per_indicator_agency_hour",
            )
        ]

    def __str__(self) -> str:
        return f"{self.indicator} x{self.count} @ {self.hour:%Y-%m-%d %H}h"


class AlertRule(models.Model):
    """Sightings that satisfy a rule raise an alert (empty criteria match anything)."""

    name = models.CharField(_("name"), max_length=200)
    min_score = models.PositiveSmallIntegerField(_("minimum score"), null=True, blank=True)
    indicator_types = models.CharField(
        _("indicator types"), max_length=200, blank=True, help_text=_("comma-separated")
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def matches(self, sighting: LogSighting) -> bool:
        types = {t.strip() for t in self.indicator_types.split(",") if t.strip()}
        if types and sighting.indicator_type not in types:
            return False
        if self.organisation_id is not None and self.organisation_id != sighting.organisation_id:
            return False
        if self.min_score is not None:
            # An indicator without a score (e.g. one reported with an incident) counts as
            # certain: the CERT put it there on purpose.
            return sighting.score is None or sighting.score >= self.min_score
        return True


class Alert(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("new")
        PROMOTED = "promoted", _("promoted to an incident")
        FALSE_POSITIVE = "false_positive", _("false positive")
        DISMISSED = "dismissed", _("dismissed")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    indicator_type = models.CharField(_("type"), max_length=10)
    indicator = models.CharField(_("indicator"), max_length=2048)
    indicator_ref = models.CharField(_("indicator id"), max_length=100, blank=True)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    rule = models.ForeignKey(AlertRule, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(_("status"), max_length=20, choices=Status, default=Status.NEW)
    count = models.PositiveIntegerField(_("hits"), default=0)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    triaged_at = models.DateTimeField(_("triaged at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Behavioural alerts (issue 25): indicator_type "behaviour", indicator
    # "<detector>:<destination>" (what a false-positive mark suppresses), the detector and
    # its evidence (figures, interval histogram, timeline, raw line references).
    detector = models.CharField(_("detector"), max_length=40, blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]
        indexes = [models.Index(fields=["organisation", "indicator_type", "indicator", "status"])]

    def __str__(self) -> str:
        return f"{self.indicator} ({self.organisation})"


class Suppression(models.Model):
    """An indicator marked as a false positive for one agency: no more alerts there."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    indicator_type = models.CharField(_("type"), max_length=10)
    indicator = models.CharField(_("indicator"), max_length=2048)
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "indicator_type", "indicator"], name="one_suppression"
            )
        ]

    def __str__(self) -> str:
        return f"{self.indicator} suppressed for {self.organisation}"


class ProcessedBatch(models.Model):
    """A log batch whose hits are stored: written in the same transaction as the
    sightings, so a batch redelivered after a worker died is acknowledged, not counted
    twice (exactly-once into the sightings on top of at-least-once delivery)."""

    key = models.CharField(max_length=300, unique=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    lines = models.PositiveIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class DetectionRun(models.Model):
    """One run of the behavioural detectors over the archived logs' rolling window: when,
    over how many records, and what it found (the periodic task runs when the last is
    older than BULWARK_BEHAVIOUR_INTERVAL)."""

    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    window_hours = models.PositiveIntegerField(_("window (hours)"), default=24)
    records = models.PositiveIntegerField(_("records"), default=0)
    findings = models.PositiveIntegerField(_("findings"), default=0)
    alerts = models.PositiveIntegerField(_("alerts raised"), default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"detection run {self.started_at:%Y-%m-%d %H:%M}"


class FirstSeen(models.Model):
    """When a TLS fingerprint, certificate issuer or destination name was first seen in
    any agency's logs: the national history the rare detector's "new" reads."""

    kind = models.CharField(_("kind"), max_length=20)
    value = models.CharField(_("value"), max_length=500)
    first_seen = models.DateTimeField(_("first seen"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="one_first_seen")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
