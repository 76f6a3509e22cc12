"""Periodic exchange work, enqueued by the scheduler (or `bulwark exchange notify`)."""

from django_tasks import task


@task()
def exchange_cycle() -> dict[str, int]:
    """Poll the inbound Maildir (if configured), pull due feeds, gather due notifications
    and send them. Safe to run twice at once: every step is idempotent."""
    from bulwark.exchange import intake, pull, services

    counts: dict[str, int] = {}
    maildir = intake.maildir_from_settings()
    if maildir:
        counts["mail"] = len(intake.poll_maildir(maildir))
    counts["pulled"] = len(pull.pull_due())
    counts["queued"] = len(services.queue_notices())
    counts.update(services.send_due_notices())
    return counts


@task()
def deliver_notification(notification_id: int) -> str:
    """Send one notification an analyst queued again (its page shows the outcome); nothing
    when the periodic cycle has already sent it."""
    from bulwark.exchange import services
    from bulwark.exchange.models import EventNotice

    notification = EventNotice.objects.filter(
        pk=notification_id, status=EventNotice.Status.QUEUED
    ).first()
    if notification is None:
        return "not queued"
    return services.deliver_notice(notification)
