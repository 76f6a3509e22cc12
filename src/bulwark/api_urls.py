"""The REST API's router: every app registers its viewsets here (`<app>/api/routes.py`),
under /api/v1/."""

from rest_framework import routers

from bulwark.advisories.api import routes as advisories_routes
from bulwark.analytics.api import routes as analytics_routes
from bulwark.constituency.api import routes as constituency_routes
from bulwark.drills.api import routes as drills_routes
from bulwark.exchange.api import routes as exchange_routes
from bulwark.findings.api import routes as findings_routes
from bulwark.incidents.api import routes as incidents_routes
from bulwark.intel.api import routes as intel_routes
from bulwark.monitoring.api import routes as monitoring_routes
from bulwark.sso.api import routes as sso_routes
from bulwark.training.api import routes as training_routes


class APIRootView(routers.APIRootView):
    """Bulwark REST API, version 1. Authenticate with `Authorization: Bearer <token>`."""

    scope_exempt = True


class Router(routers.DefaultRouter):
    """Detail URLs take ASCII digits unless a viewset says otherwise (`lookup_value_regex`):
    DRF's default `[^/.]+` let an Arabic-Indic 1 reach the database as the id 1."""

    APIRootView = APIRootView

    def __init__(self) -> None:
        super().__init__()
        self._default_value_pattern = "[0-9]+"


router = Router()
for app_routes in (
    constituency_routes,
    incidents_routes,
    intel_routes,
    exchange_routes,
    monitoring_routes,
    advisories_routes,
    drills_routes,
    findings_routes,
    analytics_routes,
    sso_routes,
    training_routes,
):
    app_routes.register(router)

app_name = "api"
urlpatterns = router.urls
