"""Remediation deadlines: reminders to the agency before, escalation to its authority after."""

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Membership, Organisation, OrganisationKind, Role
from bulwark.core import audit
from bulwark.core.models import NotificationKind
from bulwark.core.services import notify
from bulwark.findings import deadlines
from bulwark.findings.models import (
    OPEN_STATUSES,
    EventKind,
    Finding,
    RemediationEvent,
)
from bulwark.findings.services.common import (
    agency_people,
)


# --- Deadlines --------------------------------------------------------------------------
def _authority_people(org: Organisation) -> list[int]:
    """The reviewers and admins of the authorities above the agency (not the national
    CERT at the top: it hears through its duty officers)."""
    ids: list[int] = []
    parent = org.parent
    while parent is not None:
        if parent.kind != OrganisationKind.NATIONAL_CERT:
            ids.append(parent.pk)
        parent = parent.parent
    return list(
        Membership.objects.filter(
            organisation_id__in=ids, role__in=[Role.REVIEWER, Role.ORG_ADMIN], user__is_active=True
        ).values_list("user_id", flat=True)
    )


def send_deadline_alerts(now: datetime | None = None) -> dict[str, int]:
    """Reminders before a deadline (to the assignee, or the agency's admins) and, once it
    has passed, escalation to the authority above the agency (or the CERT's duty officers
    when it has none). One notice per agency and kind, not one per finding."""
    now = now or timezone.now()
    reminded: dict[int, list[Finding]] = defaultdict(list)
    escalated: dict[int, list[Finding]] = defaultdict(list)
    rows = (
        Finding.objects.filter(status__in=OPEN_STATUSES, deadline__isnull=False)
        .filter(Q(escalated_at__isnull=True))
        .select_related("engagement")
        .only(
            "pk",
            "organisation_id",
            "deadline",
            "reminded_days",
            "assignee_id",
            "engagement__deadline_profile",
        )
    )
    for finding in rows.iterator(chunk_size=2000):
        assert finding.deadline is not None
        prof = deadlines.profile(finding.engagement.deadline_profile)
        if finding.deadline <= now:
            if prof.escalation_due(finding.deadline, now):
                escalated[finding.organisation_id].append(finding)
            continue
        threshold = prof.reminder_due(finding.deadline, now, finding.reminded_days)
        if threshold is not None:
            finding.reminded_days = threshold
            reminded[finding.organisation_id].append(finding)
    orgs = Organisation.objects.in_bulk(set(reminded) | set(escalated))
    told = 0
    with transaction.atomic():
        for org_id, found in reminded.items():
            Finding.objects.bulk_update(found, ["reminded_days"])
            RemediationEvent.objects.bulk_create(
                [RemediationEvent(finding=f, kind=EventKind.REMINDED) for f in found]
            )
            people = {f.assignee_id for f in found if f.assignee_id} | set(
                agency_people(org_id, [Role.ORG_ADMIN])
            )
            told += notify(
                sorted(people),
                NotificationKind.CLOCK_REMINDER,
                _("%(org)s: %(n)d findings are due for remediation soon.")
                % {"org": orgs[org_id].name, "n": len(found)},
                reverse("findings-list") + f"?organisation={org_id}&due=soon",
                subject=f"findings-due:{org_id}",
            )
            audit.record(
                None,
                "findings.reminded",
                orgs[org_id],
                organisation_id=org_id,
                changes={"findings": len(found)},
            )
        for org_id, found in escalated.items():
            ids = [f.pk for f in found]
            Finding.objects.filter(pk__in=ids).update(escalated_at=now)
            RemediationEvent.objects.bulk_create(
                [RemediationEvent(finding_id=pk, kind=EventKind.ESCALATED) for pk in ids]
            )
            people = set(_authority_people(orgs[org_id])) or set(
                Membership.objects.filter(
                    organisation__kind=OrganisationKind.NATIONAL_CERT, role=Role.DUTY_OFFICER
                ).values_list("user_id", flat=True)
            )
            people |= set(agency_people(org_id, [Role.ORG_ADMIN]))
            told += notify(
                sorted(people),
                NotificationKind.CLOCK_OVERDUE,
                _("%(org)s: %(n)d findings are past their remediation deadline.")
                % {"org": orgs[org_id].name, "n": len(found)},
                reverse("findings-list") + f"?organisation={org_id}&due=overdue",
                subject=f"findings-overdue:{org_id}",
            )
            audit.record(
                None,
                "findings.escalated",
                orgs[org_id],
                organisation_id=org_id,
                changes={"findings": len(ids)},
            )
    return {
        "reminded": sum(len(v) for v in reminded.values()),
        "escalated": sum(len(v) for v in escalated.values()),
        "told": told,
    }
