"""Registers the drills app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter

from bulwark.drills.api.views import CampaignViewSet, ImprovementPlanViewSet, ObligationViewSet
from bulwark.drills.exercises import api as exercises


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    router.register("drills/campaigns", CampaignViewSet, basename="drill-campaign")
    router.register("drills/plans", ImprovementPlanViewSet, basename="drill-plan")
    router.register("drills/calendar", ObligationViewSet, basename="drill-obligation")
    # Exercises (drills/exercises/api.py).
    router.register("drills/exercises", exercises.ExerciseViewSet, basename="drill-exercise")
    router.register("drills/injects", exercises.InjectViewSet, basename="drill-inject")
    router.register("drills/responses", exercises.ResponseViewSet, basename="drill-response")
    router.register("drills/scores", exercises.ScoreViewSet, basename="drill-score")
    router.register("drills/items", exercises.ItemViewSet, basename="drill-item")
