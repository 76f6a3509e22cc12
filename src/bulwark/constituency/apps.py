from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class ConstituencyConfig(AppConfig):
    name = "bulwark.constituency"
    label = "constituency"
    verbose_name = _("Constituency")

    def ready(self) -> None:
        # What core does on behalf of the constituency (core imports no app).
        from bulwark.constituency import (
            access,
            signals,  # noqa: F401
        )
        from bulwark.constituency.api import schema  # noqa: F401
        from bulwark.constituency.api.authentication import metrics_token_refusal

        registry.AUDIT_READER.install(access.audit_reader)
        registry.METRICS_TOKEN_REFUSAL.install(metrics_token_refusal)
        registry.HOME_FIGURES.register("bulwark.constituency.views.home_figures")
        registry.PERIODIC_TASKS.register("bulwark.constituency.tasks.purge_login_failures")
