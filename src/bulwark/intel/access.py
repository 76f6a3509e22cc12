"""Who may read shared intelligence: TLP 2.0, collections and sharing groups, written once.

Every read path (pages, REST API, TAXII, exports, counts, correlation) filters with
`object_q`, directly on `StixObject` or through a join (`prefix`).

- TLP:CLEAR: anyone, including anonymous readers of a public collection.
- TLP:GREEN: the community: signed-in members of an organisation.
- TLP:AMBER: the recipient organisations (the source, the collection's member, the
  organisations of the sharing group) and their clients (organisations below them).
- TLP:AMBER+STRICT: the recipient organisations only.
- TLP:RED: the named individuals and the person who shared it; nobody else, not even the
  CERT, unless named.
A sharing group narrows every level to its organisations. Objects awaiting review are seen
by their source organisation and the CERT only. CERT staff see every other object.
"""

from django.db.models import Q

from bulwark.constituency.access import Viewer, viewer_of
from bulwark.core.tlp import TLP

__all__ = ["collection_q", "group_ids", "object_q", "viewer_of"]

PUBLISHED = "published"


def group_ids(org_ids: frozenset[int]) -> list[int]:
    from bulwark.intel.models import SharingGroup

    if not org_ids:
        return []
    return list(
        SharingGroup.objects.filter(organisations__in=org_ids)
        .values_list("pk", flat=True)
        .distinct()
    )


def collection_q(viewer: Viewer) -> Q | None:
    """None means every collection."""
    if viewer.sees_everything:
        return None
    if not viewer.authenticated:
        return Q(public=True, sharing_group__isnull=True)
    readable = Q(public=True) | Q(organisation_id__in=viewer.own_org_ids)
    if viewer.own_org_ids:
        readable |= Q(organisation__isnull=True)
    groups = group_ids(viewer.own_org_ids)
    return readable & (Q(sharing_group__isnull=True) | Q(sharing_group_id__in=groups))


def _red_q(viewer: Viewer, p: str) -> Q:
    from bulwark.intel.models import StixObject

    named = StixObject.red_recipients.through.objects.filter(user_id=viewer.user_id or 0).values(
        "stixobject_id"
    )
    return Q(**{p + "tlp": TLP.RED}) & (
        Q(**{p + "submitted_by_id": viewer.user_id}) | Q(**{p + "pk__in": named})
    )


def object_q(viewer: Viewer, p: str = "") -> Q | None:
    """The objects a viewer may read; None means no restriction is needed."""
    from bulwark.intel.models import Collection

    if not viewer.authenticated:
        public = Collection.objects.filter(public=True).values("pk")
        return Q(
            **{
                p + "tlp": TLP.CLEAR,
                p + "status": PUBLISHED,
                p + "sharing_group__isnull": True,
                p + "collection_id__in": public,
            }
        )
    if viewer.sees_everything:
        return ~Q(**{p + "tlp": TLP.RED}) | _red_q(viewer, p)
    own = viewer.own_org_ids
    wide = own | viewer.ancestor_org_ids
    groups = group_ids(own)
    groups_wide = group_ids(wide)
    cq = collection_q(viewer)
    readable = list(Collection.objects.filter(cq or Q()).values_list("pk", flat=True))
    released = (
        Q(**{p + "status": PUBLISHED})
        | Q(**{p + "source_org_id__in": own})
        | Q(**{p + "submitted_by_id": viewer.user_id})
    )
    in_group = Q(**{p + "sharing_group__isnull": True}) | Q(**{p + "sharing_group_id__in": groups})
    levels = Q(**{p + "tlp": TLP.CLEAR})
    if own:
        levels |= Q(**{p + "tlp": TLP.GREEN})
    levels |= Q(**{p + "tlp": TLP.AMBER}) & (
        Q(**{p + "source_org_id__in": wide})
        | Q(**{p + "audience_org_id__in": wide})
        | Q(**{p + "sharing_group_id__in": groups_wide})
    )
    levels |= Q(**{p + "tlp": TLP.AMBER_STRICT}) & (
        Q(**{p + "source_org_id__in": own})
        | Q(**{p + "audience_org_id__in": own})
        | Q(**{p + "sharing_group_id__in": groups})
    )
    return (Q(**{p + "collection_id__in": readable}) & released & in_group & levels) | _red_q(
        viewer, p
    )
