"""Reads of identity providers shared by the pages and the API."""

from django.db.models import QuerySet

from bulwark.core.permissions import Reader
from bulwark.sso.models import IdentityProvider


def providers(user: Reader) -> QuerySet[IdentityProvider]:
    """The identity providers `user` may read, with their organisation (the list page and
    `GET /api/v1/sso/providers/`)."""
    return IdentityProvider.objects.visible_to(user).select_related("organisation")
