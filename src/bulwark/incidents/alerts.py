"""Reminders before a statutory clock expires and escalations when it has: in the app
and by e-mail, to the people responsible for that clock. Run by the `check_clocks` task,
which `bulwark scheduler` enqueues every minute; each alert is sent once per due time."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Membership, OrganisationKind, Role, User
from bulwark.core.models import NotificationKind
from bulwark.core.services import notify
from bulwark.core.tasks import send_email
from bulwark.incidents.clocks import Clock, ClockState
from bulwark.incidents.models import ClockAlert, Incident
from bulwark.incidents.services import clock_states

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


def _message(incident: Incident, clock: Clock, kind: str) -> str:
    due = timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M %Z") if clock.due_at else ""
    values = {"ref": incident.reference, "clock": clock.label, "due": due}
    if kind == ClockAlert.Kind.ESCALATION:
        return _("OVERDUE: %(ref)s %(clock)s was due %(due)s.") % values
    return _("Reminder: %(ref)s %(clock)s is due %(due)s.") % values


def _send(incident: Incident, clock: Clock, kind: str) -> int:
    assert clock.due_at is not None
    try:
        with transaction.atomic():
            alert = ClockAlert.objects.create(
                incident=incident, clock=clock.key, kind=kind, due_at=clock.due_at
            )
    except IntegrityError:
        return 0  # another scheduler or worker sent it already
    people = recipients(incident, clock, kind)
    text = _message(incident, clock, kind)
    url = reverse("incident-detail", args=[incident.pk])
    notify(
        people,
        NotificationKind.CLOCK_OVERDUE
        if kind == ClockAlert.Kind.ESCALATION
        else NotificationKind.CLOCK_REMINDER,
        text,
        url,
        subject=f"incident:{incident.pk}",
    )
    emails = sorted({u.email for u in people if u.email})
    if emails:
        body = f"{text}\n\n{settings.SITE_URL}{url}\n"
        transaction.on_commit(lambda: send_email.enqueue(text, body, emails))
    ClockAlert.objects.filter(pk=alert.pk).update(recipients=len(people))
    return len(people)


def check_clocks(now: datetime | None = None) -> dict[str, int]:
    """Send the reminders and escalations that are due. Returns counts by kind."""
    now = now or timezone.now()
    horizon = now + timedelta(days=8)  # the longest reminder lead (a month x 25 %)
    sent = {"reminder": 0, "escalation": 0}
    candidates = Incident.objects.exclude(status="closed").filter(next_due_at__lte=horizon)
    for incident in candidates.select_related("organisation__parent").iterator(chunk_size=500):
        for clock in clock_states(incident, now):
            if clock.state == ClockState.OVERDUE:
                sent["escalation"] += bool(_send(incident, clock, ClockAlert.Kind.ESCALATION))
            elif clock.state == ClockState.RUNNING:
                moment = remind_at(clock)
                if moment is not None and now >= moment:
                    sent["reminder"] += bool(_send(incident, clock, ClockAlert.Kind.REMINDER))
    return sent
