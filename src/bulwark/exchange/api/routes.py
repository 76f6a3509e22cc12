"""Registers the exchange app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    from bulwark.exchange.api import views as api

    router.register("exchange/reports", api.ReportViewSet, basename="exchange-report")
    router.register("exchange/events", api.EventViewSet, basename="exchange-event")
    router.register("exchange/mappings", api.ColumnMappingViewSet, basename="exchange-mapping")
    router.register(
        "exchange/notifications", api.NotificationViewSet, basename="exchange-notification"
    )
