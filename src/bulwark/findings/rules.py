"""Who may change what in findings (the vocabulary is `bulwark.core.permissions`)."""

from django.utils.translation import gettext_lazy

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Role, User
from bulwark.core.permissions import action
from bulwark.findings.models import Finding, RiskAcceptance, RiskAcceptanceState

REFUSAL = gettext_lazy("You are not allowed to do this with this finding.")
CERT_ONLY = gettext_lazy("Only CERT staff do this.")


@action("findings.plan", refusal=CERT_ONLY)
def plan(user: User, obj: object = None) -> bool:
    """Plan engagements, import scans, record manual findings, keep the checklists, retest
    and close findings, mark false positives: CERT staff."""
    viewer = viewer_of(user)
    return viewer.cert_staff or viewer.platform_admin


@action("findings.work", refusal=REFUSAL)
def work(user: User, finding: Finding) -> bool:
    """Assign, start and fix a finding: the agency's own members, and the CERT."""
    viewer = viewer_of(user)
    return (
        viewer.cert_staff or viewer.platform_admin or finding.organisation_id in viewer.own_org_ids
    )


@action("findings.retest", refusal=CERT_ONLY)
def retest(user: User, finding: Finding | None = None) -> bool:
    """Retest a fixed finding and close it (or send it back): CERT staff."""
    return plan(user)


@action("findings.false_positive", refusal=CERT_ONLY)
def false_positive(user: User, finding: Finding | None = None) -> bool:
    return plan(user)


@action("findings.request_acceptance", refusal=REFUSAL)
def request_acceptance(user: User, finding: Finding) -> bool:
    """Ask to accept a finding's risk: the agency's members and the CERT."""
    return work(user, finding)


@action(
    "findings.approve_acceptance",
    refusal=gettext_lazy(
        "A risk acceptance is approved by a second person: an admin of the agency or CERT "
        "staff, not the person who asked."
    ),
)
def approve_acceptance(user: User, acceptance: RiskAcceptance) -> bool:
    """A second person: the agency's admin or CERT staff, never the requester."""
    if acceptance.state != RiskAcceptanceState.PENDING or acceptance.requested_by_id == user.pk:
        return False
    viewer = viewer_of(user)
    if viewer.cert_staff or viewer.platform_admin:
        return True
    return Role.ORG_ADMIN in viewer.roles.get(acceptance.finding.organisation_id, frozenset())
