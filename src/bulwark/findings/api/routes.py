"""Registers the findings app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter

from bulwark.findings.api.views import (
    ChecklistViewSet,
    EngagementViewSet,
    FindingViewSet,
    ScanImportViewSet,
)


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    router.register("engagements", EngagementViewSet, basename="engagement")
    router.register("scan-imports", ScanImportViewSet, basename="scanimport")
    router.register("findings", FindingViewSet, basename="finding")
    router.register("checklists", ChecklistViewSet, basename="checklist")
