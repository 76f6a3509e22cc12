from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class DrillsConfig(AppConfig):
    name = "bulwark.drills"
    label = "drills"
    verbose_name = _("Drills")

    def ready(self) -> None:
        # The API token scopes of this app (the list is shared; each app adds its own).
        from bulwark.constituency.scopes import SCOPES

        SCOPES.setdefault("drills:read", _("Read the drills and results you may see"))
        SCOPES.setdefault("drills:write", _("Run campaigns and file improvement plans"))

        # What core and the mail intake do on behalf of drills (they import no app above).
        registry.PERIODIC_TASKS.register("bulwark.drills.tasks.send_due")
        registry.MAIL_INTAKE.register("bulwark.drills.intake.handle")
