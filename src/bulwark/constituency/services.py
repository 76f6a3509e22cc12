"""The only code that changes the constituency. Each function checks the actor's right,
validates, writes in one transaction and appends one audit entry."""

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bulwark.constituency import networks, rules
from bulwark.constituency.access import forget_viewer, viewer_of
from bulwark.constituency.models import (
    ApiToken,
    Contact,
    Membership,
    NetworkClaim,
    Organisation,
    User,
)
from bulwark.constituency.scopes import SCOPES
from bulwark.core import audit
from bulwark.core.tasks import notify_platform_admins

ORGANISATION_FIELDS = (
    "name",
    "short_name",
    "kind",
    "country",
    "sector",
    "parent",
    "is_active",
    "notes",
)
CONTACT_FIELDS = ("purpose", "name", "email", "phone", "pgp_key")
TOKEN_PREFIX = "bwk_"
MAX_TOKEN_DAYS = 366


def _value(obj: Model, name: str) -> Any:
    value = getattr(obj, name)
    return str(value.pk) if isinstance(value, Model) else value


def _apply(obj: Model, data: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """Set the allowed fields and return {field: [old, new]} for those that changed."""
    allowed = set(allowed)
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({f: _("This field cannot be set here.") for f in sorted(unknown)})
    changes: dict[str, Any] = {}
    for name, new in data.items():
        old = _value(obj, name)
        setattr(obj, name, new)
        if old != _value(obj, name):
            changes[name] = [old, _value(obj, name)]
    return changes


# --- Organisations --------------------------------------------------------------------


def _system_or(actor: User | None, allowed: Any) -> None:
    """`actor=None` is the platform itself (command line, demo loader, migrations); any
    person must pass the rule."""
    if actor is not None:
        rules.require(allowed(viewer_of(actor)))


def create_organisation(actor: User | None, **data: Any) -> Organisation:
    _system_or(actor, rules.can_create_organisation)
    with transaction.atomic():
        org = Organisation()
        changes = _apply(org, data, ORGANISATION_FIELDS)
        org.full_clean()
        org.save()
        audit.record(actor, "organisation.created", org, changes=changes, organisation_id=org.pk)
    return org


def update_organisation(actor: User, org: Organisation, **data: Any) -> Organisation:
    viewer = viewer_of(actor)
    rules.require(rules.can_edit_organisation(viewer, org))
    if not viewer.manages_constituency and {"kind", "parent", "is_active"} & set(data):
        # Organisation admins edit their details; their place in the hierarchy is the CERT's.
        data = {k: v for k, v in data.items() if k not in {"kind", "parent", "is_active"}}
    with transaction.atomic():
        org = Organisation.objects.select_for_update().get(pk=org.pk)
        changes = _apply(org, data, ORGANISATION_FIELDS)
        if changes:
            org.full_clean()
            org.save()
            audit.record(
                actor, "organisation.updated", org, changes=changes, organisation_id=org.pk
            )
    if "parent" in changes or "is_active" in changes:
        forget_viewer(actor)
    return org


# --- Networks -------------------------------------------------------------------------


def overlaps_of(claim: NetworkClaim) -> list[networks.Overlap]:
    """Claims of other organisations that cover this one or that it covers."""
    others = NetworkClaim.objects.filter(kind=claim.kind).exclude(
        organisation_id=claim.organisation_id
    )
    mine = claim.as_claim()
    return [
        o
        for o in networks.find_overlaps([mine, *(c.as_claim() for c in others)])
        if mine in (o.broader, o.narrower)
    ]


def add_network(
    actor: User | None, org: Organisation, kind: str, value: str, note: str = ""
) -> NetworkClaim:
    _system_or(actor, lambda v: rules.can_manage_networks(v, org))
    with transaction.atomic():
        claim = NetworkClaim(organisation=org, kind=kind, value=value, note=note)
        claim.clean_fields(exclude=["value"])
        claim.clean()  # normalises value, so the duplicate check sees the canonical form
        if NetworkClaim.objects.filter(
            organisation=org, kind=claim.kind, value=claim.value
        ).exists():
            raise ValidationError(
                {"value": _("%(org)s already claims %(value)s.") % {"org": org, "value": claim}}
            )
        claim.full_clean()
        claim.save()
        overlaps = overlaps_of(claim)
        audit.record(
            actor,
            "network.added",
            claim,
            changes={"kind": claim.kind, "value": claim.value, "overlaps": len(overlaps)},
            organisation_id=org.pk,
        )
        if overlaps:
            claim_id = claim.pk
            transaction.on_commit(
                lambda: notify_platform_admins.enqueue("network_overlap", claim_id)
            )
    return claim


def remove_network(actor: User, claim: NetworkClaim) -> None:
    rules.require(rules.can_manage_networks(viewer_of(actor), claim.organisation))
    with transaction.atomic():
        audit.record(
            actor,
            "network.removed",
            claim,
            changes={"kind": claim.kind, "value": claim.value},
            organisation_id=claim.organisation_id,
        )
        claim.delete()


# --- Contacts -------------------------------------------------------------------------


def add_contact(actor: User | None, org: Organisation, **data: Any) -> Contact:
    _system_or(actor, lambda v: rules.can_manage_contacts(v, org))
    with transaction.atomic():
        contact = Contact(organisation=org)
        changes = _apply(contact, data, CONTACT_FIELDS)
        contact.full_clean()
        contact.save()
        changes.pop("pgp_key", None)
        audit.record(actor, "contact.added", contact, changes=changes, organisation_id=org.pk)
    return contact


def update_contact(actor: User, contact: Contact, **data: Any) -> Contact:
    rules.require(rules.can_manage_contacts(viewer_of(actor), contact.organisation))
    with transaction.atomic():
        changes = _apply(contact, data, CONTACT_FIELDS)
        if changes:
            contact.full_clean()
            contact.save()
            if "pgp_key" in changes:
                changes["pgp_key"] = ["…", "…"]
            audit.record(
                actor,
                "contact.updated",
                contact,
                changes=changes,
                organisation_id=contact.organisation_id,
            )
    return contact


def remove_contact(actor: User, contact: Contact) -> None:
    rules.require(rules.can_manage_contacts(viewer_of(actor), contact.organisation))
    with transaction.atomic():
        audit.record(actor, "contact.removed", contact, organisation_id=contact.organisation_id)
        contact.delete()


# --- Users and memberships --------------------------------------------------------------


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
    rules.require(rules.can_manage_users(viewer) and (viewer.platform_admin or not is_superuser))
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
    rules.require(
        rules.can_manage_members(viewer, org, role),
        _("You may not grant this role in this organisation."),
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
    rules.require(viewer_of(actor).manages_constituency)
    with transaction.atomic():
        if user.is_active != active:
            user.is_active = active
            user.save(update_fields=["is_active"])
            audit.record(actor, "user.activated" if active else "user.deactivated", user)
    return user


# What the web form and the API answer when an organisation admin names a user they may
# not attach, whether or not the username exists.
NEUTRAL_MEMBER_REFUSAL = gettext_lazy(
    "No user you can add here has this username. Ask the platform admins to add people "
    "from other organisations."
)


def add_membership(actor: User | None, user: User, org: Organisation, role: str) -> Membership:
    """Grant a role. Organisation admins grant roles in organisations they administer, and
    only to people who are already members of one of those organisations (`rules.
    can_attach_user`): another organisation's user is refused with the same answer as an
    unknown username."""
    if actor is not None:
        viewer = viewer_of(actor)
        rules.require(
            rules.can_manage_members(viewer, org, role),
            _("You may not grant this role in this organisation."),
        )
        if not rules.can_attach_user(viewer, user):
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
    rules.require(
        rules.can_manage_members(viewer_of(actor), membership.organisation, membership.role)
    )
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


# --- API tokens -------------------------------------------------------------------------


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(
    actor: User | None,
    user: User,
    *,
    name: str,
    scopes: Iterable[str],
    days: int = 90,
    minted_with: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """Returns the token and its clear text, which is shown once and never stored.

    A token never carries more than it may: its scopes must be among those the roles of
    its user allow (`rules.token_scopes`), whoever mints it (the user, a platform admin,
    the command line), and, when the request that mints it was authenticated with a token
    (`minted_with`), among that token's scopes."""
    if actor is not None and actor.pk != user.pk:
        rules.require(viewer_of(actor).platform_admin)
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationError({"scopes": _("Unknown scope: %(s)s.") % {"s": ", ".join(unknown)}})
    if not scopes:
        raise ValidationError({"scopes": _("Choose at least one scope.")})
    if minted_with is not None:
        beyond = [s for s in scopes if s not in minted_with.scopes]
        if beyond:
            raise ValidationError(
                {
                    "scopes": _("A token cannot grant scopes it does not hold itself: %(s)s.")
                    % {"s": ", ".join(beyond)}
                }
            )
    allowed = rules.token_scopes(viewer_of(user))
    refused = [s for s in scopes if s not in allowed]
    if refused:
        raise ValidationError(
            {
                "scopes": _("The roles of %(user)s do not allow these scopes: %(s)s.")
                % {"user": user.username, "s": ", ".join(refused)}
            }
        )
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError(
            {"days": _("A token lives between 1 and %(max)d days.") % {"max": MAX_TOKEN_DAYS}}
        )
    if not name.strip():
        raise ValidationError({"name": _("Give the token a name that says what uses it.")})
    prefix = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken(
            user=user,
            name=name.strip()[:100],
            prefix=prefix,
            digest=token_digest(secret),
            scopes=scopes,
            expires_at=timezone.now() + timedelta(days=days),
        )
        token.save()
        audit.record(
            actor or user,
            "token.created",
            token,
            changes={"user": user.username, "scopes": scopes, "expires_at": token.expires_at},
        )
    return token, f"{TOKEN_PREFIX}{prefix}_{secret}"


def revoke_api_token(actor: User, token: ApiToken) -> ApiToken:
    if actor.pk != token.user_id:
        rules.require(viewer_of(actor).platform_admin)
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(actor, "token.revoked", token, changes={"user": token.user.username})
    return token


@transaction.atomic
def set_time_zone(user: User, zone: str) -> User:
    """A person's own display zone (blank: the platform's); times they type are read in it."""
    import zoneinfo

    if zone and zone not in zoneinfo.available_timezones():
        raise ValidationError({"time_zone": _("Unknown time zone.")})
    before, user.time_zone = user.time_zone, zone
    user.save(update_fields=["time_zone"])
    audit.record(user, "user.time_zone_set", user, changes={"time_zone": [before, zone]})
    return user
