from django_tasks import task

from bulwark.incidents import services


@task()
def check_clocks() -> dict[str, int]:
    return services.check_clocks()
