"""Registers the intel app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    from bulwark.intel.api import views as api

    router.register("intel/values", api.IntelValueViewSet, basename="intel-value")
    router.register("intel/indicators", api.IntelIndicatorViewSet, basename="intel-indicator")
    router.register("intel/sightings", api.IntelSightingViewSet, basename="intel-sighting")
    router.register("intel/submissions", api.IntelSubmissionViewSet, basename="intel-submission")
