"""Registers the constituency app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter

from bulwark.constituency.api import views


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    router.register("organisations", views.OrganisationViewSet, basename="organisation")
    router.register("networks", views.NetworkClaimViewSet, basename="networkclaim")
    router.register("contacts", views.ContactViewSet, basename="contact")
    router.register("users", views.UserViewSet, basename="user")
    router.register("memberships", views.MembershipViewSet, basename="membership")
    router.register("invitations", views.InvitationViewSet, basename="invitation")
    router.register("sectors", views.SectorViewSet, basename="sector")
    router.register("tokens", views.ApiTokenViewSet, basename="apitoken")
    router.register("audit", views.AuditEntryViewSet, basename="auditentry")
