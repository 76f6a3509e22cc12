"""The append-only, hash-chained audit log.

Every entry's `hash` is an HMAC (keyed with settings.AUDIT_CHAIN_KEY) over the previous
entry's hash and this entry's canonical content, so altering, deleting or inserting a row
out of band breaks the chain, and nobody who can only write the database can re-chain it.
`AuditHead` remembers the last sequence number and hash, so cutting entries off the end
is detected as well. Writes go through `bulwark.core.audit.record` only.
"""

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.db.models import Exists, OuterRef
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry
from bulwark.core.permissions import Reader


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def visible_to(self, user: Reader) -> "AuditEntryQuerySet":
        """Platform admins read the whole log; organisation admins read the entries about
        their own organisations; nobody else reads it. On top of that, an entry about an
        object whose model has its own `visible_to` (an incident, evidence, intelligence,
        an advisory, ...) is read only by those who may read that object, so a TLP:RED
        incident's title does not reach its organisation's admin through the log."""
        reader = registry.AUDIT_READER.call(user)
        if reader.everything:
            entries = self
        else:
            if not reader.organisations:
                return self.none()
            entries = self.filter(organisation_id__in=sorted(reader.organisations))
        return entries.alias(audit_object_pk=NUMERIC_OBJECT_ID).filter(
            subject_visibility_q(user, reader)
        )


# Models whose objects are visible wherever their organisation's audit entries are: the
# organisation rule above already decides for them, and their rows may be deleted
# (claims, contacts, memberships, tokens) while their entries must stay readable.
ORGANISATION_RULE_SUFFICES = frozenset({"constituency", "core"})
# Fields besides the primary key that entries use as `object_id` (TAXII deletes name the
# STIX id).
OTHER_OBJECT_KEYS = {"intel.stixobject": ("stix_id",)}


def audit_labels(model: type[models.Model]) -> tuple[str, ...]:
    """The object types a model's audit entries carry: its label (`app.model`, as
    `audit.record` writes it), then the labels it had before a rename. The chained log is
    never rewritten, so a renamed model lists its former labels in `audit_former_labels`
    and its old entries stay under the same visibility rule (no leak, no loss)."""
    former = tuple(getattr(model, "audit_former_labels", ()))
    return (model._meta.label_lower, *former)


def audited_models() -> dict[str, type[models.Model]]:
    """Object type (`app.model`, current or former label) -> model, for every model with
    its own `visible_to` outside the constituency."""

    found = {}
    for model in apps.get_models():
        if model._meta.app_label in ORGANISATION_RULE_SUFFICES:
            continue
        if hasattr(model._default_manager, "visible_to"):
            for label in audit_labels(model):
                found[label] = model
    return found


def object_type_labels(object_type: str) -> list[str]:
    """An object type as searched in the log: with a renamed model's former labels (or
    its current one, given a former), so a filter finds entries from before the rename."""
    from django.apps import apps

    for model in apps.get_models():
        labels = audit_labels(model)
        if object_type in labels:
            return list(labels)
    return [object_type]


# `object_id` as the primary key it names, or NULL when it is not one number (a STIX id,
# a list of ids): a CASE, so PostgreSQL never tries a cast that fails.
NUMERIC_OBJECT_ID = models.Case(
    models.When(
        object_id__regex=r"^[0-9]{1,18}$",
        then=Cast("object_id", models.BigIntegerField()),
    ),
    default=None,
    output_field=models.BigIntegerField(),
)


def subject_visibility_q(user: Reader, reader: registry.AuditReader | None = None) -> models.Q:
    """One condition for the whole log: for each audited model, its entries are kept only
    when the object they name is among the viewer's visible ones, one subquery per model
    (never a query per entry). A model the viewer sees entirely adds nothing; one the
    viewer sees none of hides all its entries. Entries about an object that is gone, or
    about several objects at once, are read only by those who see every object of that
    model. Needs the `audit_object_pk` alias (`visible_to` adds it).

    Two shapes, by how much the viewer sees (bench figures in docs/architecture.md): an
    organisation admin sees a small part of each model, so `object_id IN (visible ids as
    text)` is one small hash probed per entry; the CERT sees nearly every object of the
    models it is restricted in (TLP:RED intelligence), where that list would be millions
    of ids hashed for each page, so each entry instead probes the object's primary key
    (`EXISTS`)."""
    probe = (reader or registry.AUDIT_READER.call(user)).sees_everything
    keep = models.Q()
    labels_of: dict[type[models.Model], list[str]] = {}
    for object_type, model in audited_models().items():
        labels_of.setdefault(model, []).append(object_type)
    for model, labels in labels_of.items():
        object_type = labels[0]  # the current label (audited_models lists it first)
        about = (
            models.Q(object_type=object_type)
            if len(labels) == 1
            else models.Q(object_type__in=labels)
        )
        visible = model._default_manager.visible_to(user)  # type: ignore[attr-defined]
        if visible.query.is_empty():
            keep &= ~about
            continue
        if not visible.query.where:  # sees them all
            continue
        visible = visible.order_by()
        numeric = isinstance(model._meta.pk, models.IntegerField | models.AutoField)
        if probe and numeric:
            known = models.Q(Exists(visible.filter(pk=OuterRef("audit_object_pk"))))
        else:
            as_text = Cast("pk", models.CharField(max_length=64))
            known = models.Q(object_id__in=visible.annotate(audit_key=as_text).values("audit_key"))
        for field in OTHER_OBJECT_KEYS.get(object_type, ()):
            if probe:
                known |= models.Q(Exists(visible.filter(**{field: OuterRef("object_id")})))
            else:
                known |= models.Q(object_id__in=visible.values(field))
        keep &= ~about | known
    return keep


class AuditEntry(models.Model):
    seq = models.PositiveBigIntegerField(_("sequence"), unique=True)
    at = models.DateTimeField(_("time"), db_index=True)
    # No database constraint: users are never deleted, and a cascade would rewrite history.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(_("actor name"), max_length=200)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_label = models.CharField(_("object"), max_length=300, blank=True)
    # The organisation the object belongs to, so organisation admins can read their part.
    organisation_id = models.BigIntegerField(_("organisation"), null=True, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit log is append-only")


class AuditHead(models.Model):
    """One row: the sequence number and hash of the newest entry."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"head #{self.seq}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def visible_to(self, user: Reader) -> "NotificationQuerySet":
        """Your own notifications only."""
        if not isinstance(user, AbstractBaseUser) or not user.is_authenticated:
            return self.none()
        return self.filter(user_id=user.pk)


class NotificationKind(models.TextChoices):
    """What a notice is about; notices of one kind about one object are grouped."""

    CLOCK_REMINDER = "clock_reminder", _("Deadline reminder")
    CLOCK_OVERDUE = "clock_overdue", _("Overdue deadline")
    INCIDENT_OPENED = "incident_opened", _("Incident opened for you")
    ADVISORY = "advisory", _("New or updated advisory")
    ADVISORY_REMINDER = "advisory_reminder", _("Advisory response reminder")
    ADVISORY_OVERDUE = "advisory_overdue", _("Advisory response overdue")
    ADVISORY_APPROVAL = "advisory_approval", _("Advisory awaiting approval")
    ADVISORY_DECISION = "advisory_decision", _("Decision on your advisory")
    OTHER = "other", _("Other")


class Notification(models.Model):
    """An in-app message to one person (reminders, escalations, decisions to make).

    Repeated notices (same kind, same object, still unread) are one row: `count` says how
    many arrived, `at` when the latest did and `text` what it said."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    at = models.DateTimeField(_("time"), auto_now_add=True)
    kind = models.CharField(
        _("kind"), max_length=30, choices=NotificationKind.choices, default=NotificationKind.OTHER
    )
    subject = models.CharField(_("about"), max_length=80, blank=True)
    count = models.PositiveIntegerField(_("times"), default=1)
    text = models.CharField(_("text"), max_length=500)
    url = models.CharField(_("link"), max_length=300, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            # One unread row per person, kind and object: repeats update it.
            models.UniqueConstraint(
                fields=["user", "kind", "subject"],
                condition=models.Q(read_at__isnull=True) & ~models.Q(subject=""),
                name="core_notification_one_unread_per_subject",
            )
        ]

    def __str__(self) -> str:
        return self.text


class NotificationSettings(models.Model):
    """A person's choice of a daily e-mail digest of their unread notices."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    daily_digest = models.BooleanField(_("daily e-mail digest"), default=False)
    last_digest_at = models.DateTimeField(_("last digest sent"), null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} digest={self.daily_digest}"
