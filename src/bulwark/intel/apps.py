from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntelConfig(AppConfig):
    name = "bulwark.intel"
    label = "intel"
    verbose_name = _("Intelligence")

    def ready(self) -> None:
        # The token scopes of this app join the platform's list (constituency/scopes.py
        # belongs to another app; adding keys here keeps that file untouched).
        from bulwark.constituency.scopes import SCOPES

        SCOPES.setdefault("intel:read", _("Read shared intelligence (TAXII, exports)"))
        SCOPES.setdefault("intel:write", _("Share intelligence (TAXII POST, sightings)"))
