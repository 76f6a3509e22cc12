"""Who may change what in an exercise (imported by `drills.rules`, so the actions are
declared once with the rest of drills)."""

from django.utils.translation import gettext_lazy

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Role, User
from bulwark.core.permissions import action
from bulwark.drills.models import Exercise, ExerciseTeam, ImprovementItem


def _in_control(user: User, exercise: Exercise) -> bool:
    viewer = viewer_of(user)
    if viewer.platform_admin:
        return True
    return viewer.cert_staff and exercise.control_team.filter(pk=user.pk).exists()


@action(
    "exercise.control",
    refusal=gettext_lazy("Only the exercise's control team runs it."),
)
def control(user: User, exercise: Exercise) -> bool:
    """Add injects, start and end the exercise, deliver injects, write the after-action
    report and its improvement items: the exercise's control team (CERT staff)."""
    return _in_control(user, exercise)


@action("exercise.evaluate", refusal=gettext_lazy("Only the exercise's evaluators score it."))
def evaluate(user: User, exercise: Exercise) -> bool:
    """Score an expectation for a team: the exercise's evaluators (CERT staff, or people
    of other organisations named as outside evaluators of an international exercise) and
    its control team. An outside evaluator scores only once the exercise is out of draft."""
    if _in_control(user, exercise):
        return True
    if not exercise.evaluators.filter(pk=user.pk).exists():
        return False
    return viewer_of(user).cert_staff or exercise.state != Exercise.State.DRAFT


@action("exercise.play", refusal=gettext_lazy("Only the team's own players respond."))
def play(user: User, team: ExerciseTeam) -> bool:
    """Respond to an inject delivered to a team: the members of the team's agency, or
    only the players the control team named for the team when it named any."""
    if team.organisation_id not in viewer_of(user).own_org_ids:
        return False
    named = team.players.all()
    return not named.exists() or named.filter(pk=user.pk).exists()


@action("exercise.item", refusal=gettext_lazy("You may not update this improvement item."))
def item(user: User, improvement: ImprovementItem) -> bool:
    """Move an improvement item on (open, in progress, done): its owner, the agency's
    admins, and the exercise's control team."""
    if improvement.owner_id is not None and improvement.owner_id == user.pk:
        return True
    if Role.ORG_ADMIN in viewer_of(user).roles.get(improvement.organisation_id, frozenset()):
        return True
    return _in_control(user, improvement.exercise)
