"""The four-eyes workflow: write, revise, submit, approve or send back, send. The person
who approves an advisory (or a revision of a sent one) is never its author, and only an
approved advisory can be sent. Changing an approved advisory sends it back to draft."""

import json
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from bulwark.advisories import targeting
from bulwark.advisories.models import (
    Advisory,
    AdvisoryCategory,
    Revision,
    Status,
    Target,
)
from bulwark.advisories.services.cleaning import (
    clean_advisory,
    ids_of,
    next_reference,
    set_targets,
    split_fields,
)
from bulwark.advisories.services.delivery import notify_targets
from bulwark.constituency.models import (
    CERT_STAFF_ROLES,
    Membership,
    Organisation,
    OrganisationKind,
    User,
)
from bulwark.core import audit
from bulwark.core.models import NotificationKind
from bulwark.core.permissions import require
from bulwark.core.services import notify


def create_advisory(actor: User, **fields: Any) -> Advisory:
    require(actor, "advisory.write")
    content, targets = split_fields(fields)
    if "category" in content and not isinstance(content["category"], AdvisoryCategory):
        content["category"] = AdvisoryCategory.objects.get(code=content["category"])
    for attempt in range(5):
        try:
            with transaction.atomic():
                advisory = Advisory(author=actor, reference=next_reference(), **content)
                clean_advisory(advisory)
                advisory.save()
                set_targets(advisory, targets)
                audit.record(actor, "advisory.created", advisory, changes={"status": "draft"})
                return advisory
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _diff(advisory: Advisory, content: dict[str, Any]) -> dict[str, list[Any]]:
    changes = {}
    for field, new in content.items():
        old = getattr(advisory, field)
        if field == "category":
            old, new = old.code, new.code
        if old != new:
            changes[field] = [old, new]
    return changes


def _target_diff(advisory: Advisory, targets: dict[str, Any]) -> dict[str, list[Any]]:
    changes = {}
    for field, values in targets.items():
        old = sorted(getattr(advisory, field).values_list("pk", flat=True))
        new = sorted(ids_of(values))
        if old != new:
            changes[field] = [old, new]
    return changes


def update_advisory(actor: User, advisory: Advisory, *, note: str = "", **fields: Any) -> Advisory:
    """Edit an advisory. Before sending, any change needs (new) approval; after sending,
    the change is a proposed revision with a note saying what changed, applied and sent to
    the recipients when a second person approves it (`approve_revision`)."""
    require(actor, "advisory.write")
    content, targets = split_fields(fields)
    if "category" in content and not isinstance(content["category"], AdvisoryCategory):
        content["category"] = AdvisoryCategory.objects.get(code=content["category"])
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=advisory.pk)
        changes = _diff(advisory, content) | _target_diff(advisory, targets)
        if not changes:
            return advisory
        for field, value in content.items():
            setattr(advisory, field, value)
        clean_advisory(advisory)
        if advisory.status != Status.SENT:
            advisory.status = Status.DRAFT
            advisory.approved_by, advisory.approved_at = None, None
            advisory.save()
            set_targets(advisory, targets)
            audit.record(actor, "advisory.edited", advisory, changes=changes)
            return advisory
        if targets:
            raise ValidationError(_("The recipients of a sent advisory cannot be changed."))
        if not note.strip():
            raise ValidationError({"note": _("Say what changed: recipients read this note.")})
        if advisory.revisions.pending().exists():
            raise ValidationError(_("A revision of this advisory already awaits approval."))
        proposed = {
            f: (advisory.category.code if f == "category" else getattr(advisory, f))
            for f in content
            if f in changes
        }
        revision = Revision.objects.create(
            advisory=advisory,
            author=actor,
            note=note.strip()[:1000],
            changes=_plain(changes),
            proposed=_plain(proposed),
        )
        audit.record(
            actor,
            "advisory.revision_proposed",
            advisory,
            changes={"revision_id": revision.pk, "note": note, "fields": sorted(changes)},
        )
        _tell_second_person(advisory, actor, revision=True)
        # The advisory itself is unchanged until a second person approves the revision.
        return Advisory.objects.get(pk=advisory.pk)


def _plain(value: Any) -> Any:
    """JSON-safe: dates as full ISO 8601 strings (microseconds kept, so an approved
    revision applies exactly the proposed deadline)."""
    return json.loads(json.dumps(value, default=_iso))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def approve_revision(actor: User, revision: Revision) -> Revision:
    """A second CERT member approves a proposed revision: it is applied, numbered, and
    every recipient is told what changed."""
    require(actor, "advisory.approve", revision)
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=revision.advisory_id)
        revision = Revision.objects.select_for_update().get(pk=revision.pk)
        if not revision.is_pending:
            raise ValidationError(_("This revision has already been decided."))
        for field, value in revision.proposed.items():
            if field == "category":
                value = AdvisoryCategory.objects.get(code=value)
            elif field == "response_deadline" and value is not None:
                value = parse_datetime(value)
            setattr(advisory, field, value)
        clean_advisory(advisory)
        advisory.revision += 1
        advisory.save()
        now = timezone.now()
        revision.number, revision.at = advisory.revision, now
        revision.approved_by, revision.approved_at = actor, now
        revision.save()
        audit.record(
            actor,
            "advisory.revised",
            advisory,
            changes={
                "revision": advisory.revision,
                "note": revision.note,
                "fields": sorted(revision.changes),
                "proposed_by": revision.author_id,
            },
        )
        notify_targets(advisory, kind="revision")
        return revision


def reject_revision(actor: User, revision: Revision) -> Revision:
    require(actor, "advisory.write")
    with transaction.atomic():
        revision = Revision.objects.select_for_update().get(pk=revision.pk)
        if not revision.is_pending:
            raise ValidationError(_("This revision has already been decided."))
        revision.rejected_at = timezone.now()
        revision.save(update_fields=["rejected_at"])
        audit.record(
            actor,
            "advisory.revision_rejected",
            revision.advisory,
            changes={"revision_id": revision.pk},
        )
        return revision


def submit(actor: User, advisory: Advisory) -> Advisory:
    require(actor, "advisory.write")
    advisory = _transition(actor, advisory, Status.DRAFT, Status.PENDING, "advisory.submitted")
    _tell_second_person(advisory, actor)
    return advisory


def approve(actor: User, advisory: Advisory) -> Advisory:
    require(actor, "advisory.approve", advisory)
    advisory = _transition(actor, advisory, Status.PENDING, Status.APPROVED, "advisory.approved")
    _tell_author(advisory, actor, _("%(who)s approved advisory %(ref)s: it can be sent."))
    return advisory


def reject(actor: User, advisory: Advisory, *, reason: str) -> Advisory:
    require(actor, "advisory.write")
    if not reason.strip():
        raise ValidationError({"reason": _("Say why, so the author can fix it.")})
    advisory = _transition(
        actor, advisory, Status.PENDING, Status.DRAFT, "advisory.rejected", reason=reason
    )
    _tell_author(
        advisory, actor, _("%(who)s sent advisory %(ref)s back: %(why)s"), why=reason.strip()
    )
    return advisory


def _tell_second_person(advisory: Advisory, actor: User, revision: bool = False) -> None:
    """Four eyes: every other CERT analyst and duty officer learns that an advisory (or a
    revision of a sent one) awaits their approval."""
    ids = (
        Membership.objects.filter(
            organisation__kind=OrganisationKind.NATIONAL_CERT,
            organisation__is_active=True,
            role__in=CERT_STAFF_ROLES,
            user__is_active=True,
        )
        .exclude(user_id=actor.pk)
        .values_list("user_id", flat=True)
        .distinct()
    )
    text = (
        _("A revision of advisory %(ref)s by %(who)s awaits your approval.")
        if revision
        else _("Advisory %(ref)s by %(who)s awaits your approval.")
    ) % {"ref": advisory.reference, "who": actor.get_username()}
    url = reverse("advisory-detail", args=[advisory.pk])
    notify(ids, NotificationKind.ADVISORY_APPROVAL, text, url, subject=f"advisory:{advisory.pk}")


def _tell_author(advisory: Advisory, actor: User, text: str, **extra: str) -> None:
    if advisory.author_id == actor.pk:
        return
    message = text % {"who": actor.get_username(), "ref": advisory.reference, **extra}
    notify(
        [advisory.author_id],
        NotificationKind.ADVISORY_DECISION,
        message,
        reverse("advisory-detail", args=[advisory.pk]),
        subject=f"advisory:{advisory.pk}",
    )


def _transition(
    actor: User, advisory: Advisory, source: str, dest: str, action: str, **extra: Any
) -> Advisory:
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=advisory.pk)
        if advisory.status != source:
            raise ValidationError(
                _("This advisory is %(status)s; it must be %(source)s for this step.")
                % {"status": advisory.get_status_display(), "source": Status(source).label}
            )
        advisory.status = dest
        if dest == Status.APPROVED:
            advisory.approved_by, advisory.approved_at = actor, timezone.now()
        advisory.save()
        audit.record(actor, action, advisory, changes={"status": [source, dest], **extra})
        return advisory


def preview(advisory: Advisory) -> list[tuple[Organisation, str]]:
    """Exactly who `send` would target now, with the reason, by name."""
    reasons = targeting.resolve(advisory)
    orgs = Organisation.objects.filter(pk__in=list(reasons)).order_by("name")
    return [(org, reasons[org.pk]) for org in orgs]


def send(actor: User, advisory: Advisory) -> Advisory:
    """Send an approved advisory: one target per recipient organisation, one queued
    e-mail per contact address, an in-app notification to each member."""
    require(actor, "advisory.write")
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=advisory.pk)
        if advisory.status != Status.APPROVED:
            raise ValidationError(_("Only an approved advisory can be sent."))
        reasons = targeting.resolve(advisory)
        if not reasons and not advisory.publication:
            raise ValidationError(_("Nobody would receive this advisory: choose recipients."))
        advisory.status, advisory.sent_by, advisory.sent_at = Status.SENT, actor, timezone.now()
        advisory.save()
        Target.objects.bulk_create(
            [
                Target(advisory=advisory, organisation_id=o, reason=r[:200])
                for o, r in reasons.items()
            ],
            batch_size=2000,
        )
        audit.record(
            actor,
            "advisory.sent",
            advisory,
            changes={"status": ["approved", "sent"], "targets": len(reasons)},
        )
        notify_targets(advisory, kind="advisory")
        return advisory
