"""Who may change what in training (the vocabulary is `bulwark.core.permissions`).

Learners are not platform users and appear in no rule here: what a learner may do to
their own attempts is checked by the services against the signed-in learner."""

from typing import Any

from django.utils.translation import gettext_lazy

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, Role
from bulwark.core.permissions import action
from bulwark.training.models import Course

REFUSAL = gettext_lazy("You are not allowed to do this in training.")


def _staff_manager(user: Any, org: Organisation | None) -> bool:
    viewer = viewer_of(user)
    if viewer.sees_everything:
        return True
    return org is not None and viewer.has_role(Role.ORG_ADMIN, org.pk)


@action("training.manage_learners", refusal=REFUSAL)
def manage_learners(user: Any, org: Organisation | None) -> bool:
    """Add, import and deactivate an agency's learners, enrol them, send sign-in links,
    import their outside records: the agency's admins and the CERT."""
    return _staff_manager(user, org)


@action("training.author", refusal=REFUSAL)
def author(user: Any, course: Course | None = None) -> bool:
    """Write courses, lessons and question banks and read the item statistics: the CERT
    for every course, an organisation's admins for the courses it owns."""
    viewer = viewer_of(user)
    if viewer.sees_everything:
        return True
    if course is None:
        return any(Role.ORG_ADMIN in roles for roles in viewer.roles.values())
    return viewer.has_role(Role.ORG_ADMIN, course.owner_id)


@action("training.run_competitions", refusal=REFUSAL)
def run_competitions(user: Any, org: Organisation | None = None) -> bool:
    """Create competitions and import their results: CERT staff and platform admins."""
    return viewer_of(user).sees_everything
