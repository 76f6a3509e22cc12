"""The REST API's router: every app registers its viewsets here, under /api/v1/."""

from rest_framework import routers

from bulwark.advisories import api_routes as advisories_routes
from bulwark.analytics import api_routes as analytics_routes
from bulwark.constituency.api import views
from bulwark.exchange import api_routes as exchange_routes
from bulwark.incidents.api.views import IncidentViewSet
from bulwark.intel import api_routes as intel_routes
from bulwark.monitoring import api_routes as monitoring_routes
from bulwark.sso import api_routes as sso_routes


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
router.register("organisations", views.OrganisationViewSet, basename="organisation")
router.register("networks", views.NetworkClaimViewSet, basename="networkclaim")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("users", views.UserViewSet, basename="user")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("invitations", views.InvitationViewSet, basename="invitation")
router.register("sectors", views.SectorViewSet, basename="sector")
router.register("tokens", views.ApiTokenViewSet, basename="apitoken")
router.register("audit", views.AuditEntryViewSet, basename="auditentry")
router.register("incidents", IncidentViewSet, basename="incident")
for app_routes in (
    intel_routes,
    exchange_routes,
    monitoring_routes,
    advisories_routes,
    analytics_routes,
    sso_routes,
):
    app_routes.register(router)

app_name = "api"
urlpatterns = router.urls
