"""Who may change what. Reads are governed by `visible_to`; writes by these rules,
which services enforce and views consult to decide which buttons to show."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from bulwark.constituency.access import Viewer
from bulwark.constituency.models import CERT_STAFF_ROLES, Organisation, Role

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


def can_manage_users(viewer: Viewer) -> bool:
    return viewer.manages_constituency or viewer.has_role(Role.ORG_ADMIN)


def can_read_audit(viewer: Viewer) -> bool:
    return viewer.platform_admin or viewer.has_role(Role.ORG_ADMIN)


def require(allowed: bool, message: str | None = None) -> None:
    if not allowed:
        raise PermissionDenied(message or _("You are not allowed to do this."))
