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
from typing import Any, TypeVar

from django.db.models import Manager, Model, Q, QuerySet

from bulwark.constituency.access import Viewer, viewer_of
from bulwark.core.permissions import Reader
from bulwark.core.tlp import TLP

__all__ = [
    "VisibleManager", "VisibleQuerySet", "collection_q", "group_ids", "object_q", "restrict",
    "viewer_of", "visible_rows",
]  # fmt: skip

PUBLISHED = "published"


# A viewer's readable collections and sharing groups, for a few seconds: a page or a
# correlation asks for them several times, and they change only when the CERT edits a
# collection or a group (which a reader sees at most CACHE_SECONDS later). Keyed by the
# viewer's fingerprint (user, roles, hierarchy), so the next request of the same user
# finds them, and a change of role or membership is never answered from the cache.
CACHE_SECONDS = 5.0
_cache: dict[tuple[str, str], tuple[float, list[int]]] = {}


def _cached(viewer: Viewer, key: str, compute: Callable[[], list[int]]) -> list[int]:
    now = time.monotonic()
    slot = (viewer.fingerprint, key)
    hit = _cache.get(slot)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    if len(_cache) > 1000:
        _cache.clear()
    value = compute()
    _cache[slot] = (now, value)
    return value


def forget_cached() -> None:
    _cache.clear()
    _rows.clear()


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


def _recipients(p: str, orgs: frozenset[int], groups: list[int]) -> Q | None:
    """Objects whose recipients include one of the organisations (as source, audience or
    through a sharing group); None when there are none to name."""
    if not orgs and not groups:
        return None
    q = Q()
    if orgs:
        q |= Q(**{p + "source_org_id__in": orgs}) | Q(**{p + "audience_org_id__in": orgs})
    if groups:
        q |= Q(**{p + "sharing_group_id__in": groups})
    return q


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
    released = Q(**{p + "status": PUBLISHED}) | Q(**{p + "submitted_by_id": viewer.user_id})
    if own:
        released |= Q(**{p + "source_org_id__in": own})
    in_group = Q(**{p + "sharing_group__isnull": True})
    if groups:
        in_group |= Q(**{p + "sharing_group_id__in": groups})
    # Fewer lookups build faster (Django's cost, not the database's): empty id lists are
    # left out, and AMBER and AMBER+STRICT share one clause when the viewer's
    # organisations have no parents (then "their clients" adds nobody).
    levels = Q(**{p + "tlp__in": [TLP.CLEAR, TLP.GREEN] if own else [TLP.CLEAR]})
    amber = _recipients(p, wide, groups_wide)
    strict = _recipients(p, own, groups)
    if wide == own and groups_wide == groups:
        if amber is not None:
            levels |= Q(**{p + "tlp__in": [TLP.AMBER, TLP.AMBER_STRICT]}) & amber
    else:
        if amber is not None:
            levels |= Q(**{p + "tlp": TLP.AMBER}) & amber
        if strict is not None:
            levels |= Q(**{p + "tlp": TLP.AMBER_STRICT}) & strict
    return (Q(**{p + "collection_id__in": readable}) & released & in_group & levels) | _red_q(
        viewer, p
    )


def restrict(qs: QuerySet[Any], user: Reader, prefix: str = "") -> QuerySet[Any]:
    """`qs` narrowed to what the user may read (`object_q`, through `prefix`)."""
    return _narrow(qs, viewer_of(user), prefix)


def _narrow(qs: QuerySet[Any], viewer: Viewer, prefix: str) -> QuerySet[Any]:
    q = object_q(viewer, prefix)
    return qs if q is None else qs.filter(q)


# Every row of a model that a viewer may read, as an unevaluated queryset: Django takes
# about 1 ms to turn object_q into a query (two dozen lookups through a join), more than
# the database takes to answer a correlation. It is built once per viewer and model for
# CACHE_SECONDS, like the lists it is built from, and each caller gets a clone (querysets
# are never changed in place, and this one is never evaluated).
_rows: dict[tuple[str, type, str], tuple[float, QuerySet[Any]]] = {}


def visible_rows(everything: QuerySet[Any], user: Reader, prefix: str = "") -> QuerySet[Any]:
    """`restrict(everything, user, prefix)` for a manager's unfiltered queryset, cached."""
    viewer = viewer_of(user)
    key = (viewer.fingerprint, everything.model, prefix)
    now = time.monotonic()
    hit = _rows.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1].all()
    if len(_rows) > 1000:
        _rows.clear()
    rows = _narrow(everything, viewer, prefix)
    _rows[key] = (now, rows)
    return rows.all()


_M = TypeVar("_M", bound=Model)


class VisibleQuerySet(QuerySet[_M]):
    """Rows of shared intelligence: `visible_to` applies `object_q` to the STIX object
    reached through `visibility_prefix` ("" for the object itself)."""

    visibility_prefix = ""

    def visible_to(self, user: Reader) -> "VisibleQuerySet[_M]":
        return restrict(self, user, self.visibility_prefix)  # type: ignore[return-value]


class VisibleManager(Manager[_M]):
    """`Model.objects.visible_to(user)`: the queryset's rule, with the filter built once
    per viewer (`visible_rows`)."""

    def visible_to(self, user: Reader) -> VisibleQuerySet[_M]:
        everything = self.get_queryset()
        prefix = getattr(everything, "visibility_prefix", "")
        return visible_rows(everything, user, prefix)  # type: ignore[return-value]
