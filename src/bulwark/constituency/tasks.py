"""Periodic upkeep of the constituency's tables (enqueued by `bulwark scheduler`)."""

from django_tasks import task

from bulwark.constituency import throttle


@task()
def purge_login_failures() -> int:
    return throttle.purge_expired()
