from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class TrainingConfig(AppConfig):
    name = "bulwark.training"
    label = "training"
    verbose_name = _("Training")

    def ready(self) -> None:
        from bulwark.constituency.scopes import SCOPES  # registry of scopes, filled at start

        SCOPES.setdefault("training:read", _("Read courses, learners, records and compliance"))
        SCOPES.setdefault("training:write", _("Manage learners, enrolments and records"))

        # What core does on behalf of training (core imports no app).
        registry.PERIODIC_TASKS.register("bulwark.training.tasks.close_expired_attempts")
        registry.TRAINING_ENROLMENT.install("bulwark.training.services.enrol_from_another_app")

        # Findings picks an engagement's checklist by the agency's responsibility level,
        # which training keeps (findings sits below training and imports none of it).
        from bulwark.findings.selectors import AGENCY_LEVEL

        AGENCY_LEVEL["training"] = "bulwark.training.selectors.agency_level"
