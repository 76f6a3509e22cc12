"""Who may change what in drills (the vocabulary is `bulwark.core.permissions`)."""

from django.utils.translation import gettext_lazy

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, Role, User
from bulwark.core.permissions import action
from bulwark.drills.models import DrillNotice, DrillObligation, ImprovementPlan

REFUSAL = gettext_lazy("You are not allowed to do this with this drill.")


@action("drill.run", refusal=gettext_lazy("Only CERT staff run social-engineering campaigns."))
def run(user: User, obj: object = None) -> bool:
    """Build, launch, pause, stop and finish campaigns; close improvement plans: CERT
    staff (a drill's sending is the CERT's, never an agency's)."""
    viewer = viewer_of(user)
    return viewer.cert_staff or viewer.platform_admin


@action("drill.plan", refusal=REFUSAL)
def plan(user: User, improvement: ImprovementPlan) -> bool:
    """File an agency's improvement plan: its admins and reporters."""
    viewer = viewer_of(user)
    roles = viewer.roles.get(improvement.organisation_id, frozenset())
    return bool(roles & {Role.ORG_ADMIN, Role.REPORTER})


@action("drill.record", refusal=REFUSAL)
def record(user: User, obligation: DrillObligation) -> bool:
    """Record that a statutory drill was held or its results reported: the agency's
    admins and the CERT."""
    viewer = viewer_of(user)
    if viewer.cert_staff or viewer.platform_admin:
        return True
    return Role.ORG_ADMIN in viewer.roles.get(obligation.organisation_id, frozenset())


@action(
    "drill.notify", refusal=gettext_lazy("Only the CERT or the agency's authority runs its drills.")
)
def notify(user: User, organisation: Organisation) -> bool:
    """Send an incident-response drill notice: CERT staff, or a reviewer at an authority
    above the agency."""
    viewer = viewer_of(user)
    if viewer.cert_staff or viewer.platform_admin:
        return True
    parent = organisation.parent
    while parent is not None:
        if Role.REVIEWER in viewer.roles.get(parent.pk, frozenset()):
            return True
        parent = parent.parent
    return False


@action("drill.respond", refusal=REFUSAL)
def respond(user: User, notice: DrillNotice) -> bool:
    """Report the drill incident: the agency's reporters and admins."""
    roles = viewer_of(user).roles.get(notice.organisation_id, frozenset())
    return bool(roles & {Role.ORG_ADMIN, Role.REPORTER})


# The exercises' actions (drills/exercises/rules.py), declared with the rest of drills.
from bulwark.drills.exercises import rules as _exercise_rules  # noqa: E402, F401
