"""Who a user is to the platform: the one place that turns memberships into rights.

Every `visible_to(user)` queryset method reads a `Viewer`, so the rules in
docs/access.md are written once. The viewer is computed once per user object and
dropped by services that change memberships or the hierarchy.
"""

import copy
import hashlib
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from django.core.exceptions import PermissionDenied

from bulwark.constituency.models import (
    CERT_STAFF_ROLES,
    ConstituencyVersion,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
)
from bulwark.core.permissions import Reader
from bulwark.core.registry import AuditReader

_CACHE_ATTR = "_bulwark_viewer"
T = TypeVar("T")


@dataclass(frozen=True)
class Viewer:
    user_id: int | None
    platform_admin: bool = False
    cert_staff: bool = False
    roles: dict[int, frozenset[str]] = field(default_factory=dict)
    own_org_ids: frozenset[int] = frozenset()
    supervised_org_ids: frozenset[int] = frozenset()
    ancestor_org_ids: frozenset[int] = frozenset()

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def sees_everything(self) -> bool:
        """Platform admins and CERT staff see the whole constituency."""
        return self.platform_admin or self.cert_staff

    @property
    def managed_org_ids(self) -> frozenset[int]:
        """Own organisations and every organisation below them in the hierarchy."""
        return self.own_org_ids | self.supervised_org_ids

    def has_role(self, role: str, org_id: int | None = None) -> bool:
        if org_id is not None:
            return role in self.roles.get(org_id, frozenset())
        return any(role in roles for roles in self.roles.values())

    def administers(self, org_id: int) -> bool:
        return self.platform_admin or self.has_role(Role.ORG_ADMIN, org_id)

    @property
    def manages_constituency(self) -> bool:
        """May create organisations, claim networks for anyone, and manage all users."""
        return self.platform_admin

    @cached_property
    def fingerprint(self) -> str:
        """A short digest of everything that decides what this viewer sees (roles per
        organisation, the hierarchy around them). It changes whenever a membership, a role,
        an organisation's active state or the hierarchy changes, so anything kept per
        viewer (statistics snapshots) can be keyed by it and is never read after such a
        change."""
        parts = [
            str(self.user_id),
            "A" if self.platform_admin else "",
            "C" if self.cert_staff else "",
            ";".join(f"{o}={','.join(sorted(r))}" for o, r in sorted(self.roles.items())),
            ",".join(map(str, sorted(self.supervised_org_ids))),
            ",".join(map(str, sorted(self.ancestor_org_ids))),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    @property
    def requires_second_factor(self) -> bool:
        return (
            self.platform_admin
            or self.cert_staff
            or bool(self.roles and any(Role.ORG_ADMIN in r for r in self.roles.values()))
        )


ANONYMOUS = Viewer(user_id=None)


def _descendants(org_ids: frozenset[int]) -> set[int]:
    """Every organisation below the given ones, one indexed query per level."""
    found: set[int] = set()
    frontier = set(org_ids)
    while frontier:
        children = set(
            Organisation.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
        )
        frontier = children - found - org_ids
        found |= frontier
    return found


def _ancestors(org_ids: frozenset[int]) -> set[int]:
    found: set[int] = set()
    frontier = set(org_ids)
    while frontier:
        parents = set(
            Organisation.objects.filter(pk__in=frontier, parent_id__isnull=False).values_list(
                "parent_id", flat=True
            )
        )
        frontier = parents - found - org_ids
        found |= frontier
    return found


def compute_viewer(user: User) -> Viewer:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return ANONYMOUS
    roles: dict[int, set[str]] = defaultdict(set)
    cert_staff = platform_admin = False
    for org_id, kind, role in Membership.objects.filter(
        user_id=user.pk, organisation__is_active=True
    ).values_list("organisation_id", "organisation__kind", "role"):
        roles[org_id].add(role)
        if kind == OrganisationKind.NATIONAL_CERT:
            cert_staff = cert_staff or role in CERT_STAFF_ROLES
            platform_admin = platform_admin or role == Role.PLATFORM_ADMIN
    platform_admin = platform_admin or bool(user.is_superuser)
    own = frozenset(roles)
    supervised: set[int] = set()
    ancestors: set[int] = set()
    # CERT staff see everything, so their hierarchy is never consulted.
    if own and not (platform_admin or cert_staff):
        supervised = _descendants(own)
        ancestors = _ancestors(own)
    return Viewer(
        user_id=user.pk,
        platform_admin=platform_admin,
        cert_staff=cert_staff,
        roles={org_id: frozenset(r) for org_id, r in roles.items()},
        own_org_ids=own,
        supervised_org_ids=frozenset(supervised - own),
        ancestor_org_ids=frozenset(ancestors - own),
    )


def acting_user(request: Any) -> User:
    """The signed-in person behind a request, for services (which record who acted)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def viewer_of(user: Reader) -> Viewer:
    # Every signed-in person is a `User` (AUTH_USER_MODEL); anyone else sees what the
    # anonymous viewer sees.
    if not isinstance(user, User) or not user.is_authenticated:
        return ANONYMOUS
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = compute_viewer(user)
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_viewer(user: Reader) -> None:
    if user is not None and hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


# --- Viewers kept across requests -------------------------------------------------------
# A viewer is a function of the constituency tables only (memberships, organisations and
# their hierarchy, the user's flags), so it can be kept per (user, constituency stamp): the
# stamp changes in the same transaction as any change to those tables (see
# models.ConstituencyVersion), so a kept viewer is never used after a membership, a role
# or the hierarchy changed. The API's bearer authentication reads the stamp in the same
# query as the token, so a request whose viewer is kept runs no query for it.
class _KeptPerStamp(Generic[T]):
    """A bounded map (least recently used goes first) of what was read for a stamp."""

    def __init__(self, size: int = 5000) -> None:
        self._items: OrderedDict[tuple[int, str], T] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str]) -> T | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple[int, str], item: T) -> None:
        with self._lock:
            self._items[key] = item
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_VIEWERS: _KeptPerStamp[Viewer] = _KeptPerStamp()
_USERS: _KeptPerStamp[User] = _KeptPerStamp()


def current_stamp() -> str | None:
    """The constituency's version stamp now, or None when unknown (no row)."""
    return ConstituencyVersion.objects.filter(pk=1).values_list("stamp", flat=True).first()


def viewer_for_stamp(user: Reader, stamp: str | None) -> Viewer:
    """`viewer_of(user)`, taken from the viewers kept for this stamp when there is one; the
    user's own cache attribute is set either way."""
    if stamp is None or not isinstance(user, User) or not user.is_authenticated:
        return viewer_of(user)
    key = (int(user.pk), stamp)
    viewer = _VIEWERS.get(key)
    if viewer is None:
        viewer = compute_viewer(user)
        _VIEWERS.put(key, viewer)
    setattr(user, _CACHE_ATTR, viewer)
    return viewer


def user_for_stamp(user_id: int, stamp: str | None) -> User:
    """The user row, read once per constituency stamp (the users table is one of those
    that change the stamp) and handed out as a copy, so nothing a request sets on its user
    reaches another request."""
    kept = _USERS.get((user_id, stamp)) if stamp else None
    if kept is None:
        kept = User.objects.get(pk=user_id)
        if stamp:
            _USERS.put((user_id, stamp), kept)
    user = copy.copy(kept)
    user._state = copy.copy(kept._state)
    user._state.fields_cache = {}
    return user


def audit_reader(user: Reader) -> AuditReader:
    """Who reads which part of the audit log: platform admins all of it, organisation
    admins the entries about the organisations they administer (the `audit.read` rule);
    installed as core's audit rule (`ConstituencyConfig.ready`)."""
    viewer = viewer_of(user)
    return AuditReader(
        everything=viewer.platform_admin,
        organisations=frozenset(o for o, roles in viewer.roles.items() if Role.ORG_ADMIN in roles),
        sees_everything=viewer.sees_everything,
    )
