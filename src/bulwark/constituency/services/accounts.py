"""Accounts: created (with a membership or an invitation), (de)activated, their display zone."""

import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Membership, Organisation, User
from bulwark.constituency.services.invitations import invite_account
from bulwark.constituency.services.memberships import _grant
from bulwark.core import audit
from bulwark.core.permissions import require

# Answered to organisation admins when a username or e-mail address is taken anywhere:
# naming which (or saying "exists") would let them probe other organisations' accounts.
NEUTRAL_ACCOUNT_REFUSAL = gettext_lazy(
    "This account cannot be created with this username and e-mail address. Choose others, "
    "or ask the platform admins to add an existing account to your organisation."
)


def _check_user_creation(
    actor: User | None, is_superuser: bool, org: Organisation | None, role: str | None
) -> None:
    if actor is None:
        return
    viewer = viewer_of(actor)
    require(actor, "user.manage", User(is_superuser=is_superuser))
    if viewer.manages_constituency:
        return
    # Organisation admins create people only as members of an organisation they administer.
    if org is None or not role:
        raise ValidationError(
            {
                "organisation": _(
                    "Choose the organisation (one you administer) and the role of the new user."
                )
            }
        )
    require(
        actor,
        "membership.manage",
        Membership(organisation=org, role=role),
        refusal=_("You may not grant this role in this organisation."),
    )


def create_user(
    actor: User | None,
    *,
    username: str,
    email: str,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    is_superuser: bool = False,
    organisation: Organisation | None = None,
    role: str | None = None,
) -> User:
    """Create a user, with a membership when `organisation` and `role` are given (both or
    nothing is written). `actor=None` is the command line (`bulwark createsuperuser`,
    demo). Organisation admins must give an organisation they administer and a role they
    may grant; they are told neither whether the username nor the e-mail address exists."""
    if (organisation is None) != (not role):
        raise ValidationError(
            {"role": _("Give both the organisation and the role of the new user, or neither.")}
        )
    _check_user_creation(actor, is_superuser, organisation, role)
    precise = actor is None or viewer_of(actor).manages_constituency
    with transaction.atomic():
        user = User(
            username=username,
            email=email.strip().lower(),
            first_name=first_name,
            last_name=last_name,
            is_superuser=is_superuser,
            is_staff=is_superuser,
        )
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()  # the user sets one through the reset e-mail
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as exc:
            raise exc if precise else _neutral_uniqueness(exc) from None
        user.save()
        audit.record(
            actor, "user.created", user, changes={"email": user.email, "superuser": is_superuser}
        )
        if organisation is not None and role:
            _grant(actor, user, organisation, role)
        if actor is not None and not password:
            # The person chooses their password through an invitation link.
            invite_account(actor, user)
    return user


def _neutral_uniqueness(exc: ValidationError) -> ValidationError:
    """The same errors with every "already exists" replaced by one neutral message."""
    errors = {
        field: [e for e in found if e.code != "unique"] for field, found in exc.error_dict.items()
    }
    taken = any(e.code == "unique" for found in exc.error_dict.values() for e in found)
    remaining: dict[str, Any] = {f: e for f, e in errors.items() if e}
    if taken:
        remaining.setdefault("__all__", []).append(
            ValidationError(NEUTRAL_ACCOUNT_REFUSAL, code="refused")
        )
    return ValidationError(remaining)


def set_user_active(actor: User, user: User, active: bool) -> User:
    require(actor, "constituency.manage")
    with transaction.atomic():
        if user.is_active != active:
            user.is_active = active
            user.save(update_fields=["is_active"])
            audit.record(actor, "user.activated" if active else "user.deactivated", user)
    return user


@transaction.atomic
def set_time_zone(user: User, zone: str) -> User:
    """A person's own display zone (blank: the platform's); times they type are read in it."""
    if zone and zone not in zoneinfo.available_timezones():
        raise ValidationError({"time_zone": _("Unknown time zone.")})
    before, user.time_zone = user.time_zone, zone
    user.save(update_fields=["time_zone"])
    audit.record(user, "user.time_zone_set", user, changes={"time_zone": [before, zone]})
    return user
