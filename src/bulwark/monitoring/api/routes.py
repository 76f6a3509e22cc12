"""Registers the monitoring app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    from bulwark.monitoring.api.views import AlertViewSet, SightingViewSet

    router.register("monitoring/sightings", SightingViewSet, basename="monitoring-sighting")
    router.register("monitoring/alerts", AlertViewSet, basename="monitoring-alert")
