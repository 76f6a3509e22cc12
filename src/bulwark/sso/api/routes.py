"""Registers the single-sign-on viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter


def register(router: BaseRouter) -> None:
    from bulwark.sso.api import views as api

    router.register("sso/providers", api.IdentityProviderViewSet, basename="sso-provider")
