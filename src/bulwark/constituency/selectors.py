"""Reads of the constituency shared by pages, services and tasks."""

from bulwark.constituency import networks
from bulwark.constituency.models import NetworkClaim


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
