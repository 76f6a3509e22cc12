"""Exercises (tabletop and technical, national or international): a scenario, teams per
agency, injects with time offsets from the start and a channel, expectations per inject
scored per team by evaluators, player responses, and an after-action report with lessons
learned and improvement items tracked to closure. Imported by `drills.models`, so the
models belong to the drills app; reads go through the same `AgencyQuerySet` rule: the
CERT sees all, an agency its own team's rows, an authority those of the agencies below
it; a draft exercise is the CERT's alone (docs/drills.md)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, User
from bulwark.core.permissions import Reader

# drills.models imports this module at its end, once AgencyQuerySet exists.
from bulwark.drills.models import AgencyQuerySet


class ExerciseQuerySet(models.QuerySet["Exercise"]):
    def visible_to(self, user: Reader) -> "ExerciseQuerySet":
        """The CERT sees every exercise; an agency or authority those with a team of an
        organisation it manages (its own and those below it), once out of draft."""
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        return (
            self.filter(teams__organisation_id__in=viewer.managed_org_ids)
            .exclude(state=Exercise.State.DRAFT)
            .distinct()
        )


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


class ExerciseTeamQuerySet(AgencyQuerySet["ExerciseTeam"]):
    campaign = "exercise"


class ExerciseTeam(models.Model):
    """One participating agency's team; its players are the agency's users."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="teams")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")

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
        return (
            self.filter(
                teams__organisation_id__in=viewer.managed_org_ids, delivered_at__isnull=False
            )
            .exclude(exercise__state=Exercise.State.DRAFT)
            .distinct()
        )


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


class ExerciseResponseQuerySet(AgencyQuerySet["ExerciseResponse"]):
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


class ExerciseScoreQuerySet(AgencyQuerySet["ExerciseScore"]):
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
