from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class AdvisoriesConfig(AppConfig):
    name = "bulwark.advisories"
    label = "advisories"
    verbose_name = _("Advisories")

    def ready(self) -> None:
        from bulwark.advisories import checks  # noqa: F401  (registers the deploy check)

        # The API token scopes of this app (the list is shared; each app adds its own).
        from bulwark.constituency.scopes import SCOPES

        SCOPES.setdefault("advisories:read", _("Read the advisories you receive or write"))
        SCOPES.setdefault(
            "advisories:write",
            _("Acknowledge advisories, report actions, manage your inventory, write advisories"),
        )

        # What core does on behalf of advisories (core imports no app).
        registry.PERIODIC_TASKS.register("bulwark.advisories.tasks.follow_up")
