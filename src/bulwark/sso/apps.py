import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SsoConfig(AppConfig):
    name = "bulwark.sso"
    label = "sso"
    verbose_name = _("Single sign-on")

    def ready(self) -> None:

        from bulwark.sso import checks  # noqa: F401  (registers the deploy checks)
        from bulwark.training import learner_auth

        # The training sign-in page's buttons for learners' single sign-on.
        learner_auth.SSO_BUTTONS.install("bulwark.sso.views.learner_buttons")

        # xmlschema (under pysaml2) logs every schema it loads at INFO.
        logging.getLogger("xmlschema").setLevel(logging.WARNING)
