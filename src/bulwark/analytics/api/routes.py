"""Registers the statistics app's API views on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter

from bulwark.analytics.api.views import StatisticsViewSet


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    router.register("stats", StatisticsViewSet, basename="stats")
