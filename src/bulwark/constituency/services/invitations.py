"""Invitations (onboarding): sent by e-mail, re-sent, withdrawn, accepted once."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Invitation, Membership, Organisation, Role, User
from bulwark.constituency.services.memberships import _grant
from bulwark.constituency.services.tokens import token_digest
from bulwark.core import audit
from bulwark.core.permissions import can, require
from bulwark.core.tasks import send_email


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


def _check_rate(actor: User | None) -> None:
    """At most INVITATIONS_PER_HOUR new invitations per person an hour: a stolen admin
    session must not turn the platform's mail server into a spam cannon. The system
    (imports, the demo) is not limited."""
    if actor is None:
        return
    since = timezone.now() - timedelta(hours=1)
    sent = Invitation.objects.filter(invited_by=actor, created_at__gte=since).count()
    if sent >= settings.INVITATIONS_PER_HOUR:
        raise ValidationError(
            _(
                "You have sent %(count)s invitations in the last hour, the most allowed: "
                "wait a while before inviting more."
            )
            % {"count": sent}
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
    _check_rate(actor)
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
        wait = timedelta(seconds=settings.INVITATION_RESEND_SECONDS) - (
            timezone.now() - invitation.sent_at
        )
        if wait.total_seconds() > 0:
            raise ValidationError(
                _(
                    "This invitation was sent a moment ago: give the mail time to arrive "
                    "and try again in %(minutes)s minutes."
                )
                % {"minutes": int(wait.total_seconds() // 60) + 1}
            )
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
