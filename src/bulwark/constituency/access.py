"""Who a user is to the platform: the one place that turns memberships into rights.

Every `visible_to(user)` queryset method reads a `Viewer`, so the rules in
docs/access.md are written once. The viewer is computed once per user object and
dropped by services that change memberships or the hierarchy.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied

from bulwark.constituency.models import (
    CERT_STAFF_ROLES,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
)

_CACHE_ATTR = "_bulwark_viewer"


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

    @property
    def requires_second_factor(self) -> bool:
        return (
            self.platform_admin
            or self.cert_staff
            or bool(self.roles and any(Role.ORG_ADMIN in r for r in self.roles.values()))
        )


ANONYMOUS = Viewer(user_id=None)


def _hierarchy() -> tuple[dict[int, list[int]], dict[int, int | None]]:
    children: dict[int, list[int]] = defaultdict(list)
    parents: dict[int, int | None] = {}
    for org_id, parent_id in Organisation.objects.values_list("pk", "parent_id"):
        parents[org_id] = parent_id
        if parent_id is not None:
            children[parent_id].append(org_id)
    return children, parents


def compute_viewer(user: Any) -> Viewer:
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
    if own:
        children, parents = _hierarchy()
        stack = [c for org_id in own for c in children.get(org_id, [])]
        while stack:
            org_id = stack.pop()
            if org_id not in supervised:
                supervised.add(org_id)
                stack.extend(children.get(org_id, []))
        for org_id in own:
            parent = parents.get(org_id)
            while parent is not None and parent not in ancestors:
                ancestors.add(parent)
                parent = parents.get(parent)
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


def viewer_of(user: Any) -> Viewer:
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = compute_viewer(user)
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_viewer(user: Any) -> None:
    if user is not None and hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)
