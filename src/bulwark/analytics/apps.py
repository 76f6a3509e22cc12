from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "bulwark.analytics"
    label = "analytics"
    verbose_name = _("Statistics and reports")

    def ready(self) -> None:
        from bulwark.analytics import sql  # noqa: F401  (registers SQLite's median aggregate)
        from bulwark.constituency.scopes import SCOPES

        SCOPES.setdefault("stats:read", _("Read statistics and trends you may see"))
