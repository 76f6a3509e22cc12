from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class CoreConfig(AppConfig):
    name = "bulwark.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from bulwark.core import checks  # noqa: F401  (registers the production checks)

        registry.PERIODIC_TASKS.register("bulwark.core.tasks.checkpoint_audit")
        registry.PERIODIC_TASKS.register("bulwark.core.tasks.send_notification_digests")
