"""Login throttling: too many failures for one username or from one address inside the
window block further attempts until the window has passed. Stored in the database, so
every web process sees the same count."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from bulwark.constituency.models import LoginFailure, ResetMail


def _window_start() -> datetime:
    return timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def is_blocked(username: str, ip: str | None) -> bool:
    since = _window_start()
    limit = settings.LOGIN_FAILURE_LIMIT
    recent = LoginFailure.objects.filter(at__gte=since)
    if recent.filter(username=username.lower()[:150]).count() >= limit:
        return True
    # An address gets more room than a username: offices share one NAT address.
    return ip is not None and recent.filter(ip=ip).count() >= limit * 4


def record_failure(username: str, ip: str | None) -> None:
    LoginFailure.objects.create(username=username.lower()[:150], ip=ip)


def clear(username: str) -> None:
    LoginFailure.objects.filter(Q(username=username.lower()[:150])).delete()


# --- Password-reset mails ---------------------------------------------------------------


def reset_mail_allowed(user_id: int, ip: str | None) -> bool:
    """Whether another reset mail may go to this account, requested from this address:
    at most RESET_MAIL_LIMIT per account and 4x that per address in the window (an office
    shares one NAT address; one address must still not mail-bomb a whole organisation)."""
    since = timezone.now() - timedelta(seconds=settings.RESET_MAIL_WINDOW_SECONDS)
    limit = settings.RESET_MAIL_LIMIT
    recent = ResetMail.objects.filter(at__gte=since)
    if recent.filter(user_id=user_id).count() >= limit:
        return False
    return ip is None or recent.filter(ip=ip).count() < limit * 4


def record_reset_mail(user_id: int, ip: str | None) -> None:
    ResetMail.objects.create(user_id=user_id, ip=ip)


def purge_expired() -> int:
    """Delete failures older than the window: they no longer count, and kept forever the
    table would grow with every password-guessing run (the audit log keeps the history)."""
    deleted, _ = LoginFailure.objects.filter(at__lt=_window_start()).delete()
    return deleted


def recent_count(key: str) -> int:
    """Entries recorded under `key` inside the window (for throttles other than the
    sign-in's that keep their own per-address key, so they never block a sign-in)."""
    return LoginFailure.objects.filter(at__gte=_window_start(), username=key.lower()[:150]).count()
