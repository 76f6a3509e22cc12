"""Registers the advisories app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter

from bulwark.advisories.api.views import AdvisoryViewSet, InventoryViewSet, TargetViewSet


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    router.register("advisories", AdvisoryViewSet, basename="advisory")
    router.register("advisory-targets", TargetViewSet, basename="advisorytarget")
    router.register("inventory", InventoryViewSet, basename="inventoryitem")
