"""Background work of drills (run by `bulwark worker`). Tasks take ids, never objects."""

from django_tasks import task

from bulwark.drills import services
from bulwark.drills.exercises import services as exercise_services


@task()
def send_campaign(campaign_id: int) -> int:
    """Send what is due now; later messages are sent by the periodic `send_due`."""
    return services.send_due(campaign_id)


@task()
def send_due() -> dict[str, int]:
    """Periodic: every running campaign's due messages, the calendar's reminders, and
    the running exercises' injects whose time has come."""
    sent = sum(services.send_due(pk) for pk in services.campaigns_to_send())
    return {
        "sent": sent,
        "reminded": services.send_reminders(),
        "injects": exercise_services.deliver_due(),
    }
