"""A finding reported as an incident, and a finding linked to the agency's inventory."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.advisories.models import InventoryItem
from bulwark.constituency.models import User
from bulwark.core import audit
from bulwark.core.observables import InvalidIndicator
from bulwark.core.permissions import require
from bulwark.findings.models import EventKind, Finding, RemediationEvent
from bulwark.incidents import indicators as incident_indicators
from bulwark.incidents import services as incidents
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident


def _indicators(finding: Finding) -> list[tuple[str, str]]:
    """The finding's host and URL as incident indicators, when they are ones (an address,
    a domain name, a URL: not "agency-wide")."""
    found: list[tuple[str, str]] = []
    for value in (finding.host, finding.url):
        if not value:
            continue
        try:
            found.append(incident_indicators.normalised(None, value))
        except InvalidIndicator:
            continue
    return found


def _description(finding: Finding) -> str:
    lines = [
        _("Reported from finding F-%(id)d (%(severity)s) of the engagement %(engagement)s.")
        % {
            "id": finding.pk,
            "severity": finding.get_severity_display(),
            "engagement": finding.engagement.title,
        },
        _("Asset: %(asset)s") % {"asset": finding.asset_label or "-"},
    ]
    if finding.cves:
        lines.append(_("CVEs: %(cves)s") % {"cves": ", ".join(finding.cves)})
    if finding.description:
        lines += ["", finding.description]
    return "\n".join(lines)[:20_000]


def report_as_incident(actor: User, finding: Finding) -> tuple[Incident, bool]:
    """Report a finding as an incident of its agency (a vulnerable system, per RSIT):
    CERT staff and the agency's members who may report incidents. Once only: when the
    finding already became an incident, that incident is returned and nothing is written.
    Returns (incident, created)."""
    require(actor, "incident.report", finding.organisation)
    with transaction.atomic():
        locked = (
            Finding.objects.select_for_update()
            .select_related("organisation", "engagement")
            .get(pk=finding.pk)
        )
        if locked.incident_id is not None:
            existing = Incident.objects.filter(pk=locked.incident_id).first()
            if existing is not None:
                return existing, False
        incident = incidents.report_incident(
            actor,
            locked.organisation,
            title=(_("Vulnerability: %(title)s") % {"title": locked.title})[:200],
            description=_description(locked),
            rsit_class="vulnerable",
            rsit_type="vulnerable-system",
            aware_at=timezone.now(),
            answers=Answers(),
            affected_systems=locked.asset_label[:5000],
            indicators=_indicators(locked),
        )
        locked.incident = incident
        locked.save(update_fields=["incident"])
        RemediationEvent.objects.create(
            finding=locked,
            kind=EventKind.INCIDENT,
            actor=actor,
            note=_("Reported as incident %(ref)s.") % {"ref": incident.reference},
        )
        audit.record(
            actor,
            "findings.incident_reported",
            locked,
            organisation_id=locked.organisation_id,
            changes={"incident": incident.reference},
        )
    finding.incident = incident
    return incident, True


def link_inventory(actor: User, finding: Finding, item: InventoryItem | None) -> Finding:
    """Record (or clear, with None) the product of the agency's inventory a finding is
    on: the agency's members and the CERT."""
    require(actor, "findings.work", finding)
    if item is not None and item.organisation_id != finding.organisation_id:
        raise ValidationError(
            {"inventory_item": _("This product is not in the agency's inventory.")}
        )
    with transaction.atomic():
        before = finding.inventory_item_id
        finding.inventory_item = item
        finding.save(update_fields=["inventory_item"])
        audit.record(
            actor,
            "findings.inventory_linked",
            finding,
            organisation_id=finding.organisation_id,
            changes={"inventory_item": [before, item.pk if item else None]},
        )
    return finding
