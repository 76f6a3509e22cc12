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

        # The incident page shows what else carries its values (incidents imports no intel).
        from bulwark.incidents.selectors import DETAIL_PANELS

        DETAIL_PANELS["correlations"] = "bulwark.intel.selectors.incident_correlations"

        # What a viewer may read is cached for a few seconds per viewer (intel/access.py);
        # a change of a collection or a sharing group is seen at once in this process.
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from bulwark.intel.access import forget_cached
        from bulwark.intel.models import Collection, SharingGroup

        def _forget(**_kwargs: object) -> None:
            forget_cached()

        for model in (Collection, SharingGroup):
            post_save.connect(_forget, sender=model, weak=False)
            post_delete.connect(_forget, sender=model, weak=False)
        m2m_changed.connect(_forget, sender=SharingGroup.organisations.through, weak=False)
