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

import time
from collections.abc import Callable

from django.db.models import Q

from bulwark.constituency.access import Viewer, viewer_of
from bulwark.core.tlp import TLP

__all__ = ["collection_q", "group_ids", "object_q", "viewer_of"]

PUBLISHED = "published"


# A viewer's readable collections and sharing groups, for a few seconds: a page or a
# correlation asks for them several times, and they change only when the CERT edits a
# collection or a group (which a reader sees at most CACHE_SECONDS later).
CACHE_SECONDS = 5.0
_cache: dict[tuple[int, str], tuple[float, Viewer, list[int]]] = {}


def _cached(viewer: Viewer, key: str, compute: Callable[[], list[int]]) -> list[int]:
    now = time.monotonic()
    hit = _cache.get((id(viewer), key))
    if hit is not None and hit[1] is viewer and now - hit[0] < CACHE_SECONDS:
        return hit[2]
    if len(_cache) > 1000:
        _cache.clear()
    value = compute()
    _cache[(id(viewer), key)] = (now, viewer, value)
    return value


def forget_cached() -> None:
    _cache.clear()


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
    groups = _cached(viewer, "groups", lambda: group_ids(own))
    groups_wide = _cached(viewer, "groups_wide", lambda: group_ids(wide))
    readable = _cached(
        viewer,
        "collections",
        lambda: list(
            Collection.objects.filter(collection_q(viewer) or Q()).values_list("pk", flat=True)
        ),
    )
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
