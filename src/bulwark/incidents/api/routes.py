"""Registers the incidents app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter

from bulwark.incidents.api.views import IncidentViewSet


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    router.register("incidents", IncidentViewSet, basename="incident")
