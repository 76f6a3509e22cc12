"""Delivery: one queued e-mail per target contact, in-app notices to members, each
attempt's outcome, retries with backoff."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.advisories.models import (
    Advisory,
    Delivery,
    Target,
)
from bulwark.constituency.models import (
    Contact,
    Membership,
    Role,
    User,
)
from bulwark.core.models import NotificationKind
from bulwark.core.services import notify

# Contacts that receive advisories (abuse desks receive abuse reports, not advisories).
ADVISORY_PURPOSES = [
    Contact.Purpose.SECURITY,
    Contact.Purpose.CISO,
    Contact.Purpose.EMERGENCY,
    Contact.Purpose.GENERAL,
]
RED_PURPOSES = [Contact.Purpose.SECURITY, Contact.Purpose.CISO]
MEMBER_ROLES = [Role.REPORTER, Role.ORG_ADMIN, Role.REVIEWER]
DELIVERY_BATCH = 200
TARGET_CHUNK = 5000
MAX_DELIVERY_ATTEMPTS = 5


def _queue_deliveries(advisory: Advisory, kind: str, target_ids: list[int] | None) -> list[int]:
    if target_ids is not None and len(target_ids) > TARGET_CHUNK:
        # Keep each statement under SQLite's limit on query parameters.
        return [
            pk
            for start in range(0, len(target_ids), TARGET_CHUNK)
            for pk in _queue_deliveries(advisory, kind, target_ids[start : start + TARGET_CHUNK])
        ]
    return _insert_deliveries(advisory, kind, target_ids)


def _insert_deliveries(advisory: Advisory, kind: str, target_ids: list[int] | None) -> list[int]:
    """One delivery row per target and contact address, in one INSERT ... SELECT (20,000
    rows through the ORM cost seconds). The language is that of the user who has the
    contact's address, else LANGUAGE_CODE. Returns the new rows' ids."""
    purposes = RED_PURPOSES if advisory.tlp == "red" else ADVISORY_PURPOSES
    params: list[Any] = [kind, advisory.revision, settings.LANGUAGE_CODE, advisory.pk]
    params += [str(p) for p in purposes]
    only = ""
    if target_ids is not None:
        only = f" AND t.id IN ({', '.join(['%s'] * len(target_ids))})"
        params += target_ids
    marks = ", ".join(["%s"] * len(purposes))
    sql = f"""
        INSERT INTO {Delivery._meta.db_table}
            (target_id, advisory_id, kind, revision, email, language, state, attempts,
             last_error)
        SELECT t.id, t.advisory_id, %s, %s, MIN(c.email),
               COALESCE(MIN(u.preferred_language), %s),
               'queued', 0, ''
        FROM {Target._meta.db_table} t
        JOIN {Contact._meta.db_table} c ON c.organisation_id = t.organisation_id
        LEFT JOIN {User._meta.db_table} u ON u.email = c.email
        WHERE t.advisory_id = %s AND c.purpose IN ({marks}) AND c.email <> ''{only}
        GROUP BY t.id, t.advisory_id, LOWER(c.email)
    """  # noqa: S608 - table names from the models, values as parameters
    before = Delivery.objects.aggregate(last=Max("pk"))["last"] or 0
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    new = Delivery.objects.filter(pk__gt=before, advisory=advisory, kind=kind)
    if target_ids is not None:
        new = new.filter(target_id__in=target_ids)
    return list(new.order_by("pk").values_list("pk", flat=True))


def notify_targets(
    advisory: Advisory, *, kind: str, target_ids: list[int] | None = None
) -> list[int]:
    """Queue e-mail to the targets' contacts and tell their members in the app."""
    ids = _queue_deliveries(advisory, kind, target_ids)
    targets = Target.objects.filter(advisory=advisory)
    if target_ids is not None:
        targets = targets.filter(pk__in=target_ids)
    _notify_members(advisory, targets.values("organisation_id"), kind)
    batches = [ids[i : i + DELIVERY_BATCH] for i in range(0, len(ids), DELIVERY_BATCH)]
    transaction.on_commit(lambda: _enqueue(batches))
    return ids


def _enqueue(batches: list[list[int]]) -> None:
    from bulwark.advisories.tasks import deliver

    for batch in batches:
        deliver.enqueue(batch)


def _notify_members(advisory: Advisory, org_ids: Any, kind: str) -> None:
    roles = [Role.ORG_ADMIN] if advisory.tlp == "red" else MEMBER_ROLES
    user_ids = set(
        Membership.objects.filter(
            organisation_id__in=org_ids, role__in=roles, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    texts = {
        "advisory": _("New advisory %(ref)s [%(tlp)s]: %(title)s"),
        "revision": _("Advisory %(ref)s updated (revision %(rev)d): %(title)s"),
        "reminder": _("Reminder: advisory %(ref)s needs your response by %(due)s"),
    }
    due = (
        timezone.localtime(advisory.response_deadline).strftime("%Y-%m-%d %H:%M")
        if advisory.response_deadline
        else ""
    )
    text = texts[kind] % {
        "ref": advisory.reference,
        "tlp": advisory.tlp_label,
        "title": advisory.title,
        "rev": advisory.revision,
        "due": due,
    }
    url = reverse("advisory-detail", args=[advisory.pk])
    notify(
        user_ids,
        NotificationKind.ADVISORY_REMINDER if kind == "reminder" else NotificationKind.ADVISORY,
        text,
        url,
        subject=f"advisory:{advisory.pk}",
    )


def record_delivery(delivery_id: int, error: str = "") -> None:
    """A delivery attempt's outcome; a failure is retried later with backoff."""
    now = timezone.now()
    delivery = Delivery.objects.get(pk=delivery_id)
    delivery.attempts += 1
    if error:
        delivery.state = Delivery.State.FAILED
        delivery.last_error = error[:500]
        if delivery.attempts < MAX_DELIVERY_ATTEMPTS:
            delivery.next_attempt_at = now + timedelta(minutes=5 * 2 ** (delivery.attempts - 1))
        else:
            delivery.next_attempt_at = None
    else:
        delivery.state, delivery.sent_at, delivery.next_attempt_at = Delivery.State.SENT, now, None
        delivery.last_error = ""
    delivery.save(update_fields=["attempts", "state", "last_error", "next_attempt_at", "sent_at"])


def retry_failed(now: datetime | None = None) -> int:
    """Queue the failed deliveries whose next attempt is due."""
    now = now or timezone.now()
    due = list(
        Delivery.objects.filter(state=Delivery.State.FAILED, next_attempt_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:10_000]
    )
    if due:
        Delivery.objects.filter(pk__in=due).update(state=Delivery.State.QUEUED)
        batches = [due[i : i + DELIVERY_BATCH] for i in range(0, len(due), DELIVERY_BATCH)]
        transaction.on_commit(lambda: _enqueue(batches))
    return len(due)
