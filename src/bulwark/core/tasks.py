"""Background work. Tasks take ids and plain values, never model objects."""

from django_tasks import task

from bulwark.core import anchor
from bulwark.core.mail import send_email
from bulwark.core.services import send_digests

__all__ = ["checkpoint_audit", "send_email", "send_notification_digests"]


@task()
def checkpoint_audit() -> int:
    """The scheduler's periodic signed checkpoint of the audit log's head (core/anchor.py);
    returns the checkpointed entry number, 0 when none was due."""
    point = anchor.checkpoint(periodic=True)
    return point.seq if point else 0


@task()
def send_notification_digests() -> int:
    """Periodic: the daily e-mail digest of unread notices, for those who asked for it."""
    return send_digests()
