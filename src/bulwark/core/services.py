"""Writes to the in-app notices: sending (grouped), marking read, the daily digest."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bulwark.core import audit
from bulwark.core.mail import send_email
from bulwark.core.models import Notification, NotificationKind, NotificationSettings
from bulwark.core.permissions import Reader

# The digest goes out once a day, at the first scheduler run after this local hour.
DIGEST_HOUR = 7
DIGEST_ITEMS = 50


def notify(users: Iterable[Any], kind: str, text: str, url: str = "", subject: str = "") -> int:
    """Tell each of `users` (people or their ids) `text`. With a `subject` (such as
    "incident:12"), a notice of the same kind about the same object that someone has not
    read yet is updated (one more in its count, the new text and time) instead of added,
    so a daily overdue reminder does not become hundreds of rows. Returns people told."""
    ids = sorted({u if isinstance(u, int) else u.pk for u in users})
    if not ids:
        return 0
    text = text[:500]
    subject = subject[:80]
    with transaction.atomic():
        grouped: set[int] = set()
        if subject:
            unread = Notification.objects.filter(
                user_id__in=ids, kind=kind, subject=subject, read_at__isnull=True
            )
            grouped = set(unread.values_list("user_id", flat=True))
            if grouped:
                unread.update(count=F("count") + 1, at=timezone.now(), text=text, url=url)
        Notification.objects.bulk_create(
            [
                Notification(user_id=u, kind=kind, subject=subject, text=text, url=url)
                for u in ids
                if u not in grouped
            ],
            batch_size=2000,
            # Another worker may have added the same unread row meanwhile (the unique
            # constraint keeps one); its count then misses this repeat, nothing more.
            ignore_conflicts=bool(subject),
        )
    return len(ids)


def mark_read(user: Reader, kind: str = "", ids: Iterable[int] = ()) -> int:
    """Mark the person's own unread notices read: all, those of one kind, or given ones."""
    unread = Notification.objects.visible_to(user).filter(read_at__isnull=True)
    if kind:
        unread = unread.filter(kind=kind)
    wanted = [i for i in ids if isinstance(i, int)]
    if wanted:
        unread = unread.filter(pk__in=wanted)
    return unread.update(read_at=timezone.now())


def set_daily_digest(user: AbstractBaseUser, enabled: bool) -> NotificationSettings:
    with transaction.atomic():
        prefs, _created = NotificationSettings.objects.select_for_update().get_or_create(
            user_id=user.pk
        )
        if prefs.daily_digest != enabled:
            prefs.daily_digest = enabled
            prefs.save(update_fields=["daily_digest"])
            audit.record(
                user, "notifications.digest_changed", prefs, changes={"daily_digest": enabled}
            )
    return prefs


def digest_time(now: datetime) -> datetime:
    """The latest scheduled digest time at or before `now` (DIGEST_HOUR, local time)."""
    local = timezone.localtime(now)
    at = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return at if at <= local else at - timedelta(days=1)


def _digest_body(user: Reader, rows: list[Notification], more: int) -> tuple[str, str]:
    subject = ngettext(
        "Bulwark: %(n)d unread notice", "Bulwark: %(n)d unread notices", len(rows) + more
    ) % {"n": len(rows) + more}
    lines = [_("Your unread notices in Bulwark:"), ""]
    for n in rows:
        when = timezone.localtime(n.at).strftime("%Y-%m-%d %H:%M")
        times = f" (x{n.count})" if n.count > 1 else ""
        lines.append(f"- {when} [{n.get_kind_display()}] {n.text}{times}")
        if n.url:
            lines.append(f"  {settings.SITE_URL}{n.url}")
    if more:
        lines.append(_("... and %(n)d more.") % {"n": more})
    lines += [
        "",
        _("Read them and change this e-mail at %(url)s")
        % {"url": settings.SITE_URL + "/notifications/"},
    ]
    return subject, "\n".join(lines)


def send_digests(now: datetime | None = None) -> int:
    """E-mail each person who asked for the daily digest their notices that arrived
    unread since the last digest; once a day (claimed with a conditional update, so two
    schedulers send it once). Returns the number of e-mails queued."""
    now = now or timezone.now()
    due_at = digest_time(now)
    due = NotificationSettings.objects.filter(daily_digest=True, user__is_active=True).filter(
        Q(last_digest_at__isnull=True) | Q(last_digest_at__lt=due_at)
    )
    sent = 0
    for prefs in due.select_related("user"):
        claimed = NotificationSettings.objects.filter(
            pk=prefs.pk, last_digest_at=prefs.last_digest_at
        ).update(last_digest_at=now)
        if not claimed or not prefs.user.email:
            continue
        unread = Notification.objects.visible_to(prefs.user).filter(read_at__isnull=True)
        if prefs.last_digest_at is not None:  # the first digest lists all that is unread
            unread = unread.filter(at__gt=prefs.last_digest_at)
        rows = list(unread[:DIGEST_ITEMS])
        if not rows:
            continue
        more = unread.count() - len(rows) if len(rows) == DIGEST_ITEMS else 0
        with translation.override(prefs.user.preferred_language or settings.LANGUAGE_CODE):
            subject, body = _digest_body(prefs.user, rows, more)
        send_email.enqueue(subject, body, [prefs.user.email])
        sent += 1
    return sent


__all__ = ["NotificationKind", "mark_read", "notify", "send_digests", "set_daily_digest"]
