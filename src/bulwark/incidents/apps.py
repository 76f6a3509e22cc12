from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class IncidentsConfig(AppConfig):
    name = "bulwark.incidents"
    label = "incidents"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        # What core does on behalf of incidents (core imports no app).
        registry.PERIODIC_TASKS.register("bulwark.incidents.tasks.check_clocks")
        registry.DATABASE_METRICS.register("bulwark.incidents.metrics.clock_figures")
        registry.HOME_FIGURES.register("bulwark.incidents.selectors.home_figures")
