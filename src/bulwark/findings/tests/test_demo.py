from typing import Any

from bulwark.constituency import demo as constituency_demo
from bulwark.findings import demo, selectors
from bulwark.findings.models import (
    Engagement,
    EngagementStatus,
    Finding,
    ScanImport,
    ScannedService,
)


def test_demo_has_engagements_in_every_state_and_findings_in_every_step(
    db: Any, settings: Any, tmp_path: Any
) -> None:
    constituency_demo.load()
    demo.load()
    assert set(Engagement.objects.values_list("status", flat=True)) == set(EngagementStatus.values)
    scans = ScanImport.objects.all()
    assert {s.tool for s in scans} >= {"nessus", "openvas", "zap", "nuclei", "burp", "nmap"}
    assert all(s.state == "processed" for s in scans), [(s.file_name, s.error) for s in scans]
    statuses = set(Finding.objects.values_list("status", flat=True))
    assert {"open", "assigned", "in_progress", "fixed", "closed", "risk_accepted",
            "false_positive"} <= statuses  # fmt: skip
    assert Finding.objects.filter(tool="manual", checklist_item__isnull=False).count() == 3
    # counted from the demo's imports (weeks ago), not the samples' scan dates (years ago)
    board = selectors.dashboard(Finding.objects.all())
    assert board.mean_days_to_remediate is not None
    assert 40 <= board.mean_days_to_remediate <= 46
    reported = Finding.objects.filter(incident__isnull=False)
    assert reported.count() == 1 and reported[0].incident.organisation == reported[0].organisation
    assert ScannedService.objects.filter(port=0).exists()
    count = Finding.objects.count()
    demo.load()  # idempotent
    assert Finding.objects.count() == count
