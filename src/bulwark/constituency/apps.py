from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class ConstituencyConfig(AppConfig):
    name = "bulwark.constituency"
    label = "constituency"
    verbose_name = _("Constituency")

    def ready(self) -> None:
        from bulwark.constituency import signals  # noqa: F401
        from bulwark.constituency.api import schema  # noqa: F401

        # The models' `visible_to` ask the visibility rule, which reads the models.
        from bulwark.constituency.models import VIEWER_OF

        VIEWER_OF.install("bulwark.constituency.access.viewer_of")

        # What core does on behalf of the constituency (core imports no app).
        registry.AUDIT_READER.install("bulwark.constituency.access.audit_reader")
        registry.METRICS_TOKEN_REFUSAL.install(
            "bulwark.constituency.api.authentication.metrics_token_refusal"
        )
        registry.HOME_FIGURES.register("bulwark.constituency.views.home_figures")
        registry.PERIODIC_TASKS.register("bulwark.constituency.tasks.purge_login_failures")
