"""Background work of the statistics app."""

from django_tasks import task

from bulwark.analytics import services, snapshots


@task()
def send_summaries() -> int:
    """Periodic: e-mail each subscriber the summary of their last whole month or quarter
    (once per period; cheap when nothing is due)."""
    return services.send_due_summaries()


@task()
def refresh_snapshots() -> int:
    """Periodic: recount the CERT's common dashboards before they go stale (a no-op when
    they are fresh), so the CERT's pages read counted figures."""
    return snapshots.refresh()


@task()
def generate_annual_report(job_id: int) -> str:
    """Make one annual report PDF the user asked for (its page polls until it is ready)."""
    return services.run_annual_report(job_id)
