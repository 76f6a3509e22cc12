"""The second factor: authenticator enrolment, recovery codes, a reset by an admin."""

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Membership, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.core.tasks import send_email

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
