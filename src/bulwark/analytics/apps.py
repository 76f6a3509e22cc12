from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class AnalyticsConfig(AppConfig):
    name = "bulwark.analytics"
    label = "analytics"
    verbose_name = _("Statistics and reports")

    def ready(self) -> None:
        from bulwark.analytics import sql  # noqa: F401  (registers SQLite's median aggregate)
        from bulwark.constituency.scopes import SCOPES

        SCOPES.setdefault("stats:read", _("Read statistics and trends you may see"))

        # What core does on behalf of statistics (core imports no app).
        registry.PERIODIC_TASKS.register("bulwark.analytics.tasks.send_summaries")
        registry.PERIODIC_TASKS.register("bulwark.analytics.tasks.refresh_snapshots")
        # Matplotlib and its fonts, imported by servers and workers before taking work.
        registry.PRELOAD.register("bulwark.analytics.charts")
