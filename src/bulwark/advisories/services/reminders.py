"""Reminders before a response deadline and escalation of missed ones to the
supervising authority."""

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.advisories.models import (
    Advisory,
    Response,
    Status,
    Target,
)
from bulwark.advisories.services.delivery import notify_targets
from bulwark.constituency.models import (
    Membership,
    Role,
    User,
)
from bulwark.core import audit
from bulwark.core.models import NotificationKind
from bulwark.core.permissions import require
from bulwark.core.services import notify
from bulwark.core.tasks import send_email

REMIND_BEFORE = timedelta(hours=24)


def _open_targets() -> Any:
    """Targets that still owe the response their advisory requires."""
    needs_ack = Q(advisory__response_required=Response.ACKNOWLEDGE, acknowledged_at__isnull=True)
    needs_action = Q(advisory__response_required=Response.ACTION, acted_at__isnull=True)
    return Target.objects.filter(advisory__status=Status.SENT).filter(needs_ack | needs_action)


def send_reminders(now: datetime | None = None) -> int:
    """Remind targets whose deadline is less than a day away, once."""
    now = now or timezone.now()
    due = _open_targets().filter(
        reminded_at__isnull=True,
        advisory__response_deadline__gt=now,
        advisory__response_deadline__lte=now + REMIND_BEFORE,
    )
    count = 0
    for advisory_id in set(due.values_list("advisory_id", flat=True)):
        with transaction.atomic():
            ids = list(due.filter(advisory_id=advisory_id).values_list("pk", flat=True))
            Target.objects.filter(pk__in=ids).update(reminded_at=now)
            advisory = Advisory.objects.get(pk=advisory_id)
            notify_targets(advisory, kind="reminder", target_ids=ids)
            audit.record(None, "advisory.reminded", advisory, changes={"targets": len(ids)})
            count += len(ids)
    return count


def remind(actor: User, advisory: Advisory) -> int:
    """The CERT reminds every target that has not yet answered (from the tracking view)."""
    require(actor, "advisory.write")
    with transaction.atomic():
        ids = list(_open_targets().filter(advisory=advisory).values_list("pk", flat=True))
        Target.objects.filter(pk__in=ids).update(reminded_at=timezone.now())
        if ids:
            notify_targets(advisory, kind="reminder", target_ids=ids)
        audit.record(actor, "advisory.reminded", advisory, changes={"targets": len(ids)})
        return len(ids)


def escalate_overdue(now: datetime | None = None) -> int:
    """Tell the supervising authority (its reviewers and admins) about each agency that
    missed an advisory's deadline, once per target. The authority learns the reference
    and the agency, not the advisory's content (it may not be a recipient)."""
    now = now or timezone.now()
    overdue = (
        _open_targets()
        .filter(escalated_at__isnull=True, advisory__response_deadline__lt=now)
        .select_related("organisation", "advisory")
    )
    count = 0
    for target in overdue.iterator(chunk_size=500):
        with transaction.atomic():
            Target.objects.filter(pk=target.pk).update(escalated_at=now)
            parent_id = target.organisation.parent_id
            people: list[User] = []
            if parent_id is not None:
                ids = Membership.objects.filter(
                    organisation_id=parent_id,
                    role__in=[Role.REVIEWER, Role.ORG_ADMIN],
                    user__is_active=True,
                ).values_list("user_id", flat=True)
                people = list(User.objects.filter(pk__in=set(ids)))
            text = _("OVERDUE: %(org)s has not answered advisory %(ref)s (due %(due)s).") % {
                "org": target.organisation.name,
                "ref": target.advisory.reference,
                "due": timezone.localtime(target.advisory.response_deadline).strftime(
                    "%Y-%m-%d %H:%M"
                ),
            }
            url = reverse("organisation-detail", args=[target.organisation_id])
            # One row per advisory for the authority, counting the agencies that missed it.
            notify(
                people,
                NotificationKind.ADVISORY_OVERDUE,
                text,
                url,
                subject=f"advisory:{target.advisory_id}",
            )
            emails = sorted({u.email for u in people if u.email})
            if emails:
                body = f"{text}\n\n{settings.SITE_URL}{url}\n"
                transaction.on_commit(partial(send_email.enqueue, text, body, emails))
            audit.record(
                None,
                "advisory.escalated",
                target.advisory,
                organisation_id=target.organisation_id,
                changes={
                    "organisation": target.organisation_id,
                    "authority": parent_id,
                    "told": len(people),
                },
            )
            count += 1
    return count
