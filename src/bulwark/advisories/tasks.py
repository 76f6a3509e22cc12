"""Background work of the advisories app. Tasks take ids, never model objects."""

from django_tasks import task

from bulwark.advisories import mail, services


@task()
def deliver(delivery_ids: list[int]) -> int:
    return mail.deliver(delivery_ids, record=services.record_delivery)


@task()
def follow_up() -> dict[str, int]:
    """Periodic: retry failed e-mail, remind before deadlines, escalate overdue agencies."""
    return {
        "retried": services.retry_failed(),
        "reminded": services.send_reminders(),
        "escalated": services.escalate_overdue(),
    }
