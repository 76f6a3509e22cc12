"""Registers the drills app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter

from bulwark.drills.api.views import CampaignViewSet, ImprovementPlanViewSet, ObligationViewSet


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    router.register("drills/campaigns", CampaignViewSet, basename="drill-campaign")
    router.register("drills/plans", ImprovementPlanViewSet, basename="drill-plan")
    router.register("drills/calendar", ObligationViewSet, basename="drill-obligation")
