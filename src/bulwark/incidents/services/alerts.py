"""Reminders and escalations of statutory clocks, sent by the worker: each alert is
recorded once per clock, kind and due time (a unique row, so two schedulers send it once),
notified in the app and by e-mail, and audited as the system's act."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from bulwark.core import audit
from bulwark.core.models import NotificationKind
from bulwark.core.services import notify
from bulwark.core.tasks import send_email
from bulwark.incidents.alerts import alert_text, recipients, remind_at
from bulwark.incidents.clocks import Clock, ClockState
from bulwark.incidents.models import ClockAlert, Incident
from bulwark.incidents.services.common import clock_states


def send_clock_alert(incident: Incident, clock: Clock, kind: str) -> int:
    """One reminder or escalation, once: the alert's row, the in-app notices, the e-mail
    (queued on commit) and the audit entry in one transaction. Returns how many people
    it reached (0: it was sent already)."""
    assert clock.due_at is not None
    with transaction.atomic():
        try:
            with transaction.atomic():
                alert = ClockAlert.objects.create(
                    incident=incident, clock=clock.key, kind=kind, due_at=clock.due_at
                )
        except IntegrityError:
            return 0  # another scheduler or worker sent it already
        people = recipients(incident, clock, kind)
        text = alert_text(incident, clock, kind)
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
        alert.recipients = len(people)
        alert.save(update_fields=["recipients"])
        audit.record(
            None,
            f"incident.clock_{kind}_sent",
            incident,
            changes={"clock": clock.key, "due_at": clock.due_at, "recipients": len(people)},
            organisation_id=incident.organisation_id,
        )
    return len(people)


def check_clocks(now: datetime | None = None) -> dict[str, int]:
    """Send the reminders and escalations that are due. Returns counts by kind."""
    now = now or timezone.now()
    horizon = now + timedelta(days=8)  # the longest reminder lead (a month x 25 %)
    sent = {"reminder": 0, "escalation": 0}
    candidates = Incident.objects.exclude(status="closed").filter(next_due_at__lte=horizon)
    escalation, reminder = ClockAlert.Kind.ESCALATION, ClockAlert.Kind.REMINDER
    for incident in candidates.select_related("organisation__parent").iterator(chunk_size=500):
        for clock in clock_states(incident, now):
            if clock.state == ClockState.OVERDUE:
                sent["escalation"] += bool(send_clock_alert(incident, clock, escalation))
            elif clock.state == ClockState.RUNNING:
                moment = remind_at(clock)
                if moment is not None and now >= moment:
                    sent["reminder"] += bool(send_clock_alert(incident, clock, reminder))
    return sent
