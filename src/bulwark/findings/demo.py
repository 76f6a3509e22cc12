"""Demo engagements and findings (loaded by `bulwark demo`, idempotent, through services):
engagements in every state; real scanner outputs imported (DefectDojo's public sample
scans, copied from the corpus of the engine's tests to samples/); findings in every step
of the remediation workflow; a health-check checklist of the CERT with manual findings."""

import io
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from bulwark.constituency.models import Organisation, User
from bulwark.findings import services
from bulwark.findings.models import Engagement, EngagementStatus, Finding

SAMPLES = Path(__file__).with_name("samples")  # real scans (samples/README.md)
CHECKLIST = [
    ("HC-01", "Multi-factor authentication on every remote access", "critical",
     "VPN, webmail and remote desktop ask for a second factor."),
    ("HC-02", "Backups are kept offline and a restore was tested this year", "high",
     "At least one full restore test per year, recorded."),
    ("HC-03", "Internet-facing systems are in the asset inventory", "medium",
     "Every exposed host and service is listed with its owner."),
    ("HC-04", "Security logs kept for at least six months", "medium",
     "Authentication, VPN and firewall logs, centrally."),
    ("HC-05", "Administrator accounts are personal and reviewed quarterly", "low", ""),
]  # fmt: skip
PLANS = [
    # (agency, kind, title, status to reach, scans)
    (
        "Taiwan Power Company (demo)",
        "pentest",
        "Annual penetration test 2026",
        EngagementStatus.IN_PROGRESS,
        ["nessus/nessus_with_cvssv3.nessus.gz", "openvas/many_vuln.xml"],
    ),
    (
        "Centers for Disease Control",
        "vuln_scan",
        "Public web applications scan",
        EngagementStatus.REPORTING,
        ["zap/some_2.9.0.xml", "nuclei/many_findings.json", "burp/seven_findings.xml"],
    ),
    (
        "Water Resources Agency",
        "health_check",
        "Cyber health check (level A)",
        EngagementStatus.DELIVERED,
        [],
    ),
    (
        "Taiwan Power Company (demo)",
        "red_team",
        "Red-team exercise: OT network",
        EngagementStatus.CLOSED,
        ["nmap/nmap_multiple_port.xml"],
    ),
    ("Centers for Disease Control", "audit", "Security audit 2027", EngagementStatus.PLANNED, []),
    (
        "Water Resources Agency",
        "vuln_scan",
        "Internal scan (postponed)",
        EngagementStatus.CANCELLED,
        [],
    ),
]
FLOW = [
    EngagementStatus.IN_PROGRESS,
    EngagementStatus.REPORTING,
    EngagementStatus.DELIVERED,
    EngagementStatus.CLOSED,
]


def _import(analyst: User, engagement: Engagement, name: str, days_ago: int | None = None) -> None:
    """Import a sample scan; `days_ago` backdates the import (the CERT's first record of
    its findings), so the demo's time to remediate is weeks, not the scanner's years."""
    path = SAMPLES / name
    when = timezone.now() - timedelta(days=days_ago) if days_ago else None
    with path.open("rb") as handle:
        services.import_scan(analyst, engagement, handle, path.name, full_rescan=False, now=when)


def _advance(analyst: User, engagement: Engagement, target: str) -> Engagement:
    if target == EngagementStatus.CANCELLED:
        return services.change_engagement_status(analyst, engagement, target)
    for status in FLOW:
        if engagement.status == target:
            break
        if status not in services.ENGAGEMENT_FLOW[engagement.status]:
            continue
        engagement = services.change_engagement_status(
            analyst, engagement, status, "Report sent to the agency's CISO."
        )
    return engagement


def _work(analyst: User, agency_admin: User, reporter: User, engagement: Engagement) -> None:
    """Findings of the first engagement in every step of the workflow."""
    open_ones = list(
        Finding.objects.filter(engagement=engagement, status="open")
        .exclude(severity="info")
        .order_by("pk")[:7]
    )
    if len(open_ones) < 7:
        return
    assigned, started, fixed, closed, accepted, false_positive, failed = open_ones
    services.assign(agency_admin, assigned, reporter, "Please patch this week.")
    services.start(reporter, started, "Change request raised.")
    services.mark_fixed(
        reporter,
        fixed,
        "Upgraded and restarted the service.",
        io.BytesIO(b"Patch report: package upgraded, service restarted, version checked.\n"),
        "patch-report.txt",
    )
    services.mark_fixed(reporter, closed, "Configuration hardened.")
    services.retest(analyst, closed, passed=True, note="Retested from the outside: fixed.")
    services.mark_fixed(reporter, failed, "Firewall rule added.")
    services.retest(analyst, failed, passed=False, note="Still reachable from the VPN range.")
    acceptance = services.request_risk_acceptance(
        reporter,
        accepted,
        reason="Legacy SCADA historian, isolated; replaced in the next budget year.",
        expires_on=timezone.localdate() + timedelta(days=180),
    )
    services.decide_risk_acceptance(agency_admin, acceptance, approve=True, note="Agreed.")
    services.mark_false_positive(
        analyst, false_positive, "The banner is patched by the vendor's backport."
    )
    # the finding being worked on turned out to be exploited: reported as an incident
    services.report_as_incident(analyst, started)


@transaction.atomic
def load() -> None:
    analyst = User.objects.filter(username="analyst").first()
    if analyst is None or Engagement.objects.exists():
        return
    agency_admin = User.objects.filter(username="orgadmin").first()
    reporter = User.objects.filter(username="reporter").first()
    checklist = services.save_checklist(
        analyst, kind="health_check", title="Health check, responsibility level A",
        items=CHECKLIST, level="A",
    )  # fmt: skip
    today = timezone.localdate()
    for index, (agency_name, kind, title, status, scans) in enumerate(PLANS):
        agency = Organisation.objects.filter(name=agency_name).first()
        if agency is None:
            continue
        engagement = services.create_engagement(
            analyst,
            agency,
            kind=kind,
            title=title,
            scope="203.0.113.0/24\nhttps://www.example.gov.tw/",
            starts_on=today - timedelta(days=30 - 10 * index),
            ends_on=today + timedelta(days=10 * index),
            lead=analyst,
            team=[analyst],
        )
        if status != EngagementStatus.PLANNED and status != EngagementStatus.CANCELLED:
            engagement = services.change_engagement_status(
                analyst, engagement, EngagementStatus.IN_PROGRESS
            )
        for name in scans:
            _import(analyst, engagement, name, days_ago=45 if index == 0 else 20)
        if kind == "health_check":
            for item in checklist.items.all()[:3]:
                services.add_manual_finding(
                    analyst,
                    engagement,
                    title=item.title,
                    severity=item.severity,
                    host="agency-wide",
                    checklist_item=item,
                )
        if index == 0 and agency_admin is not None and reporter is not None:
            # the same scan again: every finding a duplicate, their pages explain it
            _import(analyst, engagement, scans[0], days_ago=30)
            _work(analyst, agency_admin, reporter, engagement)
        _advance(analyst, engagement, status)
