"""The remediation workflow, risk acceptance, false positives, manual findings and the
deadlines (reminders before, escalation to the authority after)."""

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from bulwark.constituency import services as cs
from bulwark.core.models import AuditEntry, Notification
from bulwark.findings import deadlines, services
from bulwark.findings.models import Finding, FindingStatus, RemediationEvent
from bulwark.findings.tests.world import World, nessus

pytestmark = pytest.mark.django_db


def a_finding(world: World, severity: int = 4) -> Finding:
    engagement = world.engagement()
    world.imported(engagement, nessus({"10.0.0.9": [(443, "2001", severity, "")]}))
    return Finding.objects.get()


def test_assigned_in_progress_fixed_with_evidence_retested_closed(world: World) -> None:
    finding = a_finding(world)
    services.assign(world.bureau_admin, finding, world.bureau_reporter)
    assert Notification.objects.filter(user=world.bureau_reporter).exists()
    services.start(world.bureau_reporter, finding)
    with pytest.raises(ValidationError):
        services.mark_fixed(world.bureau_reporter, finding, "")  # how, or the evidence
    services.mark_fixed(
        world.bureau_reporter,
        finding,
        "Upgraded to 2.4.62.",
        io.BytesIO(b"patch report"),
        "../../patch-report.txt",
    )
    event = RemediationEvent.objects.get(kind="fixed")
    assert event.evidence_name == "patch-report.txt" and event.evidence_size == 12
    with services.open_kept(event.evidence_sha256) as kept:
        assert kept.read() == b"patch report"
    # the agency cannot close its own finding: the CERT retests
    with pytest.raises(PermissionDenied):
        services.retest(world.bureau_admin, finding, passed=True)
    services.retest(world.analyst, finding, passed=True, note="Version checked.")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED and finding.closed_at is not None
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "findings.assigned",
        "findings.started",
        "findings.fixed",
        "findings.retested",
    } <= actions


def test_a_failed_retest_sends_it_back_with_the_reason(world: World) -> None:
    finding = a_finding(world)
    services.mark_fixed(world.bureau_reporter, finding, "Done.")
    with pytest.raises(ValidationError):
        services.retest(world.analyst, finding, passed=False)
    services.retest(world.analyst, finding, passed=False, note="Still answers on TLS 1.0.")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.IN_PROGRESS and finding.fixed_at is None


def test_other_agencies_and_authorities_do_not_work_the_finding(world: World) -> None:
    finding = a_finding(world)
    for outsider in (world.power_reporter, world.reviewer, world.nobody):
        with pytest.raises(PermissionDenied):
            services.start(outsider, finding)
    with pytest.raises(ValidationError):  # an assignee from another agency
        services.assign(world.bureau_admin, finding, world.power_reporter)


def test_risk_acceptance_needs_a_second_person_and_expires(world: World) -> None:
    finding = a_finding(world)
    until = timezone.localdate() + timedelta(days=30)
    acceptance = services.request_risk_acceptance(
        world.bureau_admin, finding, reason="Legacy system, isolated.", expires_on=until
    )
    with pytest.raises(PermissionDenied):  # not by the one who asked
        services.decide_risk_acceptance(world.bureau_admin, acceptance, approve=True)
    with pytest.raises(PermissionDenied):  # a reporter of the agency is not an approver
        services.decide_risk_acceptance(world.bureau_reporter, acceptance, approve=True)
    services.decide_risk_acceptance(world.analyst, acceptance, approve=True, note="Agreed.")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.RISK_ACCEPTED
    assert services.expire_risk_acceptances(until + timedelta(days=1)) == 1
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN


def test_false_positive_needs_a_reason_and_the_cert(world: World) -> None:
    finding = a_finding(world)
    with pytest.raises(PermissionDenied):
        services.mark_false_positive(world.bureau_admin, finding, "Not us.")
    with pytest.raises(ValidationError):
        services.mark_false_positive(world.analyst, finding, " ")
    services.mark_false_positive(world.analyst, finding, "Banner grab only.")
    assert Finding.objects.get().false_positive_reason == "Banner grab only."


def test_manual_findings_from_a_checklist_with_a_cvss_4_vector(world: World) -> None:
    checklist = services.save_checklist(
        world.analyst,
        kind="health_check",
        title="Level A health check",
        items=[("HC-01", "Backups are tested", "high", "Restore one yearly."),
               ("HC-02", "MFA on remote access", "critical", "")],
    )  # fmt: skip
    engagement = world.engagement(kind="health_check", title="Health check")
    item = checklist.items.get(ref="HC-02")
    finding = services.add_manual_finding(
        world.analyst,
        engagement,
        title=item.title,
        severity=item.severity,
        host="vpn.bureau.example",
        checklist_item=item,
        cvss_vector="CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    )
    assert finding.cvss_score == 9.3 and finding.tool == "manual"
    with pytest.raises(ValidationError):  # the same problem twice
        services.add_manual_finding(
            world.analyst, engagement, title=item.title, severity="critical",
            host="vpn.bureau.example", checklist_item=item,
        )  # fmt: skip
    with pytest.raises(ValidationError):
        services.add_manual_finding(
            world.analyst, engagement, title="x", severity="low", cvss_vector="CVSS:3.1/AV:Z"
        )
    with pytest.raises(PermissionDenied):
        services.add_manual_finding(world.bureau_admin, engagement, title="y", severity="low")


def test_deadline_profiles_are_data() -> None:
    default = deadlines.profile("default")
    start = timezone.now()
    assert default.due("critical", start) == start + timedelta(days=15)
    assert default.due("info", start) is None
    assert deadlines.profile("unknown") == default
    short = deadlines.profile("critical-infrastructure")
    assert short.due("critical", start) == start + timedelta(days=7)


def test_reminder_before_and_escalation_to_the_authority_after(world: World) -> None:
    finding = a_finding(world)  # critical: 15 days
    assert finding.deadline is not None
    soon = finding.deadline - timedelta(days=6)
    figures = services.send_deadline_alerts(soon)
    assert figures["reminded"] == 1
    assert Notification.objects.filter(user=world.bureau_admin, kind="clock_reminder").exists()
    assert services.send_deadline_alerts(soon)["reminded"] == 0  # once per threshold
    assert services.send_deadline_alerts(finding.deadline - timedelta(hours=12))["reminded"] == 1
    late = finding.deadline + timedelta(hours=1)
    assert services.send_deadline_alerts(late)["escalated"] == 1
    # the authority above the agency hears of it, the other agencies do not
    assert Notification.objects.filter(user=world.reviewer, kind="clock_overdue").exists()
    assert not Notification.objects.filter(user=world.power_reporter).exists()
    assert services.send_deadline_alerts(late)["escalated"] == 0
    assert Finding.objects.get().events.filter(kind="escalated").count() == 1
    # both sends are audited as the platform's
    assert AuditEntry.objects.filter(action="findings.reminded", actor=None).count() == 2
    assert AuditEntry.objects.filter(action="findings.escalated", actor=None).count() == 1


def test_an_agency_without_authority_escalates_to_the_duty_officers(world: World) -> None:
    """ "Other agency" sits right below the CERT: its overdue findings go to the CERT's
    duty officers, not to every admin of the CERT as if the CERT were its authority."""
    cert_admin = cs.create_user(
        None, username="cert-admin", email="cert-admin@example.org", password="p" * 14
    )
    cs.add_membership(None, cert_admin, world.cert, "org_admin")
    engagement = world.engagement(world.other)
    world.imported(engagement, nessus({"10.9.0.1": [(443, "77", 4, "")]}))
    finding = Finding.objects.get(organisation=world.other)
    assert finding.deadline is not None
    assert services.send_deadline_alerts(finding.deadline + timedelta(days=1))["escalated"] == 1
    told = set(Notification.objects.filter(kind="clock_overdue").values_list("user", flat=True))
    assert world.duty.pk in told
    assert cert_admin.pk not in told and world.reviewer.pk not in told


def test_engagement_status_flow(world: World) -> None:
    engagement = world.engagement()
    with pytest.raises(ValidationError):
        services.change_engagement_status(world.analyst, engagement, "delivered")
    for status in ("in_progress", "reporting", "delivered", "closed"):
        engagement = services.change_engagement_status(world.analyst, engagement, status)
    assert engagement.report_delivered_at is not None
    with pytest.raises(ValidationError):  # no import into a closed engagement
        world.imported(engagement, nessus({"10.0.0.1": [(1, "1", 1, "")]}))
    with pytest.raises(PermissionDenied):
        services.create_engagement(world.bureau_admin, world.bureau, kind="audit", title="x")


def test_epss_and_the_real_kev_catalogue_mark_the_open_findings(
    world: World, tmp_path: Any
) -> None:
    engagement = world.engagement()
    world.imported(
        engagement,
        nessus({"10.0.0.5": [(443, "5001", 4, "CVE-2024-3400"), (80, "5002", 2, "CVE-1999-0001")]}),
    )
    kev = Path(__file__).parent / "corpus/cisa/known_exploited_vulnerabilities.json.gz"
    out = io.StringIO()
    call_command("findings", "kev", str(kev), stdout=out)
    assert "1 findings updated" in out.getvalue()
    flagged = Finding.objects.get(kev=True)
    assert flagged.cves == ["CVE-2024-3400"]
    epss = tmp_path / "epss_scores-2026-12-07.csv"
    epss.write_text(
        "#model_version:v2025.03.14,score_date:2026-12-07T00:00:00+0000\n"
        "cve,epss,percentile\nCVE-2024-3400,0.94312,0.99951\nCVE-1999-0001,0.01,0.2\n"
    )
    assert services.load_epss(world.analyst, epss.open("rb")) == 2
    assert Finding.objects.get(pk=flagged.pk).epss == pytest.approx(0.94312)
    with pytest.raises(PermissionDenied):
        services.load_epss(world.bureau_admin, epss.open("rb"))
    with pytest.raises(CommandError):
        call_command("findings", "kev", str(epss))  # not a KEV catalogue


def test_the_cert_keeps_checklists_on_their_page(world: World, client: Any) -> None:
    from bulwark.conftest import sign_in

    text = "HC-10 | high | Patch within 30 days | Monthly patch report\nHC-11 | low | Banner\n"
    sign_in(client, world.bureau_admin)
    assert client.get("/findings/checklists/").status_code == 200
    refused = client.post(
        "/findings/checklists/", {"kind": "health_check", "title": "X", "items": text}
    )
    assert refused.status_code == 403
    sign_in(client, world.analyst)
    bad = client.post(
        "/findings/checklists/", {"kind": "health_check", "title": "X", "items": "HC | ??? | t"}
    )
    assert bad.status_code == 400 and "unknown severity" in bad.content.decode()
    done = client.post(
        "/findings/checklists/", {"kind": "health_check", "title": "Level B", "items": text}
    )
    assert done.status_code == 302, done.content.decode()[-3000:]
    page = client.get("/findings/checklists/").content.decode()
    assert "Patch within 30 days" in page and "Monthly patch report" in page
