"""Background work of the constituency: periodic upkeep of its tables (enqueued by
`bulwark scheduler`) and notices to the platform admins (enqueued by services)."""

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _
from django_tasks import task

from bulwark.constituency import throttle
from bulwark.constituency.models import NetworkClaim, OrganisationKind, Role, User
from bulwark.constituency.selectors import overlaps_of
from bulwark.core.tasks import send_email


@task()
def purge_login_failures() -> int:
    return throttle.purge_expired()


def platform_admin_emails() -> list[str]:
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
