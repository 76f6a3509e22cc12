from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class MonitoringConfig(AppConfig):
    name = "bulwark.monitoring"
    label = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self) -> None:
        from bulwark.constituency.scopes import SCOPES

        SCOPES.setdefault("monitoring:read", _("Read monitoring sightings and alerts"))
        SCOPES.setdefault("monitoring:write", _("Triage monitoring alerts"))

        # What core does on behalf of monitoring (core imports no app).
        registry.DATABASE_METRICS.register("bulwark.monitoring.metrics.monitoring_figures")
        registry.PERIODIC_TASKS.register("bulwark.monitoring.tasks.detect_behaviour")
