"""Reads of the constituency shared by the pages and the API: the organisation list's
filters. Every function narrows a queryset the caller got from `visible_to`."""

from typing import TypeVar

from django.db.models import Q, QuerySet

from bulwark.constituency.models import Organisation

Organisations = TypeVar("Organisations", bound=QuerySet[Organisation])


def filter_organisations(
    orgs: Organisations, *, q: str = "", kind: str = "", country: str = ""
) -> Organisations:
    """The filters the organisation list page and `GET /api/v1/organisations/` share: a
    search in the name and short name, the kind, the country code (either case)."""
    if q:
        orgs = orgs.filter(Q(name__icontains=q) | Q(short_name__icontains=q))
    if kind:
        orgs = orgs.filter(kind=kind)
    if country:
        orgs = orgs.filter(country=country.upper())
    return orgs
