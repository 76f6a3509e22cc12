"""What the statistics app stores itself: the annual report's narrative text blocks and who
receives the scheduled summaries. The figures are never stored here: they are counted live
from the other apps' tables, through each table's `visible_to`."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.core.permissions import Reader

# The source report's own structure (../shared/seeds): the narrative sections, in order.
SECTIONS = (
    ("highlights", _("Highlights")),
    ("about", _("About us")),
    ("operations", _("Activities and operations")),
    ("events", _("Events organised and hosted")),
    ("international", _("International collaboration")),
    ("future", _("Future plans")),
)
LANGUAGES = (("en", "English"), ("zh-hant", "繁體中文"))


class TextBlockQuerySet(models.QuerySet["TextBlock"]):
    def visible_to(self, user: Reader) -> "TextBlockQuerySet":
        """The narrative is written for publication: everyone signed in reads it with the
        report; only CERT staff edit it (checked by the editing view)."""
        return self if viewer_of(user).authenticated else self.none()


class TextBlock(models.Model):
    """One narrative section of one year's annual report, in one language (Markdown)."""

    year = models.PositiveSmallIntegerField(_("year"))
    language = models.CharField(_("language"), max_length=10, choices=LANGUAGES)
    section = models.CharField(_("section"), max_length=20, choices=SECTIONS)
    body = models.TextField(_("text (Markdown)"), max_length=50_000, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TextBlockQuerySet.as_manager()

    class Meta:
        ordering = ["year", "language", "section"]
        constraints = [
            models.UniqueConstraint(
                fields=["year", "language", "section"], name="analytics_textblock_unique"
            )
        ]
        verbose_name = _("report text block")
        verbose_name_plural = _("report text blocks")

    def __str__(self) -> str:
        return f"{self.year} {self.language} {self.section}"


class Cadence(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")


class SubscriptionQuerySet(models.QuerySet["Subscription"]):
    def visible_to(self, user: Reader) -> "SubscriptionQuerySet":
        """CERT staff manage every subscription; anyone else sees their own."""
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if viewer.user_id is None:  # not signed in
            return self.none()
        return self.filter(user_id=viewer.user_id)


class Subscription(models.Model):
    """A person who receives the scheduled summary e-mail; each summary is computed as that
    person sees the data, so it never shows more than their own pages would."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stats_subscriptions"
    )
    cadence = models.CharField(_("cadence"), max_length=10, choices=Cadence.choices)
    language = models.CharField(_("language"), max_length=10, choices=LANGUAGES, default="en")
    active = models.BooleanField(_("active"), default=True)
    last_period = models.CharField(_("last period sent"), max_length=20, blank=True)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["user_id", "cadence"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "cadence"], name="analytics_subscription_unique"
            )
        ]
        verbose_name = _("summary subscription")
        verbose_name_plural = _("summary subscriptions")

    def __str__(self) -> str:
        return f"{self.user} {self.cadence}"


class SnapshotQuerySet(models.QuerySet["Snapshot"]):
    def visible_to(self, user: Reader) -> "SnapshotQuerySet":
        """A snapshot is a figure as one scope sees it: the CERT's shared scope for CERT
        staff, a person's own scope for anyone else. Nobody reads another scope's."""
        viewer = viewer_of(user)
        if not viewer.authenticated:
            return self.none()
        # The person's scope as their memberships stand now (see snapshots.personal_scope).
        scopes = [f"user:{viewer.user_id}:{viewer.fingerprint}"]
        if viewer.sees_everything:
            scopes.append("cert")
        return self.filter(scope__in=scopes)


class Snapshot(models.Model):
    """A figure counted for one scope, period and language: the materialised summary the
    pages and the API read while it is fresh (a task keeps the CERT's common periods
    fresh; anything else is counted on first request and kept for a few minutes)."""

    scope = models.CharField(max_length=40)
    key = models.CharField(max_length=60)
    period = models.CharField(max_length=30)  # first..last (local days)
    drills = models.BooleanField(default=False)
    language = models.CharField(max_length=10)
    figure = models.JSONField()
    computed_at = models.DateTimeField()
    took_ms = models.PositiveIntegerField(default=0)

    objects = SnapshotQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key", "period", "drills", "language"],
                name="analytics_snapshot_unique",
            )
        ]
        indexes = [models.Index(fields=["computed_at"], name="analytics_snapshot_age")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} {self.period}"


class ReportJobQuerySet(models.QuerySet["ReportJob"]):
    def visible_to(self, user: Reader) -> "ReportJobQuerySet":
        """Your own: the PDF is counted as its requester sees the data."""
        viewer = viewer_of(user)
        if viewer.user_id is None:  # not signed in
            return self.none()
        return self.filter(user_id=viewer.user_id)


class ReportJob(models.Model):
    """One generation of the annual report's PDF, made by the task worker while its page
    shows the progress (a PDF takes seconds: too long to hold a request open)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for the worker")
        RUNNING = "running", _("Being generated")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    uuid = models.UUIDField(unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField(_("year"))
    language = models.CharField(_("language"), max_length=10, choices=LANGUAGES)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    created_at = models.DateTimeField(_("asked"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    pdf = models.BinaryField(default=b"", editable=False)
    error = models.CharField(max_length=300, blank=True)

    objects = ReportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "year", "language", "status"])]

    def __str__(self) -> str:
        return f"annual report {self.year} {self.language} ({self.status})"
