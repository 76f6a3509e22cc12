"""Background work. Tasks take ids and plain values, never model objects."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.translation import gettext as _
from django_tasks import task


@task()
def send_email(subject: str, body: str, recipients: list[str], html: str = "") -> int:
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    if html:
        message.attach_alternative(html, "text/html")
    return message.send()


@task()
def checkpoint_audit() -> int:
    """The scheduler's periodic signed checkpoint of the audit log's head (core/anchor.py);
    returns the checkpointed entry number, 0 when none was due."""
    from bulwark.core import anchor

    point = anchor.checkpoint(periodic=True)
    return point.seq if point else 0


@task()
def send_notification_digests() -> int:
    """Periodic: the daily e-mail digest of unread notices, for those who asked for it."""
    from bulwark.core.services import send_digests

    return send_digests()


def platform_admin_emails() -> list[str]:
    from django.db.models import Q

    from bulwark.constituency.models import OrganisationKind, Role, User

    admins = User.objects.filter(is_active=True).filter(
        Q(is_superuser=True)
        | Q(
            memberships__role=Role.PLATFORM_ADMIN,
            memberships__organisation__kind=OrganisationKind.NATIONAL_CERT,
        )
    )
    return sorted({e for e in admins.values_list("email", flat=True) if e})


@task()
def notify_platform_admins(topic: str, object_id: int) -> int:
    """Tell the platform admins about something that needs a decision."""
    from bulwark.constituency.models import NetworkClaim
    from bulwark.constituency.services import overlaps_of

    if topic != "network_overlap":
        raise ValueError(f"unknown topic {topic!r}")
    claim = NetworkClaim.objects.select_related("organisation").filter(pk=object_id).first()
    if claim is None:
        return 0
    lines = []
    for overlap in overlaps_of(claim):
        other = (
            overlap.narrower
            if overlap.broader.value == claim.value
            and overlap.broader.owner == claim.organisation_id
            else overlap.broader
        )
        covers = f"{overlap.broader.value} covers {overlap.narrower.value}"
        lines.append(f"- {covers} (organisation #{other.owner})")
    if not lines:
        return 0
    recipients = platform_admin_emails()
    if not recipients:
        return 0
    subject = _("Overlapping network claim: %(value)s") % {"value": claim}
    body = "\n".join(
        [
            _("%(org)s now claims %(value)s, which overlaps other organisations' claims:")
            % {"org": claim.organisation, "value": claim},
            *lines,
            "",
            _("The most specific claim wins when routing. Review: %(url)s")
            % {"url": settings.SITE_URL + "/networks/overlaps/"},
        ]
    )
    send_email.enqueue(subject, body, recipients)
    return len(lines)
