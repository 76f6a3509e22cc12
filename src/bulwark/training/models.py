"""Training: courses with bilingual lessons, exams drawn from question banks, learners
(light accounts per agency, not platform users), their hours records, certificates, and
competitions.

Who reads what (docs/training.md): platform staff read through `visible_to(user)` (an
agency its own learners and their records, an authority those of the agencies below it,
the CERT everything); a learner is never a platform user and reads only through the
`for_learner(learner)` querysets, which hold their own rows.
"""

import secrets
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, User
from bulwark.core.permissions import Reader


def _managed(user: Reader) -> tuple[bool, frozenset[int]]:
    viewer = viewer_of(user)
    return viewer.sees_everything, viewer.managed_org_ids


class HoursKind(models.TextChoices):
    GENERAL = "general", _("General")
    PROFESSIONAL = "professional", _("Professional")


class TrainingRole(models.TextChoices):
    """The statutory role a learner holds (the profiles' role keys)."""

    SECURITY_STAFF = "security_staff", _("Dedicated security staff")
    IT_STAFF = "it_staff", _("Other IT staff")
    GENERAL = "general", _("Other users")
    SUPERVISOR = "supervisor", _("Supervisors")


class ResponsibilityLevel(models.TextChoices):
    A = "A", _("Level A")
    B = "B", _("Level B")
    C = "C", _("Level C")
    D = "D", _("Level D")
    E = "E", _("Level E")


def bilingual(en: str, zh: str) -> str:
    """The text in the reader's language, the English one when there is no translation."""
    lang = get_language() or "en"
    return zh if lang.lower().startswith("zh") and zh else en


class AgencyTrainingQuerySet(models.QuerySet["AgencyTraining"]):
    def visible_to(self, user: Reader) -> "AgencyTrainingQuerySet":
        everything, orgs = _managed(user)
        return self if everything else self.filter(organisation_id__in=orgs)


class AgencyTraining(models.Model):
    """An agency's responsibility level and jurisdiction profile, which decide its staff's
    statutory hours (an agency without this row is level B under the default profile)."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="training_settings"
    )
    level = models.CharField(
        _("responsibility level"), max_length=1, choices=ResponsibilityLevel.choices, default="B"
    )
    profile = models.CharField(_("jurisdiction profile"), max_length=20, default="tw")

    objects = AgencyTrainingQuerySet.as_manager()

    class Meta:
        verbose_name = _("agency training settings")

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.level}"


class LearnerQuerySet(models.QuerySet["Learner"]):
    def visible_to(self, user: Reader) -> "LearnerQuerySet":
        """The CERT all learners; an agency its own; an authority those of its agencies."""
        everything, orgs = _managed(user)
        return self if everything else self.filter(organisation_id__in=orgs)


class Learner(models.Model):
    """A member of an agency's staff who takes training: not a platform user. Signs in on
    the learner pages only (password or one-time link) and reaches nothing else."""

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="learners"
    )
    staff_id = models.CharField(_("staff number"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("statutory role"), max_length=20, choices=TrainingRole.choices)
    unit = models.CharField(_("unit"), max_length=200, blank=True)
    preferred_language = models.CharField(_("language"), max_length=10, default="zh-hant")
    password = models.CharField(max_length=128, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    last_login = models.DateTimeField(_("last sign-in"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # The identity the agency's identity provider vouched for at the learner's first single
    # sign-on (issuer and subject): later sign-ins must carry the same one, so an address
    # the provider hands to someone else does not sign the new holder in. Cleared when the
    # agency changes the learner's e-mail address.
    sso_issuer = models.CharField(max_length=500, blank=True, default="")
    sso_subject = models.CharField(max_length=255, blank=True, default="")

    objects = LearnerQuerySet.as_manager()

    class Meta:
        ordering = ["organisation", "name"]
        verbose_name = _("learner")
        verbose_name_plural = _("learners")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "staff_id"], name="unique_staff_id"),
            models.UniqueConstraint(fields=["email"], name="unique_learner_email"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.staff_id})"

    def set_password(self, raw: str | None) -> None:
        self.password = make_password(raw) if raw else ""

    def check_password(self, raw: str) -> bool:
        return bool(self.password) and check_password(raw, self.password)


class LearnerGroupQuerySet(models.QuerySet["LearnerGroup"]):
    def visible_to(self, user: Reader) -> "LearnerGroupQuerySet":
        everything, orgs = _managed(user)
        return self if everything else self.filter(organisation_id__in=orgs)


class LearnerGroup(models.Model):
    """A named set of an agency's learners, for enrolment (a unit, a project team)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="learner_groups"
    )
    name = models.CharField(_("name"), max_length=100)
    learners = models.ManyToManyField(Learner, related_name="groups", blank=True)

    objects = LearnerGroupQuerySet.as_manager()

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="unique_group_name")
        ]

    def __str__(self) -> str:
        return self.name


class SignInLink(models.Model):
    """A one-time sign-in link for a learner: only the digest of its secret is kept."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"link for learner {self.learner_id}"


class CourseStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class CourseQuerySet(models.QuerySet["Course"]):
    def visible_to(self, user: Reader) -> "CourseQuerySet":
        """Published courses to every member of the constituency (agencies enrol their
        staff from the catalogue); drafts to their owner's managers and the CERT."""
        viewer = viewer_of(user)
        if viewer.sees_everything:
            return self
        if not viewer.authenticated:
            return self.none()
        return self.filter(
            models.Q(status=CourseStatus.PUBLISHED) | models.Q(owner_id__in=viewer.managed_org_ids)
        )

    def for_learner(self, learner: "Learner") -> "CourseQuerySet":
        return self.filter(
            enrolments__learner=learner,
            enrolments__withdrawn_at__isnull=True,
            status=CourseStatus.PUBLISHED,
        )


class Course(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    owner = models.ForeignKey(
        Organisation, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="courses"
    )
    title = models.CharField(_("title"), max_length=200)
    title_zh_hant = models.CharField(_("title (Traditional Chinese)"), max_length=200, blank=True)
    summary = models.TextField(_("summary"), blank=True, max_length=2000)
    summary_zh_hant = models.TextField(
        _("summary (Traditional Chinese)"), blank=True, max_length=2000
    )
    hours = models.DecimalField(_("hours credited"), max_digits=5, decimal_places=1)
    hours_kind = models.CharField(_("kind of hours"), max_length=20, choices=HoursKind.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=CourseStatus.choices, default=CourseStatus.DRAFT
    )
    prerequisites = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="leads_to"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("course")
        verbose_name_plural = _("courses")

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return bilingual(self.title, self.title_zh_hant)

    @property
    def display_summary(self) -> str:
        return bilingual(self.summary, self.summary_zh_hant)


class Lesson(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=200)
    title_zh_hant = models.CharField(_("title (Traditional Chinese)"), max_length=200, blank=True)
    body = models.TextField(_("text (Markdown)"), blank=True, max_length=100_000)
    body_zh_hant = models.TextField(
        _("text (Markdown, Traditional Chinese)"), blank=True, max_length=100_000
    )
    video_url = models.URLField(_("video link"), blank=True)
    attachment = models.FileField(_("file"), upload_to="training/lessons/", blank=True)
    # A retired lesson is kept (learners' progress refers to it) but no longer shown to
    # learners nor counted for a course's completion.
    is_active = models.BooleanField(_("shown to learners"), default=True)

    class Meta:
        ordering = ["course", "position", "pk"]

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return bilingual(self.title, self.title_zh_hant)

    @property
    def display_body(self) -> str:
        return bilingual(self.body, self.body_zh_hant)


class EnrolmentQuerySet(models.QuerySet["Enrolment"]):
    def visible_to(self, user: Reader) -> "EnrolmentQuerySet":
        everything, orgs = _managed(user)
        return self if everything else self.filter(learner__organisation_id__in=orgs)


class Enrolment(models.Model):
    class Source(models.TextChoices):
        LEARNER = "learner", _("Individual")
        ROLE = "role", _("By role")
        GROUP = "group", _("By group")
        AGENCY = "agency", _("Whole agency")
        HOOK = "hook", _("Automatic (another app)")

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="enrolments")
    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="enrolments")
    source = models.CharField(_("enrolled"), max_length=20, choices=Source.choices)
    enrolled_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("enrolled at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # Withdrawn by the agency: the learner no longer sees the course; the row stays, with
    # the lessons read, attempts, records and certificates that refer to it. Enrolling
    # the learner again clears it.
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = EnrolmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["course", "learner"], name="unique_enrolment")
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} in {self.course_id}"


class LessonProgress(models.Model):
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="progress")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="+")
    completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "lesson"], name="unique_lesson_progress")
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.lesson_id}"


class Exam(models.Model):
    """A course's exam: each attempt draws `questions_per_attempt` questions of the bank."""

    course = models.OneToOneField(Course, on_delete=models.CASCADE, related_name="exam")
    questions_per_attempt = models.PositiveSmallIntegerField(_("questions per attempt"))
    pass_mark = models.PositiveSmallIntegerField(_("pass mark (%)"), default=70)
    time_limit_minutes = models.PositiveSmallIntegerField(
        _("time limit (minutes)"), default=30, help_text=_("0: no limit")
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("attempts allowed"), default=3, help_text=_("0: no limit")
    )
    retake_wait_hours = models.PositiveSmallIntegerField(_("hours between attempts"), default=0)

    def __str__(self) -> str:
        return str(self.course)


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    TRUE_FALSE = "true_false", _("True / false")


class Question(models.Model):
    """A question of an exam's bank. `options` is a list of
    {"id", "text", "text_zh_hant", "correct"}; option ids never change once an attempt
    has drawn the question (answers refer to them)."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="questions")
    kind = models.CharField(_("kind"), max_length=20, choices=QuestionKind.choices)
    text = models.TextField(_("question"), max_length=5000)
    text_zh_hant = models.TextField(_("question (Traditional Chinese)"), blank=True)
    options = models.JSONField(_("options"), default=list)
    is_active = models.BooleanField(_("in the bank"), default=True)
    # The question this one revised: a drawn question whose options or right answers
    # change is retired and replaced by a new version, so past attempts keep scoring
    # against what they were shown (`services.update_question`).
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("revises"),
    )  # fmt: skip

    class Meta:
        ordering = ["exam", "pk"]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def display_text(self) -> str:
        return bilingual(self.text, self.text_zh_hant)


class AttemptQuerySet(models.QuerySet["Attempt"]):
    def visible_to(self, user: Reader) -> "AttemptQuerySet":
        everything, orgs = _managed(user)
        return self if everything else self.filter(learner__organisation_id__in=orgs)


class Attempt(models.Model):
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="attempts")
    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    seed = models.BigIntegerField()
    # [[question id, [option ids in the order shown]], ...] as drawn at the start.
    drawn = models.JSONField(default=list)
    started_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    right = models.PositiveSmallIntegerField(null=True, blank=True)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    passed = models.BooleanField(default=False)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["exam", "learner", "number"], name="unique_attempt")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of learner {self.learner_id}"

    @property
    def question_ids(self) -> list[int]:
        return [int(row[0]) for row in self.drawn]


class Answer(models.Model):
    """The latest answer to one question of an attempt. A save carries the client's
    revision number: a repeated or late-arriving older save changes nothing."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    chosen = models.JSONField(default=list)
    revision = models.PositiveIntegerField(default=0)
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["attempt", "question"], name="unique_answer")
        ]

    def __str__(self) -> str:
        return f"{self.attempt_id}/{self.question_id}"


def new_certificate_code() -> str:
    return secrets.token_urlsafe(12)


class CertificateQuerySet(models.QuerySet["Certificate"]):
    def visible_to(self, user: Reader) -> "CertificateQuerySet":
        everything, orgs = _managed(user)
        if everything:
            return self
        return self.filter(
            models.Q(learner__organisation_id__in=orgs)
            | models.Q(participant__organisation_id__in=orgs)
        )


class Certificate(models.Model):
    """Issued when a learner passes a course's exam (or places in a competition); anyone
    holding the verification URL can check it, which shows only what the PDF shows."""

    code = models.CharField(max_length=32, unique=True, default=new_certificate_code)
    learner = models.ForeignKey(
        Learner, on_delete=models.CASCADE, null=True, blank=True, related_name="certificates"
    )
    participant = models.ForeignKey(
        "Participant", on_delete=models.CASCADE, null=True, blank=True, related_name="certificates"
    )
    course = models.ForeignKey(Course, on_delete=models.PROTECT, null=True, related_name="+")
    attempt = models.OneToOneField(Attempt, on_delete=models.PROTECT, null=True, related_name="+")
    holder_name = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    title_zh_hant = models.CharField(max_length=200, blank=True)
    hours = models.DecimalField(max_digits=5, decimal_places=1, default=Decimal(0))
    hours_kind = models.CharField(max_length=20, choices=HoursKind.choices, blank=True)
    issued_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"{self.title} ({self.holder_name})"


class RecordSource(models.TextChoices):
    COURSE = "course", _("Course on this platform")
    IMPORT = "import", _("Imported (CSV)")
    XAPI = "xapi", _("Imported (xAPI)")
    MANUAL = "manual", _("Entered by the agency")


class TrainingRecordQuerySet(models.QuerySet["TrainingRecord"]):
    def visible_to(self, user: Reader) -> "TrainingRecordQuerySet":
        everything, orgs = _managed(user)
        return self if everything else self.filter(organisation_id__in=orgs)


class TrainingRecord(models.Model):
    """Hours a learner completed on a date: from a course passed here, an imported record
    of another portal, or an xAPI statement. `organisation` repeats the learner's agency
    so the compliance views group without a join."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="records")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    completed_on = models.DateField(_("completed on"))
    year = models.PositiveSmallIntegerField(db_index=True)
    hours = models.DecimalField(_("hours"), max_digits=5, decimal_places=1)
    kind = models.CharField(_("kind of hours"), max_length=20, choices=HoursKind.choices)
    title = models.CharField(_("title"), max_length=300)
    provider = models.CharField(_("provider"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=RecordSource.choices)
    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.SET_NULL)
    # The record's id at its source (a portal's row id, an xAPI statement id): importing
    # the same file or statement again adds nothing.
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TrainingRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-completed_on", "-pk"]
        indexes = [models.Index(fields=["organisation", "year"], name="training_rec_org_year")]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="unique_external_record",
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.hours} h {self.kind})"


class PortalMappingQuerySet(models.QuerySet["PortalMapping"]):
    def visible_to(self, user: Reader) -> "PortalMappingQuerySet":
        """The CERT all mappings; an agency's admins their agency's; nobody else any."""
        everything, orgs = _managed(user)
        return self if everything else self.filter(organisation_id__in=orgs)


class PortalMapping(models.Model):
    """An agency's saved CSV column mapping for one e-learning portal's export, chosen on
    the records import page (`services.RecordMapping` is built from it)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="training_mappings"
    )
    name = models.CharField(_("portal"), max_length=100)
    email = models.CharField(_("e-mail column"), max_length=100, blank=True)
    staff_id = models.CharField(_("staff number column"), max_length=100, blank=True)
    title = models.CharField(_("title column"), max_length=100)
    date = models.CharField(_("date column"), max_length=100)
    hours = models.CharField(_("hours column"), max_length=100)
    kind = models.CharField(_("kind column"), max_length=100)
    provider = models.CharField(_("provider column"), max_length=100, blank=True)
    record_id = models.CharField(_("record id column"), max_length=100, blank=True)
    professional = models.CharField(
        _("values meaning professional"), max_length=300, default="professional;專業"
    )
    general = models.CharField(
        _("values meaning general"), max_length=300, default="general;通識;一般"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = PortalMappingQuerySet.as_manager()

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="unique_portal_mapping")
        ]

    def __str__(self) -> str:
        return self.name


class HoursTotal(models.Model):
    """A learner's hours per year and kind, kept by the services in the same transaction
    as every record written, so the compliance views read one row per learner and kind
    instead of summing a million records (issue 24's 300 ms budget)."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="totals")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=HoursKind.choices)
    hours = models.DecimalField(max_digits=7, decimal_places=1, default=Decimal(0))

    class Meta:
        indexes = [models.Index(fields=["organisation", "year"], name="training_tot_org_year")]
        constraints = [
            models.UniqueConstraint(fields=["learner", "year", "kind"], name="unique_hours_total")
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} {self.year} {self.kind}: {self.hours}"


# --- Competitions -------------------------------------------------------------------------------


class Category(models.TextChoices):
    SCHOOL = "school", _("School")
    AGENCY = "agency", _("Agency")
    PUBLIC = "public", _("Public")


class CompetitionQuerySet(models.QuerySet["Competition"]):
    def visible_to(self, user: Reader) -> "CompetitionQuerySet":
        """Every signed-in member sees the events (they are announced publicly anyway)."""
        return self if viewer_of(user).authenticated else self.none()


class Competition(models.Model):
    """A competition or awareness event. Its challenges run on CTFd; the results come
    back from CTFd's export (`engine/ctfd.py`)."""

    slug = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=200, blank=True)
    organiser = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    team_mode = models.BooleanField(_("teams"), default=False)
    registration_open = models.BooleanField(_("registration open"), default=False)
    ctfd_url = models.URLField(_("CTFd address"), blank=True)
    results_imported_at = models.DateTimeField(null=True, blank=True)

    objects = CompetitionQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return bilingual(self.name, self.name_zh_hant)


class OrgOwnedQuerySet(models.QuerySet[Any]):
    """Rows of a competition: the CERT sees all; an agency those of its own people."""

    def visible_to(self, user: Reader) -> "OrgOwnedQuerySet":
        everything, orgs = _managed(user)
        return self if everything else self.filter(organisation_id__in=orgs)


class CompetitionTeam(models.Model):
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("team"), max_length=128)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    school = models.CharField(_("school"), max_length=200, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)

    objects = OrgOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["competition", "name"], name="unique_team_name")
        ]

    def __str__(self) -> str:
        return self.name


class Participant(models.Model):
    competition = models.ForeignKey(
        Competition, on_delete=models.CASCADE, related_name="participants"
    )
    team = models.ForeignKey(
        CompetitionTeam, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail address"))
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    school = models.CharField(_("school"), max_length=200, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    registered_at = models.DateTimeField(default=timezone.now)

    objects = OrgOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["competition", "email"], name="unique_participant")
        ]

    def __str__(self) -> str:
        return self.name


class CompetitionResult(models.Model):
    """One place on the final scoreboard, from CTFd: a participant's, or a team's."""

    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="results")
    participant = models.ForeignKey(Participant, null=True, blank=True, on_delete=models.CASCADE)
    team = models.ForeignKey(CompetitionTeam, null=True, blank=True, on_delete=models.CASCADE)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    ctfd_id = models.PositiveIntegerField()
    rank = models.PositiveIntegerField()
    score = models.IntegerField()
    solves = models.PositiveIntegerField(default=0)

    objects = OrgOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["competition", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["competition", "ctfd_id"], name="unique_ctfd_result")
        ]

    def __str__(self) -> str:
        return f"{self.rank}. {self.name}"
