"""Engagements: planned for an agency, moved through their states."""

from collections.abc import Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.advisories.models import InventoryItem
from bulwark.constituency.models import Organisation, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.findings import deadlines
from bulwark.findings.models import (
    Engagement,
    EngagementKind,
    EngagementStatus,
)
from bulwark.findings.services.common import (
    ENGAGEMENT_FLOW,
)


# --- Engagements ------------------------------------------------------------------------
def create_engagement(
    actor: User,
    organisation: Organisation,
    *,
    kind: str,
    title: str,
    scope: str = "",
    starts_on: date | None = None,
    ends_on: date | None = None,
    lead: User | None = None,
    team: Iterable[User] = (),
    scope_items: Iterable[InventoryItem] = (),
    deadline_profile: str = deadlines.DEFAULT_PROFILE,
) -> Engagement:
    require(actor, "findings.plan", organisation)
    if kind not in EngagementKind.values:
        raise ValidationError({"kind": _("Unknown kind of engagement.")})
    if deadline_profile not in deadlines.profiles():
        raise ValidationError({"deadline_profile": _("Unknown deadline profile.")})
    if starts_on and ends_on and ends_on < starts_on:
        raise ValidationError({"ends_on": _("The end is before the start.")})
    items = list(scope_items)
    if any(item.organisation_id != organisation.pk for item in items):
        raise ValidationError(
            {"scope_items": _("Products in scope come from this agency's inventory.")}
        )
    with transaction.atomic():
        engagement = Engagement.objects.create(
            organisation=organisation,
            kind=kind,
            title=title.strip()[:200],
            scope=scope.strip(),
            starts_on=starts_on,
            ends_on=ends_on,
            lead=lead,
            deadline_profile=deadline_profile,
            created_by=actor,
        )
        engagement.team.set(list(team))
        engagement.scope_items.set(items)
        audit.record(
            actor,
            "findings.engagement_created",
            engagement,
            organisation_id=organisation.pk,
            changes={"kind": kind, "title": engagement.title},
        )
    return engagement


def change_engagement_status(
    actor: User, engagement: Engagement, status: str, note: str = ""
) -> Engagement:
    """Move an engagement along planned -> in progress -> reporting -> report delivered ->
    closed (or cancelled before delivery)."""
    require(actor, "findings.plan", engagement)
    with transaction.atomic():
        current = Engagement.objects.select_for_update().get(pk=engagement.pk)
        if status not in ENGAGEMENT_FLOW.get(current.status, ()):
            raise ValidationError(
                {
                    "status": _("An engagement cannot go from %(a)s to %(b)s.")
                    % {"a": current.get_status_display(), "b": status}
                }
            )
        previous = current.status
        current.status = status
        fields = ["status"]
        if status == EngagementStatus.DELIVERED:
            current.report_delivered_at = timezone.now()
            current.report_note = note.strip()
            fields += ["report_delivered_at", "report_note"]
        current.save(update_fields=fields)
        audit.record(
            actor,
            "findings.engagement_status",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, status]},
        )
    return current
