from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrainingConfig(AppConfig):
    name = "bulwark.training"
    label = "training"
    verbose_name = _("Training")

    def ready(self) -> None:
        from bulwark.constituency.scopes import SCOPES  # registry of scopes, filled at start

        SCOPES.setdefault("training:read", _("Read courses, learners, records and compliance"))
        SCOPES.setdefault("training:write", _("Manage learners, enrolments and records"))
