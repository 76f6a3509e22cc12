"""The only code that changes the constituency. Each function checks the actor's right,
validates, writes in one transaction and appends one audit entry."""

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Model
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.constituency import rules
from bulwark.constituency.access import forget_viewer, viewer_of
from bulwark.constituency.models import (
    ApiToken,
    Contact,
    Invitation,
    Membership,
    NetworkClaim,
    Organisation,
    Role,
    User,
)
from bulwark.constituency.scopes import SCOPES
from bulwark.constituency.selectors import overlaps_of
from bulwark.constituency.tasks import notify_platform_admins
from bulwark.core import audit
from bulwark.core.permissions import can, require
from bulwark.core.tasks import send_email

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
# What places an organisation in the hierarchy: the platform admins' to change.
HIERARCHY_FIELDS = ("kind", "parent", "is_active")
CONTACT_FIELDS = ("purpose", "name", "email", "phone", "pgp_key")
TOKEN_PREFIX = "bwk_"
MAX_TOKEN_DAYS = 366


def _value(obj: Model, name: str) -> Any:
    value = getattr(obj, name)
    return str(value.pk) if isinstance(value, Model) else value


def _plain(value: Any) -> Any:
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


def _system_or(actor: User | None, action: str, obj: Any = None) -> None:
    """`actor=None` is the platform itself (command line, demo loader, migrations); any
    person must pass the rule."""
    if actor is not None:
        require(actor, action, obj)


def create_organisation(actor: User | None, **data: Any) -> Organisation:
    _system_or(actor, "organisation.create")
    with transaction.atomic():
        org = Organisation()
        changes = _apply(org, data, ORGANISATION_FIELDS)
        org.full_clean()
        org.save()
        audit.record(actor, "organisation.created", org, changes=changes, organisation_id=org.pk)
    return org


def update_organisation(actor: User, org: Organisation, **data: Any) -> Organisation:
    viewer = viewer_of(actor)
    require(actor, "organisation.edit", org)
    with transaction.atomic():
        org = Organisation.objects.select_for_update().get(pk=org.pk)
        if not viewer.manages_constituency:
            # Organisation admins edit their details; their place in the hierarchy is the
            # CERT's. A change they ask for is refused with the reason, never dropped.
            refused = [
                f for f in HIERARCHY_FIELDS if f in data and _value(org, f) != _plain(data[f])
            ]
            if refused:
                raise ValidationError(
                    {
                        f: _(
                            "Only the platform admins change an organisation's type, "
                            "supervising authority or active state. Ask them."
                        )
                        for f in refused
                    }
                )
            data = {k: v for k, v in data.items() if k not in HIERARCHY_FIELDS}
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


def add_network(
    actor: User | None, org: Organisation, kind: str, value: str, note: str = ""
) -> NetworkClaim:
    _system_or(actor, "organisation.manage_networks", org)
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
    require(actor, "organisation.manage_networks", claim.organisation)
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
    _system_or(actor, "organisation.manage_contacts", org)
    with transaction.atomic():
        contact = Contact(organisation=org)
        changes = _apply(contact, data, CONTACT_FIELDS)
        contact.full_clean()
        contact.save()
        changes.pop("pgp_key", None)
        audit.record(actor, "contact.added", contact, changes=changes, organisation_id=org.pk)
    return contact


def update_contact(actor: User, contact: Contact, **data: Any) -> Contact:
    require(actor, "organisation.manage_contacts", contact.organisation)
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
    require(actor, "organisation.manage_contacts", contact.organisation)
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
    if actor is not None:
        require(actor, "apitoken.manage", user)
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
    require(actor, "apitoken.manage", token)
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(actor, "token.revoked", token, changes={"user": token.user.username})
    return token


# --- Invitations (onboarding) ------------------------------------------------------------


def invitation_link(token: str) -> str:
    """The link in an invitation mail: on BULWARK_SITE_URL, like the reset link, never on
    the Host header of whichever request sent it."""
    return settings.SITE_URL.rstrip("/") + reverse("invitation-accept", args=[token])


def _new_invitation_secret() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def _send_invitation(invitation: Invitation, token: str) -> None:
    """Queue the mail (after commit). An address that already has an account gets a note
    without a link: another organisation's user is never attached through an invitation,
    and the admin who invited is told nothing different."""
    has_account = invitation.user_id is None and (
        User.objects.filter(email__iexact=invitation.email).exists()
    )
    context = {
        "invitation": invitation,
        "link": invitation_link(token),
        "cert_name": getattr(settings, "CERT_NAME", "Bulwark"),
        "inviter": invitation.invited_by.get_full_name() or invitation.invited_by.username
        if invitation.invited_by
        else "",
    }
    template = (
        "registration/invitation_existing_email.txt"
        if has_account
        else ("registration/invitation_email.txt")
    )
    subject = _("Your invitation to Bulwark")
    body = render_to_string(template, context)
    recipient = invitation.email
    transaction.on_commit(lambda: send_email.enqueue(subject, body, [recipient]))


def _check_invite(actor: User | None, org: Organisation | None, role: str) -> None:
    if actor is None:
        return
    if org is None:
        require(actor, "constituency.manage")
        return
    require(
        actor,
        "membership.manage",
        Membership(organisation=org, role=role),
        refusal=_("You may not grant this role in this organisation."),
    )


def invite_member(
    actor: User | None,
    org: Organisation,
    *,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
) -> Invitation:
    """Invite a person by e-mail to `org` with `role`. Organisation admins invite into
    organisations they administer with roles they may grant. The account is created when
    the link is opened; an address that already has an account is not attached (platform
    admins are told so and add the account by username; organisation admins get the same
    answer as for any address)."""
    _check_invite(actor, org, role)
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid e-mail address.")}) from None
    Membership(organisation=org, role=role).clean()
    precise = actor is None or viewer_of(actor).manages_constituency
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None and precise:
        raise ValidationError(
            {
                "email": _(
                    "%(user)s already has an account with this address: add it to the "
                    "organisation by username."
                )
                % {"user": existing.username}
            }
        )
    if Invitation.objects.pending().filter(organisation=org, email__iexact=email).exists():
        raise ValidationError(
            {"email": _("An invitation to this address is already pending: re-send that one.")}
        )
    token, digest = _new_invitation_secret()
    with transaction.atomic():
        invitation = Invitation(
            email=email,
            first_name=first_name,
            last_name=last_name,
            organisation=org,
            role=role,
            invited_by=actor,
            digest=digest,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
        )
        invitation.full_clean()
        invitation.save()
        audit.record(
            actor,
            "invitation.created",
            invitation,
            changes={"email": email, "organisation": org.name, "role": role},
            organisation_id=org.pk,
        )
        _send_invitation(invitation, token)
    return invitation


def invite_account(actor: User | None, user: User) -> Invitation:
    """The invitation that lets an account created without a password (by an admin)
    choose one: same link, expiry and single use as any invitation."""
    token, digest = _new_invitation_secret()
    membership = user.memberships.select_related("organisation").first()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            email=user.email,
            first_name=user.first_name,
            last_name=user.last_name,
            organisation=membership.organisation if membership else None,
            role=membership.role if membership else "",
            user=user,
            invited_by=actor,
            digest=digest,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
        )
        audit.record(
            actor,
            "invitation.created",
            invitation,
            changes={"email": user.email, "user": user.username},
            organisation_id=invitation.organisation_id,
        )
        _send_invitation(invitation, token)
    return invitation


def _check_manage_invitation(actor: User, invitation: Invitation) -> None:
    _check_invite(actor, invitation.organisation, invitation.role)
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation has been accepted already."))


def resend_invitation(actor: User, invitation: Invitation) -> Invitation:
    """A new link (the earlier one stops working) valid for INVITATION_DAYS from now;
    also for an expired or withdrawn invitation, which becomes pending again."""
    _check_manage_invitation(actor, invitation)
    token, digest = _new_invitation_secret()
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        invitation.digest = digest
        invitation.sent_at = timezone.now()
        invitation.sent_count += 1
        invitation.revoked_at = None
        invitation.expires_at = timezone.now() + timedelta(days=settings.INVITATION_DAYS)
        invitation.save()
        audit.record(
            actor,
            "invitation.resent",
            invitation,
            changes={"email": invitation.email, "times_sent": invitation.sent_count},
            organisation_id=invitation.organisation_id,
        )
        _send_invitation(invitation, token)
    return invitation


def revoke_invitation(actor: User, invitation: Invitation) -> Invitation:
    _check_manage_invitation(actor, invitation)
    with transaction.atomic():
        if invitation.revoked_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            audit.record(
                actor,
                "invitation.revoked",
                invitation,
                changes={"email": invitation.email},
                organisation_id=invitation.organisation_id,
            )
    return invitation


def find_invitation(token: str) -> Invitation | None:
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("organisation", "user", "invited_by")
        .filter(digest=token_digest(token))
        .first()
    )


def invitation_refusal(invitation: Invitation | None) -> str | None:
    """Why this link cannot be used, in words for the person who opened it; None if it can."""
    if invitation is None:
        return _(
            "This invitation link is not valid. Check that you opened the whole link from "
            "the e-mail, or ask whoever invited you to send a new one."
        )
    status = invitation.status
    if status == Invitation.Status.ACCEPTED:
        return _(
            "This invitation link has been used already. Sign in with the password you "
            "chose, or use 'Forgot your password?'."
        )
    if status == Invitation.Status.REVOKED:
        return _("This invitation has been withdrawn. Ask whoever invited you.")
    if status == Invitation.Status.EXPIRED:
        return _(
            "This invitation link expired on %(date)s. Ask whoever invited you to send it again."
        ) % {"date": formats.date_format(timezone.localtime(invitation.expires_at))}
    if invitation.user is not None and not invitation.user.is_active:
        return _("This account has been deactivated. Ask the platform admins.")
    return None


def accept_invitation(token: str, *, username: str | None, password: str) -> User:
    """Use the link once: set the password of the invited account (creating it, and its
    membership, for an invitation by e-mail). A used, expired, withdrawn or unknown link
    is refused with the reason (`invitation_refusal`)."""
    with transaction.atomic():
        found = find_invitation(token)
        invitation = (
            Invitation.objects.select_for_update().get(pk=found.pk) if found is not None else None
        )
        refusal = invitation_refusal(invitation)
        if refusal is not None:
            raise ValidationError(refusal, code="invitation")
        assert invitation is not None
        org, role = invitation.organisation, invitation.role
        inviter = invitation.invited_by
        if (
            invitation.user is None
            and org is not None
            and inviter is not None
            and not can(inviter, "membership.manage", Membership(organisation=org, role=role))
        ):
            # Whoever invited has since lost the right to grant this role here.
            raise ValidationError(
                _("This invitation is no longer valid. Ask your organisation admin."),
                code="invitation",
            )
        user = invitation.user
        if user is None:
            if User.objects.filter(email__iexact=invitation.email).exists():
                raise ValidationError(
                    _(
                        "An account with this e-mail address exists already. Sign in with it "
                        "and ask the platform admins to add it to the organisation."
                    ),
                    code="invitation",
                )
            user = User(
                username=(username or "").strip(),
                email=invitation.email,
                first_name=invitation.first_name,
                last_name=invitation.last_name,
            )
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"new_password1": exc.messages}) from None
        user.set_password(password)
        created = user.pk is None
        user.full_clean(exclude=["password"])
        user.save()
        invitation.user = user
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["user", "accepted_at"])
        audit.record(
            user,
            "invitation.accepted",
            invitation,
            changes={"user": user.username, "account_created": created},
            organisation_id=invitation.organisation_id,
        )
        if created:
            audit.record(inviter, "user.created", user, changes={"email": user.email})
            if org is not None and role:
                _grant(inviter, user, org, role)
    return user


# --- Second factor and recovery codes ----------------------------------------------------

RECOVERY_DEVICE_NAME = "Recovery codes"


def has_authenticator(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def recovery_codes(user: User) -> list[str]:
    device = StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME).first()
    if device is None:
        return []
    return list(device.token_set.order_by("pk").values_list("token", flat=True))


def regenerate_recovery_codes(user: User) -> list[str]:
    """New recovery codes for this person; the previous ones stop working."""
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(
            user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _i in range(settings.RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
        audit.record(user, "user.recovery_codes_created", user, changes={"count": len(codes)})
    return codes


def start_authenticator(user: User) -> TOTPDevice:
    """The authenticator this person is enrolling: the one scanned but not yet confirmed, or
    a new secret (audited: a second factor being set up is worth knowing about even when it
    is never confirmed)."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(
                user=user, name=_("Authenticator app"), confirmed=False
            )
            audit.record(user, "user.second_factor_enrolment_started", user)
    return device


def confirm_authenticator(user: User, device: TOTPDevice) -> list[str]:
    """Confirm a newly scanned authenticator; any earlier one of this person stops working
    (re-enrolment). Returns new recovery codes when the person had none left."""
    with transaction.atomic():
        replaced = (
            TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()[0]
        )
        TOTPDevice.objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit.record(
            user,
            "user.second_factor_enrolled",
            user,
            changes={"replaced": replaced} if replaced else None,
        )
        if not recovery_codes(user):
            return regenerate_recovery_codes(user)
    return []


def reset_second_factor(actor: User, user: User) -> None:
    """Remove a person's authenticator and recovery codes (they lost their phone): at the
    next sign-in they enrol again. Audited, and the person is told by e-mail."""
    require(actor, "user.reset_second_factor", user)
    memberships = Membership.objects.filter(user=user)
    org_id = next(
        (m.organisation_id for m in memberships if viewer_of(actor).administers(m.organisation_id)),
        None,
    )
    with transaction.atomic():
        totp = TOTPDevice.objects.filter(user=user).delete()[0]
        static = StaticDevice.objects.filter(user=user).delete()[0]
        audit.record(
            actor,
            "user.second_factor_reset",
            user,
            changes={"devices_removed": totp + static},
            organisation_id=org_id,
        )
        context = {
            "user": user,
            "actor": actor.get_full_name() or actor.username,
            "site": settings.SITE_URL.rstrip("/"),
        }
        subject = _("Your second factor was reset")
        body = render_to_string("registration/second_factor_reset_email.txt", context)
        recipient = user.email
        transaction.on_commit(lambda: send_email.enqueue(subject, body, [recipient]))


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
