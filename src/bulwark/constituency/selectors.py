"""Reads of the constituency shared by the pages, the API, services and tasks: the
organisation list's filters and a network claim's overlaps. Every function narrows a
queryset the caller got from `visible_to`, or reads for the platform itself."""

from typing import TypeVar

from django.db.models import Q, QuerySet

from bulwark.constituency import networks
from bulwark.constituency.models import NetworkClaim, Organisation

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


def overlaps_of(claim: NetworkClaim) -> list[networks.Overlap]:
    """Claims of other organisations that cover this one or that it covers."""
    others = NetworkClaim.objects.filter(kind=claim.kind).exclude(
        organisation_id=claim.organisation_id
    )
    mine = claim.as_claim()
    return [
        o
        for o in networks.find_overlaps([mine, *(c.as_claim() for c in others)])
        if mine in (o.broader, o.narrower)
    ]
