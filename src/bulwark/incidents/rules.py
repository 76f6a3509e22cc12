"""Who may change what in incidents (the vocabulary is `bulwark.core.permissions`):
services require these actions, the case page asks them to decide which forms it shows."""

from django.utils.translation import gettext_lazy

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, Role, User
from bulwark.core.permissions import action
from bulwark.incidents.models import Incident, ResponseTask, SavedFilter

REPORTING_ROLES = {Role.REPORTER, Role.ORG_ADMIN}
REFUSAL = gettext_lazy("You are not allowed to do this with this incident.")


@action("incident.report", refusal=REFUSAL)
def report_for(user: User, org: Organisation) -> bool:
    """Report an incident for an organisation: its reporters and admins, and the CERT."""
    viewer = viewer_of(user)
    if viewer.cert_staff or viewer.platform_admin:
        return True
    return bool(viewer.roles.get(org.pk, frozenset()) & REPORTING_ROLES)


@action("incident.review", refusal=REFUSAL)
def review(user: User, incident: Incident) -> bool:
    """Reviewers at an authority above the reporting organisation, or CERT staff."""
    viewer = viewer_of(user)
    if viewer.cert_staff or viewer.platform_admin:
        return True
    parent = incident.organisation.parent
    while parent is not None:
        if Role.REVIEWER in viewer.roles.get(parent.pk, frozenset()):
            return True
        parent = parent.parent
    return False


@action("incident.handle", refusal=REFUSAL)
def handle(user: User, incident: Incident) -> bool:
    """The reporting organisation's members and the CERT work the response."""
    viewer = viewer_of(user)
    return (
        viewer.cert_staff or viewer.platform_admin or incident.organisation_id in viewer.own_org_ids
    )


@action("incident.triage", refusal=REFUSAL)
def triage(user: User, incident: Incident | None = None) -> bool:
    """Start the response, assign a case: CERT staff and platform admins."""
    viewer = viewer_of(user)
    return viewer.cert_staff or viewer.platform_admin


@action("incident.coordinate", refusal=REFUSAL)
def coordinate(user: User, incident: Incident | None = None) -> bool:
    """Decide on a final report, grant an extension, keep the case templates: CERT staff
    (CERT analysts and duty officers, not platform admins as such)."""
    return viewer_of(user).cert_staff


@action("incident.guide", refusal=gettext_lazy("Only CERT staff give guidance."))
def guide(user: User, incident: Incident | None = None) -> bool:
    """Add guidance to a case's timeline: CERT staff."""
    return viewer_of(user).cert_staff


@action("incident.refer", refusal=gettext_lazy("Only CERT staff refer cases to law enforcement."))
def refer(user: User, incident: Incident | None = None) -> bool:
    return viewer_of(user).cert_staff


@action("incident.complete_task", refusal=REFUSAL)
def complete_task(user: User, task: ResponseTask) -> bool:
    """Those who handle the case, and the task's owner."""
    return handle(user, task.incident) or user.pk == task.owner_id


@action("incident.delete_filter", refusal=REFUSAL)
def delete_filter(user: User, saved: SavedFilter) -> bool:
    """A saved filter is its owner's to delete."""
    return saved.user_id == user.pk
