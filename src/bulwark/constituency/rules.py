"""Who may change what in the constituency: the actions of this app (organisations,
networks, contacts, members, users, tokens, the audit log), declared in the one
vocabulary of `bulwark.core.permissions` and asked with `can(user, action, obj)` /
`require(user, action, obj)` by services, pages and the API alike. Reads are governed
by `visible_to`. Also here: what the role lists and token forms may offer."""

from django.utils.translation import gettext_lazy

from bulwark.constituency.access import Viewer, viewer_of
from bulwark.constituency.models import (
    CERT_STAFF_ROLES,
    SUPERVISING_KINDS,
    ApiToken,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
)
from bulwark.constituency.scopes import BASE_SCOPES, ROLE_SCOPES, SCOPES
from bulwark.core.permissions import action

# Roles that only a platform admin may grant, because they open the whole constituency.
PRIVILEGED_ROLES = {*CERT_STAFF_ROLES, Role.PLATFORM_ADMIN}


@action("constituency.manage")
def manage_constituency(user: User, obj: None = None) -> bool:
    """The whole constituency: its hierarchy, who is active, invitations outside an
    organisation (platform admins)."""
    return viewer_of(user).manages_constituency


@action("organisation.create")
def create_organisation(user: User, obj: None = None) -> bool:
    return viewer_of(user).manages_constituency


@action("organisation.edit")
def edit_organisation(user: User, org: Organisation) -> bool:
    viewer = viewer_of(user)
    return viewer.manages_constituency or viewer.administers(org.pk)


@action("organisation.manage_networks")
def manage_networks(user: User, org: Organisation) -> bool:
    # Network claims decide where reports are routed, so only the platform admins
    # (the CERT) approve them; organisations ask the CERT to change them.
    return viewer_of(user).manages_constituency


@action("organisation.manage_contacts")
def manage_contacts(user: User, org: Organisation) -> bool:
    viewer = viewer_of(user)
    return viewer.manages_constituency or viewer.administers(org.pk)


@action("membership.manage")
def manage_members(user: User, obj: Organisation | Membership) -> bool:
    """Grant or revoke roles in an organisation; given a membership (saved or not), that
    role in its organisation: only platform admins grant the privileged roles."""
    viewer = viewer_of(user)
    if isinstance(obj, Membership):
        org_id, role = obj.organisation_id, obj.role
    else:
        org_id, role = obj.pk, None
    if viewer.manages_constituency:
        return True
    if role in PRIVILEGED_ROLES:
        return False
    return viewer.administers(org_id)


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


@action("user.attach")
def attach_user(actor: User, user: User) -> bool:
    """An organisation admin adds existing people only if they are already members of an
    organisation the admin administers; anyone else's users (another agency's) are not
    theirs to attach. Platform admins attach anyone."""
    viewer = viewer_of(actor)
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


@action("user.manage")
def manage_users(actor: User, user: User | None = None) -> bool:
    """Create people (platform admins and organisation admins); a superuser only by a
    platform admin."""
    viewer = viewer_of(actor)
    if user is not None and user.is_superuser and not viewer.platform_admin:
        return False
    return viewer.manages_constituency or viewer.has_role(Role.ORG_ADMIN)


@action("audit.read")
def read_audit(user: User, obj: None = None) -> bool:
    viewer = viewer_of(user)
    return viewer.platform_admin or viewer.has_role(Role.ORG_ADMIN)


@action("apitoken.manage")
def manage_token(actor: User, obj: User | ApiToken) -> bool:
    """Mint or revoke API tokens: one's own, or anyone's as a platform admin."""
    owner_id = obj.user_id if isinstance(obj, ApiToken) else obj.pk
    return actor.pk == owner_id or viewer_of(actor).platform_admin


@action(
    "user.reset_second_factor",
    refusal=gettext_lazy("You may not reset this person's second factor."),
)
def reset_second_factor(actor: User, user: User) -> bool:
    """Platform admins reset anyone's second factor but their own (they re-enrol instead);
    an organisation admin only that of people whose every membership is in organisations
    they administer and who hold no role only platform admins may grant."""
    viewer = viewer_of(actor)
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
