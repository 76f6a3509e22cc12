from django_tasks import task

from bulwark.incidents import alerts


@task()
def check_clocks() -> dict[str, int]:
    return alerts.check_clocks()
