from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConstituencyConfig(AppConfig):
    name = "bulwark.constituency"
    label = "constituency"
    verbose_name = _("Constituency")

    def ready(self) -> None:
        from bulwark.constituency import signals  # noqa: F401
        from bulwark.constituency.api import schema  # noqa: F401
