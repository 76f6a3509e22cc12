"""Drills: social-engineering campaigns (templates, recipients, tracked events, results,
improvement plans) and the drills compliance calendar. Every read goes through
`visible_to`: an agency sees its own rows, an authority those of the agencies below it,
the CERT everything (docs/drills.md)."""

from typing import Any, Self, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, User
from bulwark.core.permissions import Reader

_M = TypeVar("_M", bound=models.Model)


class SendingProfile(models.Model):
    """How a campaign's mail leaves: the sender shown, and the SMTP relay (blank: the
    platform's own mail settings). Kept apart from the platform's notices so that a drill
    never borrows the CERT's real sender reputation by accident."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    from_address = models.CharField(_("from"), max_length=200)
    reply_to = models.EmailField(_("reply-to"), blank=True)
    host = models.CharField(_("SMTP host"), max_length=200, blank=True)
    port = models.PositiveIntegerField(_("SMTP port"), default=25)
    use_tls = models.BooleanField(_("STARTTLS"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def visible_to(self, user: Reader) -> "CampaignQuerySet":
        """The CERT sees every campaign; an agency or authority those that include one of
        the organisations it manages (its own and those below it), once launched."""
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        return (
            self.filter(participants__organisation_id__in=viewer.managed_org_ids)
            .exclude(state=Campaign.State.DRAFT)
            .distinct()
        )


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        STOPPED = "stopped", _("Stopped")
        FINISHED = "finished", _("Finished")

    name = models.CharField(_("name"), max_length=200)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default="draft")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Templates, in both languages: each recipient gets their own language.
    subject_en = models.CharField(_("subject (English)"), max_length=200)
    subject_zh_hant = models.CharField(_("subject (Traditional Chinese)"), max_length=200)
    body_en = models.TextField(_("message (English)"), max_length=20000)
    body_zh_hant = models.TextField(_("message (Traditional Chinese)"), max_length=20000)
    landing_en = models.TextField(_("landing page (English)"), max_length=20000, blank=True)
    landing_zh_hant = models.TextField(
        _("landing page (Traditional Chinese)"), max_length=20000, blank=True
    )
    attachment_name = models.CharField(
        _("attachment file name"), max_length=100, blank=True,
        help_text=_("An HTML attachment whose opening is recorded (blank: no attachment)."),
    )  # fmt: skip
    # Where tracking links point and how mail leaves.
    tracking_domain = models.CharField(
        _("tracking domain"), max_length=253,
        help_text=_("The host name in every link of the drill mail (served by this platform)."),
    )  # fmt: skip
    sending_profile = models.ForeignKey(
        SendingProfile, verbose_name=_("sending profile"), on_delete=models.PROTECT
    )
    # The sending window.
    starts_at = models.DateTimeField(_("first day"))
    spread_days = models.PositiveSmallIntegerField(_("working days to spread over"), default=3)
    day_start = models.TimeField(_("business hours from"), default="09:00")
    day_end = models.TimeField(_("business hours until"), default="17:00")
    per_domain_per_hour = models.PositiveIntegerField(
        _("messages per mail domain per hour"), default=60
    )
    # Thresholds: an agency passes when its human rates are under these.
    open_threshold = models.DecimalField(
        _("open rate target (%)"), max_digits=5, decimal_places=2, default=10
    )
    click_threshold = models.DecimalField(
        _("click rate target (%)"), max_digits=5, decimal_places=2, default=6
    )
    launched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    previous = models.ForeignKey(
        "self", verbose_name=_("previous campaign (for comparison)"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    # The drills -> training link (optional, one-way): people classified as human clickers
    # or submitters are enrolled in this course when the training app is installed.
    course_code = models.CharField(
        _("training course for clickers"), max_length=50, blank=True,
        help_text=_("The code of a published course; people who click or submit are enrolled."),
    )  # fmt: skip

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def sending_allowed(self) -> bool:
        return self.state in (self.State.SCHEDULED, self.State.RUNNING)


class AgencyQuerySet(models.QuerySet[_M]):
    """The one read rule of the drills rows that belong to an agency: the CERT sees all, an
    agency its own rows, an authority those of the agencies below it (`agency` names the
    row's organisation); rows of a draft campaign (`campaign`, the path to the row's
    campaign, None for rows without one) are the CERT's alone."""

    agency = "organisation_id"
    campaign: str | None = "campaign"

    def visible_to(self, user: Reader) -> Self:
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        rows = self.filter(**{f"{self.agency}__in": viewer.managed_org_ids})
        if self.campaign:
            rows = rows.exclude(**{f"{self.campaign}__state": Campaign.State.DRAFT})
        return rows


class CampaignAgencyQuerySet(AgencyQuerySet["CampaignAgency"]):
    pass


class RecipientQuerySet(AgencyQuerySet["Recipient"]):
    pass


class ImprovementPlanQuerySet(AgencyQuerySet["ImprovementPlan"]):
    pass


class DrillEventQuerySet(AgencyQuerySet["DrillEvent"]):
    agency = "recipient__organisation_id"
    campaign = "recipient__campaign"


class DrillObligationQuerySet(AgencyQuerySet["DrillObligation"]):
    campaign = None


class DrillNoticeQuerySet(AgencyQuerySet["DrillNotice"]):
    campaign = None


class CampaignAgency(models.Model):
    """An agency taking part in a campaign, with its sending time zone."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="participants")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    time_zone = models.CharField(_("time zone"), max_length=64, default=settings.TIME_ZONE)

    objects = CampaignAgencyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "organisation"], name="participant_once")
        ]

    def __str__(self) -> str:
        return f"{self.organisation} in {self.campaign}"


class Recipient(models.Model):
    class Language(models.TextChoices):
        EN = "en", "English"
        ZH_HANT = "zh-hant", "繁體中文"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    email = models.EmailField(_("e-mail"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    department = models.CharField(_("department"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    token = models.CharField(max_length=64, unique=True)
    send_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    bounced = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    # The person's outcome, rolled up from their events by the tracking services (the
    # results read these, one row per person, not millions of events): when they first
    # did each thing as a person (opened counts a click, attachment or submit too), and
    # how many of their requests were a machine's.
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    automated_events = models.PositiveIntegerField(default=0)

    objects = RecipientQuerySet.as_manager()

    class Meta:
        ordering = ["organisation_id", "email"]
        constraints = [models.UniqueConstraint(fields=["campaign", "email"], name="recipient_once")]
        indexes = [
            models.Index(fields=["campaign", "sent_at", "send_at"], name="drill_due"),
            # The results read only this index (one entry per person, in agency order),
            # never the rows: SQLite and PostgreSQL alike (no INCLUDE on SQLite).
            models.Index(
                fields=[
                    "campaign",
                    "organisation",
                    "sent_at",
                    "bounced",
                    "opened_at",
                    "clicked_at",
                    "submitted_at",
                    "reported_at",
                    "automated_events",
                ],
                name="drill_outcomes",
            ),
            # Repeat clickers: the few people who clicked, by address, over every campaign,
            # and this campaign's clickers: both read from the index alone (no row).
            models.Index(
                fields=["email", "campaign", "organisation"],
                name="drill_clickers",
                condition=Q(clicked_at__isnull=False),
            ),
            models.Index(
                fields=["campaign", "organisation", "email"],
                name="drill_campaign_clickers",
                condition=Q(clicked_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.email


class AgencyOutcomeQuerySet(AgencyQuerySet["AgencyOutcome"]):
    pass


class AgencyOutcome(models.Model):
    """One agency's figures in one campaign, summed from its recipients' outcome columns:
    people, delivered (sent and not bounced), opened, clicked, submitted, reported,
    reported before clicking, automated requests, and its first delivery and first
    report. Kept by triggers on the recipients table (migration 0005), so every writer
    (the tracking services, delivery and bounces, bulk imports, raw SQL) keeps them exact
    in its own transaction; the results page reads one row per agency, not every person."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    people = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    opened = models.IntegerField(default=0)
    clicked = models.IntegerField(default=0)
    submitted = models.IntegerField(default=0)
    reported = models.IntegerField(default=0)
    reported_first = models.IntegerField(default=0)
    automated = models.BigIntegerField(default=0)
    first_sent_at = models.DateTimeField(null=True)
    first_reported_at = models.DateTimeField(null=True)

    objects = AgencyOutcomeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "organisation"], name="agency_outcome_once")
        ]

    def __str__(self) -> str:
        return f"{self.organisation} in {self.campaign}"


class EventKind(models.TextChoices):
    SENT = "sent", _("Sent")
    BOUNCED = "bounced", _("Bounced")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked")
    ATTACHMENT = "attachment", _("Attachment opened")
    SUBMITTED = "submitted", _("Data submitted")
    REPORTED = "reported", _("Reported")
    PAGE = "page", _("Landing page loaded")


class DrillEvent(models.Model):
    """One tracked request or mail outcome, exactly once per request. `automated` holds
    the reason a machine did it ("" for a person); only human events count in rates. No
    request body is ever stored: a submit is a flag."""

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="events")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    at = models.DateTimeField(db_index=True)
    automated = models.CharField(max_length=60, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    agent = models.CharField(max_length=300, blank=True)

    objects = DrillEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["campaign", "kind", "automated"], name="drill_event_rates"),
            models.Index(fields=["recipient", "at"], name="drill_event_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"

    @property
    def human(self) -> bool:
        return not self.automated


class ImprovementPlan(models.Model):
    """Filed by an agency that failed a campaign's threshold, tracked to closure."""

    class State(models.TextChoices):
        REQUIRED = "required", _("Required")
        FILED = "filed", _("Filed")
        ACCEPTED = "accepted", _("Accepted")
        CLOSED = "closed", _("Closed")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="plans")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=20, choices=State.choices, default=State.REQUIRED)
    measures = models.TextField(_("measures"), blank=True, max_length=10000)
    due_at = models.DateTimeField(_("due"))
    filed_at = models.DateTimeField(null=True, blank=True)
    filed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_note = models.TextField(_("closing note"), blank=True, max_length=5000)

    objects = ImprovementPlanQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "organisation"], name="plan_once")
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.campaign}"


class DrillObligation(models.Model):
    """One statutory drill an agency must hold in a period (compliance calendar): due by
    `due_at`, done when held, its results due `results_days` after."""

    class Kind(models.TextChoices):
        SOCIAL_ENGINEERING = "social_engineering", _("Social engineering")
        INCIDENT_RESPONSE = "incident_response", _("Incident-response drill")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("drill"), max_length=30, choices=Kind.choices)
    level = models.CharField(_("responsibility level"), max_length=5)
    period_start = models.DateField(_("period from"))
    due_at = models.DateTimeField(_("due"))
    results_due_days = models.PositiveSmallIntegerField(default=30)
    held_at = models.DateTimeField(_("held"), null=True, blank=True)
    results_at = models.DateTimeField(_("results reported"), null=True, blank=True)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    incident_id = models.PositiveIntegerField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    objects = DrillObligationQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "organisation_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind", "period_start"], name="obligation_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.kind} due {self.due_at:%Y-%m-%d}"


class DrillNotice(models.Model):
    """An incident-response drill: the CERT (or the agency's authority) gives the
    scenario; the agency reports it as a drill incident (`is_drill`) through the real
    incident system, so every statutory clock is measured from the notice on; the
    drill's score is the clocks met."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    scenario = models.TextField(_("scenario"), max_length=5000)
    rsit_class = models.CharField(_("class (RSIT)"), max_length=50)
    rsit_type = models.CharField(_("type (RSIT)"), max_length=60)
    sent_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(_("notice sent"))
    incident = models.OneToOneField(
        "incidents.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    obligation = models.ForeignKey(
        DrillObligation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = DrillNoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.organisation}: drill {self.sent_at:%Y-%m-%d}"


# --- exercises -----------------------------------------------------------------------
# Tabletop and technical exercises, national or international: a scenario, teams per
# agency, injects with time offsets from the start and a channel, expectations per inject
# scored per team by evaluators, player responses, and an after-action report with
# lessons learned and improvement items tracked to closure (code in drills/exercises/).
# Reads follow the same rule: the CERT sees all, an agency its own team's rows, an
# authority those of the agencies below it; a draft exercise is the CERT's alone.


def _evaluated_by(viewer: Any) -> "models.QuerySet[Any]":
    """The exercises (ids) a person outside the CERT was named to evaluate (an outside
    evaluator of an international exercise, e.g. a foreign CERT's staff)."""
    return Exercise.evaluators.through.objects.filter(user_id=viewer.user_id).values("exercise_id")


class ExerciseQuerySet(models.QuerySet["Exercise"]):
    def visible_to(self, user: Reader) -> "ExerciseQuerySet":
        """The CERT sees every exercise; an agency or authority those with a team of an
        organisation it manages (its own and those below it), and an outside evaluator
        those it evaluates, once out of draft."""
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        teams = ExerciseTeam.objects.filter(organisation_id__in=viewer.managed_org_ids)
        return self.filter(
            Q(pk__in=teams.values("exercise_id")) | Q(pk__in=_evaluated_by(viewer))
        ).exclude(state=Exercise.State.DRAFT)


class Exercise(models.Model):
    class Kind(models.TextChoices):
        TABLETOP = "tabletop", _("Tabletop")
        TECHNICAL = "technical", _("Technical")

    class Scope(models.TextChoices):
        NATIONAL = "national", _("National")
        INTERNATIONAL = "international", _("International")

    class Role(models.TextChoices):
        HELD = "held", _("Held by the CERT")
        TOOK_PART = "took_part", _("The CERT took part")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        ENDED = "ended", _("Ended")
        REPORTED = "reported", _("Reported")

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    scope = models.CharField(_("scope"), max_length=20, choices=Scope.choices)
    role = models.CharField(_("the CERT's part"), max_length=20, choices=Role.choices)
    organiser = models.CharField(
        _("organiser"), max_length=200, blank=True,
        help_text=_("Who held it, when the CERT took part (e.g. APCERT, CyberEx)."),
    )  # fmt: skip
    scenario_en = models.TextField(_("scenario (English, Markdown)"), max_length=20000)
    scenario_zh_hant = models.TextField(
        _("scenario (Traditional Chinese, Markdown)"), max_length=20000, blank=True
    )
    planned_start = models.DateTimeField(_("planned start"))
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default="draft")
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported"), null=True, blank=True)
    lessons = models.TextField(_("lessons learned (Markdown)"), max_length=50000, blank=True)
    control_team = models.ManyToManyField(
        User, verbose_name=_("control team"), related_name="+", blank=True
    )
    evaluators = models.ManyToManyField(
        User, verbose_name=_("evaluators"), related_name="+", blank=True
    )
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ExerciseQuerySet.as_manager()

    class Meta:
        ordering = ["-planned_start", "-pk"]

    def __str__(self) -> str:
        return self.title


class ExerciseAgencyQuerySet(AgencyQuerySet[_M]):
    """The agency rule, and an outside evaluator sees the rows of the exercises it
    evaluates (never a draft's)."""

    def visible_to(self, user: Reader) -> Self:
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        assert self.campaign is not None
        return self.filter(
            Q(**{f"{self.agency}__in": viewer.managed_org_ids})
            | Q(**{f"{self.campaign}_id__in": _evaluated_by(viewer)})
        ).exclude(**{f"{self.campaign}__state": Exercise.State.DRAFT})


class ExerciseTeamQuerySet(ExerciseAgencyQuerySet["ExerciseTeam"]):
    campaign = "exercise"


class ExerciseTeam(models.Model):
    """One participating agency's team; its players are the agency's users."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="teams")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    players = models.ManyToManyField(
        User, verbose_name=_("players"), related_name="+", blank=True,
        help_text=_("Who plays for the agency; none named: every member of the agency."),
    )  # fmt: skip

    objects = ExerciseTeamQuerySet.as_manager()

    class Meta:
        ordering = ["exercise_id", "organisation__name"]
        constraints = [
            models.UniqueConstraint(fields=["exercise", "organisation"], name="exercise_team_once")
        ]

    def __str__(self) -> str:
        return f"{self.organisation} in {self.exercise}"


class InjectQuerySet(models.QuerySet["Inject"]):
    def visible_to(self, user: Reader) -> "InjectQuerySet":
        """The CERT sees every inject (due or not); an agency the injects delivered to its
        own team, an authority those delivered to the teams of the agencies below it."""
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        sent = Inject.teams.through.objects
        return self.filter(
            Q(pk__in=sent.filter(exerciseteam_id__in=_teams_played_by(viewer)).values("inject_id"))
            | Q(exercise_id__in=_evaluated_by(viewer)),
            delivered_at__isnull=False,
        ).exclude(exercise__state=Exercise.State.DRAFT)


def _teams_played_by(viewer: Any) -> "models.QuerySet[Any]":
    """The teams (ids) whose injects a person outside the CERT sees: those of the agencies
    below it (an authority), and its own agency's team when the team names no players
    or names it (a member left off the list sees none of the team's injects)."""
    listed = ExerciseTeam.players.through.objects
    mine = ExerciseTeam.objects.filter(organisation_id__in=viewer.own_org_ids).filter(
        ~Q(pk__in=listed.values("exerciseteam_id"))
        | Q(pk__in=listed.filter(user_id=viewer.user_id).values("exerciseteam_id"))
    )
    below = ExerciseTeam.objects.filter(organisation_id__in=viewer.supervised_org_ids)
    return (mine | below).values("pk")


class Inject(models.Model):
    """A message of the scenario, delivered `offset_minutes` after the exercise starts
    (by the control team, or by the periodic task when due) to its teams."""

    class Channel(models.TextChoices):
        IN_APP = "in_app", _("In the platform")
        EMAIL = "email", _("E-mail and in the platform")

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="injects")
    title = models.CharField(_("title"), max_length=200)
    body_en = models.TextField(_("message (English, Markdown)"), max_length=20000)
    body_zh_hant = models.TextField(
        _("message (Traditional Chinese, Markdown)"), max_length=20000, blank=True
    )
    offset_minutes = models.PositiveIntegerField(_("minutes after the start"))
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.IN_APP
    )
    teams = models.ManyToManyField(ExerciseTeam, verbose_name=_("teams"), related_name="injects")
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    delivered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = InjectQuerySet.as_manager()

    class Meta:
        ordering = ["exercise_id", "offset_minutes", "pk"]

    def __str__(self) -> str:
        return f"+{self.offset_minutes} min {self.title}"


class Expectation(models.Model):
    """What a team is expected to do on an inject: a manual response (the players
    answer), or a detection or prevention the evaluator confirms. Scored per team."""

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Manual response")
        DETECTION = "detection", _("Detection")
        PREVENTION = "prevention", _("Prevention")

    inject = models.ForeignKey(Inject, on_delete=models.CASCADE, related_name="expectations")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    description = models.CharField(_("expectation"), max_length=500)
    points = models.PositiveSmallIntegerField(_("points"), default=100)

    class Meta:
        ordering = ["inject_id", "pk"]

    def __str__(self) -> str:
        return self.description


class ExerciseResponseQuerySet(ExerciseAgencyQuerySet["ExerciseResponse"]):
    agency = "team__organisation_id"
    campaign = "team__exercise"


class ExerciseResponse(models.Model):
    """A team's answer to one expectation (the latest replaces the earlier)."""

    expectation = models.ForeignKey(Expectation, on_delete=models.CASCADE, related_name="responses")
    team = models.ForeignKey(ExerciseTeam, on_delete=models.CASCADE, related_name="responses")
    text = models.TextField(_("response"), max_length=10000)
    submitted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()

    objects = ExerciseResponseQuerySet.as_manager()

    class Meta:
        ordering = ["submitted_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["expectation", "team"], name="exercise_response_once")
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.expectation}"


class ExerciseScoreQuerySet(ExerciseAgencyQuerySet["ExerciseScore"]):
    agency = "team__organisation_id"
    campaign = "team__exercise"


class ExerciseScore(models.Model):
    """An evaluator's score of one expectation for one team (0 to its points)."""

    expectation = models.ForeignKey(Expectation, on_delete=models.CASCADE, related_name="scores")
    team = models.ForeignKey(ExerciseTeam, on_delete=models.CASCADE, related_name="scores")
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), max_length=5000, blank=True)
    evaluator = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    scored_at = models.DateTimeField()

    objects = ExerciseScoreQuerySet.as_manager()

    class Meta:
        ordering = ["scored_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["expectation", "team"], name="exercise_score_once")
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.score}"


class ImprovementItemQuerySet(AgencyQuerySet["ImprovementItem"]):
    campaign = "exercise"


class ImprovementItem(models.Model):
    """An improvement an agency owes after an exercise, tracked to closure."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    exercise = models.ForeignKey(
        Exercise, on_delete=models.CASCADE, related_name="improvement_items"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("improvement"), max_length=300)
    owner = models.ForeignKey(
        User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    due_on = models.DateField(_("due"))
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default="open")
    note = models.TextField(_("progress note"), max_length=5000, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ImprovementItemQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.title}"
