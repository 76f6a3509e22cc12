"""Who may change what. Reads are governed by `visible_to`; writes by these rules,
which services enforce and views consult to decide which buttons to show."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from bulwark.constituency.access import Viewer
from bulwark.constituency.models import CERT_STAFF_ROLES, Membership, Organisation, Role, User
from bulwark.constituency.scopes import BASE_SCOPES, ROLE_SCOPES, SCOPES

# Roles that only a platform admin may grant, because they open the whole constituency.
PRIVILEGED_ROLES = {*CERT_STAFF_ROLES, Role.PLATFORM_ADMIN}


def can_create_organisation(viewer: Viewer) -> bool:
    return viewer.manages_constituency


def can_edit_organisation(viewer: Viewer, org: Organisation) -> bool:
    return viewer.manages_constituency or viewer.administers(org.pk)


def can_manage_networks(viewer: Viewer, org: Organisation) -> bool:
    # Network claims decide where reports are routed, so only the platform admins
    # (the CERT) approve them; organisations ask the CERT to change them.
    return viewer.manages_constituency


def can_manage_contacts(viewer: Viewer, org: Organisation) -> bool:
    return viewer.manages_constituency or viewer.administers(org.pk)


def can_manage_members(viewer: Viewer, org: Organisation, role: str | None = None) -> bool:
    if viewer.manages_constituency:
        return True
    if role in PRIVILEGED_ROLES:
        return False
    return viewer.administers(org.pk)


def grantable_roles(viewer: Viewer) -> list[str]:
    """The roles this person may grant somewhere (what the role lists offer)."""
    if viewer.manages_constituency:
        return list(Role.values)
    if not viewer.has_role(Role.ORG_ADMIN):
        return []
    return [r for r in Role.values if r not in PRIVILEGED_ROLES]


def roles_offered(viewer: Viewer, org: Organisation) -> list[str]:
    """The roles this person may grant in this organisation that its type allows (CERT
    roles at the national CERT, reviewers at a supervising authority or the CERT): what
    the organisation page's role lists offer."""
    from bulwark.constituency.models import SUPERVISING_KINDS, OrganisationKind

    offered = []
    for role in grantable_roles(viewer):
        if role in PRIVILEGED_ROLES and org.kind != OrganisationKind.NATIONAL_CERT:
            continue
        if role == Role.REVIEWER and org.kind not in SUPERVISING_KINDS:
            continue
        offered.append(role)
    return offered


def administered_org_ids(viewer: Viewer) -> set[int]:
    return {org_id for org_id in viewer.roles if viewer.administers(org_id)}


def can_attach_user(viewer: Viewer, user: User) -> bool:
    """An organisation admin adds existing people only if they are already members of an
    organisation the admin administers; anyone else's users (another agency's) are not
    theirs to attach. Platform admins attach anyone."""
    if viewer.manages_constituency:
        return True
    administered = administered_org_ids(viewer)
    return bool(administered) and (
        Membership.objects.filter(user=user, organisation_id__in=administered).exists()
    )


def token_scopes(viewer: Viewer) -> frozenset[str]:
    """The scopes a token of this person may carry: what their roles allow (docs/access.md).
    An anonymous or deactivated viewer may hold none."""
    if not viewer.authenticated:
        return frozenset()
    if viewer.platform_admin:
        return frozenset(SCOPES)
    allowed = set(BASE_SCOPES)
    for roles in viewer.roles.values():
        for role in roles:
            allowed |= ROLE_SCOPES.get(role, frozenset())
    return frozenset(allowed & set(SCOPES))


def can_manage_users(viewer: Viewer) -> bool:
    return viewer.manages_constituency or viewer.has_role(Role.ORG_ADMIN)


def can_read_audit(viewer: Viewer) -> bool:
    return viewer.platform_admin or viewer.has_role(Role.ORG_ADMIN)


def require(allowed: bool, message: str | None = None) -> None:
    if not allowed:
        raise PermissionDenied(message or _("You are not allowed to do this."))


def can_reset_second_factor(viewer: Viewer, user: User) -> bool:
    """Platform admins reset anyone's second factor but their own (they re-enrol instead);
    an organisation admin only that of people whose every membership is in organisations
    they administer and who hold no role only platform admins may grant."""
    if not viewer.authenticated or viewer.user_id == user.pk:
        return False
    if viewer.manages_constituency:
        return True
    if user.is_superuser:
        return False
    held = list(Membership.objects.filter(user=user).values_list("organisation_id", "role"))
    administered = administered_org_ids(viewer)
    return (
        bool(held)
        and all(org_id in administered for org_id, _role in held)
        and not any(role in PRIVILEGED_ROLES for _org, role in held)
    )
