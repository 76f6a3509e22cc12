from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class ExchangeConfig(AppConfig):
    name = "bulwark.exchange"
    label = "exchange"
    verbose_name = _("Report exchange")

    def ready(self) -> None:
        # The exchange's token scopes join the platform's list (constituency/scopes.py
        # belongs to another app; adding keys here keeps that file untouched).
        from bulwark.constituency.scopes import SCOPES

        SCOPES.setdefault(
            "exchange:read", _("Read exchange events, notifications and reports you can see")
        )
        SCOPES.setdefault("exchange:write", _("Upload reports to the report exchange"))

        # What core does on behalf of the exchange (core imports no app).
        registry.PERIODIC_TASKS.register("bulwark.exchange.tasks.exchange_cycle")
        registry.DATABASE_METRICS.register("bulwark.exchange.metrics.exchange_figures")
