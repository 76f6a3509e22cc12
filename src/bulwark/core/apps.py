from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class CoreConfig(AppConfig):
    name = "bulwark.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from bulwark.core import checks  # noqa: F401  (registers the production checks)

        # Every app declares its write actions in `<app>/rules.py` (core/permissions.py);
        # discovered by name so that core imports no app.
        autodiscover_modules("rules")
        registry.PERIODIC_TASKS.register("bulwark.core.tasks.checkpoint_audit")
        registry.PERIODIC_TASKS.register("bulwark.core.tasks.send_notification_digests")
