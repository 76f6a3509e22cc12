"""Roles of people in organisations: granted and revoked."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bulwark.constituency.access import forget_viewer
from bulwark.constituency.models import Membership, Organisation, User
from bulwark.core import audit
from bulwark.core.permissions import can, require

# What the web form and the API answer when an organisation admin names a user they may
# not attach, whether or not the username exists.
NEUTRAL_MEMBER_REFUSAL = gettext_lazy(
    "No user you can add here has this username. Ask the platform admins to add people "
    "from other organisations."
)


def add_membership(actor: User | None, user: User, org: Organisation, role: str) -> Membership:
    """Grant a role. Organisation admins grant roles in organisations they administer, and
    only to people who are already members of one of those organisations (the action
    `user.attach`): another organisation's user is refused with the same answer as an
    unknown username."""
    if actor is not None:
        require(
            actor,
            "membership.manage",
            Membership(organisation=org, role=role),
            refusal=_("You may not grant this role in this organisation."),
        )
        if not can(actor, "user.attach", user):
            raise ValidationError({"user": NEUTRAL_MEMBER_REFUSAL})
    return _grant(actor, user, org, role)


def _grant(actor: User | None, user: User, org: Organisation, role: str) -> Membership:
    with transaction.atomic():
        membership = Membership(user=user, organisation=org, role=role)
        membership.full_clean()
        membership.save()
        audit.record(
            actor,
            "membership.granted",
            membership,
            changes={"user": user.username, "organisation": org.name, "role": role},
            organisation_id=org.pk,
        )
    forget_viewer(user)
    return membership


def remove_membership(actor: User, membership: Membership) -> None:
    require(actor, "membership.manage", membership)
    with transaction.atomic():
        audit.record(
            actor,
            "membership.revoked",
            membership,
            changes={"user": membership.user.username, "role": membership.role},
            organisation_id=membership.organisation_id,
        )
        membership.delete()
    forget_viewer(membership.user)
