"""Background work of national monitoring."""

from django_tasks import task

from bulwark.monitoring import behaviour


@task()
def detect_behaviour() -> int:
    """Periodic: the behavioural detectors over the last 24 h of archived agency logs, at
    most every BULWARK_BEHAVIOUR_INTERVAL seconds (default 3600); returns the alerts raised."""
    run = behaviour.run()
    return run.alerts if run is not None else 0
