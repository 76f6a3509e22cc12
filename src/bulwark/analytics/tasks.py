"""Background work of the statistics app."""

from django_tasks import task

from bulwark.analytics import summaries


@task()
def send_summaries() -> int:
    """Periodic: e-mail each subscriber the summary of their last whole month or quarter
    (once per period; cheap when nothing is due)."""
    return summaries.send_due()
