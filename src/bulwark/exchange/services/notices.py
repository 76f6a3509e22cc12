"""Notifications out and replies in: events gathered per recipient and classification
type for the recipient's cadence (`queue_notices`), sent by e-mail or TAXII with retries
and back-off (`send_due_notices`, `deliver_notice`), replies and bounces kept on them
(`attach_reply`), and an analyst's resend. The worker's writes are audited as the
system's, an analyst's as theirs. Composing the messages is `exchange.notify`'s.

Idempotent by construction: a notification's `key` (recipient, type, period) is unique, so
queueing twice, or in two workers, creates it once; events are attached to it in the same
transaction. A delivery is claimed first (its next attempt moved on), so two workers do
not send it twice."""

import smtplib
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bulwark.constituency.models import User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.exchange import taxii_client
from bulwark.exchange.models import (
    Cadence,
    Channel,
    Event,
    EventNotice,
    NotificationReply,
    RecipientSettings,
)
from bulwark.exchange.notify import (
    MAX_ATTEMPTS,
    MAX_EVENTS_PER_NOTIFICATION,
    address_of,
    compose,
    make_ticket,
    period_key,
    summary_text,
)
from bulwark.exchange.tasks import deliver_notification


def queue_notices(now: datetime | None = None) -> list[EventNotice]:
    """Gather unnotified, unsuppressed, routed events into notifications that are due.

    One pass over the pending events in id order (the partial index `exch_event_pending`,
    which holds only those and grows at its right edge, so storing an event costs it
    little), grouped here by recipient and type, at most MAX_EVENTS_PER_NOTIFICATION each."""
    now = now or timezone.now()
    groups: dict[tuple[int, str], list[int]] = {}
    pending = (
        Event.objects.filter(
            notification__isnull=True, suppressed_by__isnull=True, recipient__isnull=False
        )
        .order_by("id")
        .values_list("id", "recipient_id", "classification_type")
    )
    for event_id, recipient_id, ctype in pending.iterator(chunk_size=10_000):
        ids = groups.setdefault((recipient_id, ctype), [])
        if len(ids) < MAX_EVENTS_PER_NOTIFICATION:
            ids.append(event_id)
    prefs = {p.organisation_id: p for p in RecipientSettings.objects.all()}
    created = []
    for (recipient_id, ctype), ids in sorted(groups.items()):
        setting = prefs.get(recipient_id)
        if setting is not None and not setting.enabled:
            continue
        cadence = setting.cadence if setting else Cadence.DAILY
        notification = _gather(recipient_id, ctype, ids, cadence, setting, now)
        if notification is not None:
            created.append(notification)
    return created


def _gather(
    recipient_id: int,
    ctype: str,
    ids: list[int],
    cadence: str,
    setting: RecipientSettings | None,
    now: datetime,
) -> EventNotice | None:
    key = f"{recipient_id}/{ctype}/{period_key(cadence, now, ids[-1])}"
    try:
        with transaction.atomic():
            notification = EventNotice.objects.create(
                key=key,
                ticket=make_ticket(key, now),
                recipient_id=recipient_id,
                classification_type=ctype,
                cadence=cadence,
                language=setting.language if setting else "en",
                event_count=len(ids),
                next_attempt_at=now,
            )
            attached = Event.objects.filter(id__in=ids, notification__isnull=True).update(
                notification=notification
            )
            if attached != len(ids):
                notification.event_count = attached
                notification.save(update_fields=["event_count"])
            audit.record(
                None,
                "exchange.notification.queued",
                notification,
                organisation_id=recipient_id,
                changes={"events": attached, "type": ctype},
            )
    except IntegrityError:
        return None  # this period's notification exists: the events wait for the next
    return notification


def send_due_notices(now: datetime | None = None) -> dict[str, int]:
    """Send queued notifications and retry failed ones whose back-off has passed."""
    now = now or timezone.now()
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    due = EventNotice.objects.filter(
        status__in=[
            EventNotice.Status.QUEUED,
            EventNotice.Status.RETRYING,
            EventNotice.Status.BOUNCED,
        ],
        next_attempt_at__lte=now,
    ).select_related("recipient")
    for notification in due:
        counts[deliver_notice(notification, now)] += 1
    return counts


def deliver_notice(notification: EventNotice, now: datetime | None = None) -> str:
    now = now or timezone.now()
    # Claim it: another worker that claimed first has moved next_attempt_at on.
    claimed = EventNotice.objects.filter(
        pk=notification.pk, next_attempt_at=notification.next_attempt_at
    ).update(next_attempt_at=now + timedelta(minutes=10))
    if not claimed:
        return "retrying"
    notification.refresh_from_db()
    setting = RecipientSettings.objects.filter(organisation=notification.recipient).first()
    notification.attempts += 1
    if setting is not None and setting.channel == Channel.TAXII:
        error = _deliver_by_taxii(notification, setting)
    else:
        error = _deliver_by_email(notification, setting)
    if error:
        notification.last_error = error
        if notification.attempts >= MAX_ATTEMPTS:
            notification.status = EventNotice.Status.FAILED
            notification.next_attempt_at = None
        else:
            notification.status = EventNotice.Status.RETRYING
            notification.next_attempt_at = now + timedelta(minutes=5 * 2**notification.attempts)
    else:
        notification.status = EventNotice.Status.SENT
        notification.sent_at = now
        notification.next_attempt_at = None
        notification.last_error = ""
    with transaction.atomic():
        notification.save()
        audit.record(
            None,
            f"exchange.notification.{notification.status}",
            notification,
            organisation_id=notification.recipient_id,
            changes={"attempt": notification.attempts, "error": error, "to": notification.address},
        )
    return (
        "sent" if not error else ("failed" if notification.next_attempt_at is None else "retrying")
    )


def _deliver_by_email(notification: EventNotice, setting: RecipientSettings | None) -> str:
    notification.channel = Channel.EMAIL
    notification.address = address_of(notification.recipient, setting)
    if not notification.address:
        return _("The recipient has no e-mail address (abuse or security contact).")
    try:
        message = compose(notification)
        message.send()
        notification.message_id = str(message.extra_headers["Message-ID"])
    except (smtplib.SMTPException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"[:2000]
    return ""


def _deliver_by_taxii(notification: EventNotice, setting: RecipientSettings) -> str:
    """The same batch, ticket and summary as the e-mail, as STIX 2.1 over TAXII."""
    notification.channel = Channel.TAXII
    notification.address = setting.taxii_collection_url[:254]
    events = list(notification.events.order_by("id"))
    with translation.override(notification.language):
        description = summary_text(notification, notification.recipient, events, attachments=False)
    return taxii_client.deliver(
        notification, setting, events, description, record=record_taxii_progress
    )


def record_taxii_progress(notification: EventNotice, field: str) -> None:
    """Keep how far a TAXII delivery got (`stix_modified` before the POST, the server's
    `taxii_status_id` once it accepted it), committed at once, so a worker that dies before
    recording the outcome polls that status next time instead of posting again. Not
    audited: the delivery's outcome is (`deliver_notice`)."""
    if field not in ("stix_modified", "taxii_status_id"):
        raise ValueError(f"not a TAXII progress field: {field}")
    EventNotice.objects.filter(pk=notification.pk).update(**{field: getattr(notification, field)})


def attach_reply(
    notification: EventNotice,
    *,
    message_id: str,
    sender: str,
    subject: str,
    body: str,
    bounce_diagnostic: str | None = None,
) -> bool:
    """Keep a reply to one of our notifications on it (the mailbox poller, `intake`; audited
    as the system's). A bounce (`bounce_diagnostic` given) sets the notification back for a
    retry after a back-off, or fails it after the last attempt. False when this message was
    attached before."""
    is_bounce = bounce_diagnostic is not None
    try:
        with transaction.atomic():
            NotificationReply.objects.create(
                notification=notification,
                message_id=message_id,
                sender=sender,
                subject=subject,
                body=body,
                is_bounce=is_bounce,
            )
            if bounce_diagnostic is not None:
                notification.last_error = bounce_diagnostic[:2000]
                if notification.attempts >= MAX_ATTEMPTS:
                    notification.status = EventNotice.Status.FAILED
                    notification.next_attempt_at = None
                else:
                    notification.status = EventNotice.Status.BOUNCED
                    notification.next_attempt_at = timezone.now() + timedelta(
                        minutes=5 * 2 ** max(notification.attempts, 1)
                    )
                notification.save(update_fields=["status", "last_error", "next_attempt_at"])
            audit.record(
                None,
                "exchange.notification.bounce" if is_bounce else "exchange.notification.reply",
                notification,
                organisation_id=notification.recipient_id,
            )
    except IntegrityError:
        return False
    return True


def resend_notification(actor: User, notification: EventNotice) -> EventNotice:
    """An analyst sends a notification again (same ticket, same events): queued now, and
    sent by the worker once this transaction commits (`tasks.deliver_notification`)."""
    require(actor, "exchange.manage")
    with transaction.atomic():
        notification.status = EventNotice.Status.QUEUED
        notification.next_attempt_at = timezone.now()
        # TAXII: a new POST of new object versions, not a poll of the earlier one.
        notification.taxii_status_id = ""
        notification.stix_modified = None
        notification.save(
            update_fields=["status", "next_attempt_at", "taxii_status_id", "stix_modified"]
        )
        audit.record(actor, "exchange.notification.resend", notification)
        transaction.on_commit(lambda: deliver_notification.enqueue(notification.pk))
    return notification
