"""Recipients' answers: read, acknowledged, action reported."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.advisories.models import (
    Target,
)
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import (
    User,
)
from bulwark.core import audit
from bulwark.core.permissions import require


def mark_read(actor: User, target: Target) -> Target:
    """The first time a member opens the advisory (not audited: it is not a decision)."""
    if target.read_at is None and target.organisation_id in viewer_of(actor).own_org_ids:
        Target.objects.filter(pk=target.pk, read_at__isnull=True).update(read_at=timezone.now())
        target.refresh_from_db()
    return target


def acknowledge(actor: User, target: Target) -> Target:
    require(actor, "advisory.respond", target)
    with transaction.atomic():
        target = Target.objects.select_for_update().get(pk=target.pk)
        if target.acknowledged_at is not None:
            return target
        now = timezone.now()
        target.acknowledged_at, target.acknowledged_by = now, actor
        target.read_at = target.read_at or now
        target.save()
        audit.record(
            actor,
            "advisory.acknowledged",
            target.advisory,
            organisation_id=target.organisation_id,
            changes={"organisation": target.organisation_id},
        )
        return target


def report_action(actor: User, target: Target, *, action: str, note: str = "") -> Target:
    require(actor, "advisory.respond", target)
    if action not in {c.value for c in Target.Action if c.value}:
        raise ValidationError({"action": _("Choose patched, mitigated or not affected.")})
    if len(note) > 5000:
        raise ValidationError({"note": _("The note is limited to 5000 characters.")})
    with transaction.atomic():
        target = Target.objects.select_for_update().get(pk=target.pk)
        now = timezone.now()
        previous = target.action
        target.action, target.action_note = action, note.strip()
        target.acted_at, target.acted_by = now, actor
        target.read_at = target.read_at or now
        if target.acknowledged_at is None:
            target.acknowledged_at, target.acknowledged_by = now, actor
        target.save()
        audit.record(
            actor,
            "advisory.action_reported",
            target.advisory,
            organisation_id=target.organisation_id,
            changes={"organisation": target.organisation_id, "action": [previous, action]},
        )
        return target
