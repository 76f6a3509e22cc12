"""Deduplication and re-import: the cases users of other tools got wrong (issue 23)."""

import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bulwark.core.models import AuditEntry
from bulwark.findings import services
from bulwark.findings.models import (
    DedupeDecision,
    Finding,
    FindingStatus,
    ScanImport,
)
from bulwark.findings.tests.world import World, csv_scan, nessus

pytestmark = pytest.mark.django_db

BASE = {
    "10.0.0.1": [(443, "1001", 3, "CVE-2024-0001"), (22, "1002", 2, "")],
    "10.0.0.2": [(80, "1003", 4, "")],
}


def statuses(**where: Any) -> dict[str, str]:
    return {f.rule_id: f.status for f in Finding.objects.filter(**where)}


def test_same_scan_twice_is_all_duplicates(world: World) -> None:
    engagement = world.engagement()
    first = world.imported(engagement, nessus(BASE))
    assert (first.new, first.duplicate, first.mitigated, first.reopened) == (3, 0, 0, 0)
    second = world.imported(engagement, nessus(BASE))
    assert (second.new, second.duplicate, second.mitigated, second.reopened) == (0, 3, 0, 0)
    assert Finding.objects.count() == 3
    assert set(statuses().values()) == {"open"}
    outcomes = DedupeDecision.objects.filter(scan=second.scan).values_list("outcome", flat=True)
    assert sorted(outcomes) == ["duplicate"] * 3
    # the counts are kept on the import, and one audit entry says what it did
    scan = ScanImport.objects.get(pk=second.scan.pk)
    assert (scan.state, scan.duplicate, scan.tool) == ("processed", 3, "nessus")
    entry = AuditEntry.objects.filter(action="findings.scan_imported").order_by("seq").last()
    assert entry is not None and entry.changes["duplicate"] == 3


def test_a_fixed_problem_absent_from_a_full_rescan_is_mitigated_with_the_date(
    world: World,
) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus(BASE))
    later = timezone.now() + timedelta(days=3)
    fixed = {"10.0.0.1": [(443, "1001", 3, "CVE-2024-0001")], "10.0.0.2": BASE["10.0.0.2"]}
    result = services.import_scan(
        world.analyst, engagement, io.BytesIO(nessus(fixed)), "rescan.nessus", now=later
    )
    assert (result.new, result.duplicate, result.mitigated) == (0, 2, 1)
    gone = Finding.objects.get(rule_id="1002")
    assert gone.status == FindingStatus.MITIGATED
    assert gone.mitigated_at == later
    decision = gone.decisions.get(scan=result.scan)
    assert decision.outcome == "mitigated" and "no longer reports" in decision.explanation


def test_a_partial_scan_or_another_host_mitigates_nothing(world: World) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus(BASE))
    partial = world.imported(
        engagement, nessus({"10.0.0.1": [(443, "1001", 3, "CVE-2024-0001")]}), full_rescan=False
    )
    assert partial.mitigated == 0
    # a full scan of 10.0.0.2 only says nothing about 10.0.0.1
    other = world.imported(engagement, nessus({"10.0.0.2": BASE["10.0.0.2"]}))
    assert other.mitigated == 0
    assert set(statuses().values()) == {"open"}


def test_a_rescan_in_another_engagement_of_the_same_agency_continues_the_findings(
    world: World,
) -> None:
    """DefectDojo needs the exact same test/scope to re-import; here the agency is the
    scope: next quarter's engagement sees the same problems."""
    world.imported(world.engagement(), nessus(BASE))
    next_quarter = world.engagement(title="Next quarter")
    result = world.imported(next_quarter, nessus({"10.0.0.2": BASE["10.0.0.2"]}))
    assert (result.new, result.duplicate) == (0, 1)
    # another agency's identical scan is its own findings
    elsewhere = world.imported(world.engagement(world.power), nessus(BASE))
    assert elsewhere.new == 3


def test_a_regression_reopens_the_mitigated_finding(world: World) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus(BASE))
    world.imported(engagement, nessus({"10.0.0.1": [(22, "1002", 2, "")]}))
    assert statuses(host="10.0.0.1")["1001"] == "mitigated"
    back = world.imported(engagement, nessus(BASE))
    assert (back.new, back.reopened, back.duplicate) == (0, 1, 2)
    finding = Finding.objects.get(rule_id="1001")
    assert finding.status == FindingStatus.OPEN
    assert finding.reopened_count == 1 and finding.mitigated_at is None
    decision = finding.decisions.get(scan=back.scan)
    assert decision.outcome == "reopened"
    assert "regression" in decision.explanation
    assert finding.events.filter(kind="reopened").exists()


def test_the_oldest_match_being_mitigated_does_not_swallow_the_live_one(world: World) -> None:
    """DefectDojo's bug: dedupe stopped at the oldest candidate, which was mitigated, so the
    new finding was attached to a closed one and disappeared. Every candidate is weighed:
    the one still tracked wins, and the decision lists them all."""
    engagement = world.engagement()
    world.imported(engagement, nessus({"10.0.0.2": BASE["10.0.0.2"]}))
    old = Finding.objects.get()
    Finding.objects.filter(pk=old.pk).update(
        status=FindingStatus.MITIGATED, mitigated_at=timezone.now()
    )
    # a second row of the same problem (e.g. recorded before a merge), still open
    newer = Finding.objects.get(pk=old.pk)
    newer.pk = None
    newer.status = FindingStatus.IN_PROGRESS
    newer.mitigated_at = None
    newer.save()
    result = world.imported(engagement, nessus({"10.0.0.2": BASE["10.0.0.2"]}))
    assert (result.new, result.duplicate, result.reopened) == (0, 1, 0)
    decision = DedupeDecision.objects.get(scan=result.scan)
    assert decision.finding_id == newer.pk
    assert {c["id"] for c in decision.candidates} == {old.pk, newer.pk}
    assert Finding.objects.get(pk=old.pk).status == "mitigated"
    assert Finding.objects.get(pk=newer.pk).status == "in_progress"
    # and the other way round: the OLDEST is the live one, the newest mitigated
    Finding.objects.filter(pk=old.pk).update(status=FindingStatus.OPEN, mitigated_at=None)
    Finding.objects.filter(pk=newer.pk).update(status=FindingStatus.MITIGATED)
    again = world.imported(engagement, nessus({"10.0.0.2": BASE["10.0.0.2"]}))
    assert DedupeDecision.objects.get(scan=again.scan).finding_id == old.pk
    assert again.reopened == 0


def test_two_tools_reporting_the_same_cve_on_the_same_asset_are_one_finding(
    world: World,
) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus({"10.0.0.1": [(443, "1001", 3, "CVE-2024-0001")]}))
    csv = csv_scan([("OpenSSL flaw", "high", 443, "10.0.0.1", "CVE-2024-0001")])
    result = world.imported(engagement, csv, "greenbone.csv", full_rescan=False)
    assert (result.new, result.duplicate) == (0, 1), result.error
    assert Finding.objects.count() == 1
    # the same CVE on another port is another finding
    other_port = csv_scan([("OpenSSL flaw", "high", 8443, "10.0.0.1", "CVE-2024-0001")])
    assert world.imported(engagement, other_port, "g2.csv", full_rescan=False).new == 1


def test_a_fixed_finding_still_found_goes_back_to_work(world: World) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus(BASE))
    finding = Finding.objects.get(rule_id="1003")
    services.mark_fixed(world.bureau_reporter, finding, "Patched the web server.")
    result = world.imported(engagement, nessus(BASE))
    assert result.reopened == 1
    finding.refresh_from_db()
    assert finding.status == FindingStatus.IN_PROGRESS and finding.fixed_at is None
    assert finding.decisions.get(scan=result.scan).reason == "fixed_still_present"


def test_a_fixed_finding_absent_from_the_rescan_is_mitigated(world: World) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus(BASE))
    finding = Finding.objects.get(rule_id="1003")
    services.mark_fixed(world.bureau_reporter, finding, "Patched.")
    # a clean host still has Nessus' "scan information" item (plugin 19506, severity 0)
    result = world.imported(engagement, nessus({"10.0.0.2": [(0, "19506", 0, "")]}))
    assert (result.mitigated, result.new) == (1, 1)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.MITIGATED


def test_accepted_and_false_positive_decisions_stand_when_seen_again(world: World) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus(BASE))
    finding = Finding.objects.get(rule_id="1002")
    services.mark_false_positive(world.analyst, finding, "SSH banner only, not vulnerable.")
    result = world.imported(engagement, nessus(BASE))
    assert result.duplicate == 3 and result.reopened == 0
    assert Finding.objects.get(pk=finding.pk).status == "false_positive"


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a scan",
        b"<?xml version='1.0'?><foo/>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><NessusClientData_v2/>',
    ],
)
def test_a_refused_file_stores_nothing_but_itself(world: World, content: bytes) -> None:
    engagement = world.engagement()
    result = world.imported(engagement, content, "bad.nessus")
    assert not result.ok and result.error
    assert Finding.objects.count() == 0
    scan = ScanImport.objects.get()
    assert scan.state == "failed" and scan.error == result.error
    with services.open_kept(scan.sha256) as kept:  # nothing is lost
        assert kept.read() == content


def test_a_file_broken_half_way_leaves_no_finding_behind(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services.imports, "BATCH", 1)  # the first items are stored before the break
    engagement = world.engagement()
    whole = nessus(BASE)
    truncated = whole[: whole.index(b"</ReportHost>") + 40]
    result = world.imported(engagement, truncated, "cut.nessus")
    assert not result.ok
    assert Finding.objects.count() == 0 and DedupeDecision.objects.count() == 0


def test_a_real_nessus_file_from_defectdojo_imports(world: World) -> None:
    from pathlib import Path

    sample = Path(__file__).parent / "corpus/defectdojo/nessus/nessus_with_cvssv3.nessus.gz"
    engagement = world.engagement()
    with sample.open("rb") as handle:
        result = services.import_scan(world.analyst, engagement, handle, sample.name)
    assert result.ok, result.error
    assert result.new > 0 and result.scan.tool == "nessus"
    with sample.open("rb") as handle:
        again = services.import_scan(world.analyst, engagement, handle, sample.name)
    assert (again.new, again.mitigated, again.reopened) == (0, 0, 0)
    assert Finding.objects.filter(cvss_score__isnull=False).exists()
    # deadlines from the profile: a critical one in 15 days of its first sighting
    critical = Finding.objects.filter(severity="critical").first()
    if critical is not None:
        # the clock runs from the import, not from the scan's own (2014) date
        assert critical.deadline is not None
        expected = timezone.now() + timedelta(days=15)
        assert abs((critical.deadline - expected).total_seconds()) < 600
