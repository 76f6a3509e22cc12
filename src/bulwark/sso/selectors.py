"""Reads of identity providers shared by the pages and the API."""

from typing import Any

from django.db.models import QuerySet

from bulwark.sso.models import IdentityProvider


def providers(user: Any) -> QuerySet[IdentityProvider]:
    """The identity providers `user` may read, with their organisation (the list page and
    `GET /api/v1/sso/providers/`)."""
    return IdentityProvider.objects.visible_to(user).select_related("organisation")
