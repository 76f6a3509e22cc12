from django_tasks import task

from bulwark.training import services


@task()
def close_expired_attempts() -> int:
    """Score every attempt whose time is up (enqueued by `bulwark scheduler`)."""
    return services.close_expired_attempts()
