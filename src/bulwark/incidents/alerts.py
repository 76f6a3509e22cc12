"""Reminders before a statutory clock expires and escalations when it has: in the app
and by e-mail, to the people responsible for that clock. Who hears of which clock, when and in
which words; `incidents.services.alerts.check_clocks` (the `check_clocks` task, which
`bulwark scheduler` enqueues every minute) sends each alert once per due time."""

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Membership, OrganisationKind, Role, User
from bulwark.incidents.clocks import Clock
from bulwark.incidents.models import ClockAlert, Incident

# Remind when this share of a clock's duration is left (at least 15 minutes before).
REMIND_SHARE = 0.25
MIN_NOTICE = timedelta(minutes=15)
# Clocks whose next step is the supervising authority's; the others are the agency's.
AUTHORITY_CLOCKS = {"review", "forwarding"}


def remind_at(clock: Clock) -> datetime | None:
    if clock.starts_at is None or clock.due_at is None:
        return None
    notice = max(MIN_NOTICE, (clock.due_at - clock.starts_at) * REMIND_SHARE)
    return clock.due_at - notice


def _reviewers_above(incident: Incident) -> list[User]:
    authority_ids = []
    parent = incident.organisation.parent
    while parent is not None:
        authority_ids.append(parent.pk)
        parent = parent.parent
    return _members(Q(organisation_id__in=authority_ids, role=Role.REVIEWER))


def _members(condition: Q) -> list[User]:
    ids = Membership.objects.filter(condition, user__is_active=True).values_list(
        "user_id", flat=True
    )
    return list(User.objects.filter(pk__in=ids))


def recipients(incident: Incident, clock: Clock, kind: str) -> list[User]:
    agency = Q(organisation_id=incident.organisation_id, role__in=[Role.REPORTER, Role.ORG_ADMIN])
    duty = Q(organisation__kind=OrganisationKind.NATIONAL_CERT, role=Role.DUTY_OFFICER)
    if clock.key in AUTHORITY_CLOCKS:
        people = _reviewers_above(incident) or _members(duty)
    else:
        people = _members(agency)
    if kind == ClockAlert.Kind.ESCALATION:
        people += _members(duty | Q(organisation_id=incident.organisation_id, role=Role.ORG_ADMIN))
    unique = {u.pk: u for u in people}
    # Only people who may open the case hear of it (a RED incident's other colleagues don't).
    return [
        u for u in unique.values() if Incident.objects.visible_to(u).filter(pk=incident.pk).exists()
    ]


def alert_text(incident: Incident, clock: Clock, kind: str) -> str:
    due = timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M %Z") if clock.due_at else ""
    values = {"ref": incident.reference, "clock": clock.label, "due": due}
    if kind == ClockAlert.Kind.ESCALATION:
        return _("OVERDUE: %(ref)s %(clock)s was due %(due)s.") % values
    return _("Reminder: %(ref)s %(clock)s is due %(due)s.") % values
