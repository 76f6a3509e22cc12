"""Findings' status history: every service that changes a status records the change
(imports in bulk), so the annual report counts a year's findings as they stood at its
end, not as they stand when the report is made."""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from bulwark.analytics import periods, report_activities
from bulwark.conftest import bearer
from bulwark.findings import selectors, services
from bulwark.findings.models import Finding, StatusChange
from bulwark.findings.tests.world import World, nessus

pytestmark = pytest.mark.django_db
LAST_YEAR = timezone.localdate().year - 1


def at(month: int, day: int, year: int = LAST_YEAR) -> datetime:
    return datetime(year, month, day, 12, tzinfo=ZoneInfo(settings.TIME_ZONE))


def scan(hosts: dict[str, list[tuple[int, str, int, str]]], year: int = LAST_YEAR) -> bytes:
    """world.nessus with the host's scan date in `year` (the tool's date: first seen)."""
    return nessus(hosts).replace(b"Dec  7 10:00:00 2026", f"Jun  1 10:00:00 {year}".encode())


def history(finding: Finding) -> list[tuple[str, str]]:
    return list(finding.status_changes.values_list("from_status", "to_status"))


def test_every_workflow_step_is_recorded(world: World) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus({"10.1.0.1": [(443, "3001", 3, ""), (22, "3002", 2, "")]}))
    first, second = Finding.objects.order_by("pk")
    services.assign(world.bureau_admin, first, world.bureau_reporter)
    services.start(world.bureau_reporter, first)
    services.mark_fixed(world.bureau_reporter, first, "Patched.")
    services.retest(world.analyst, first, passed=False, note="Still there.")
    services.mark_fixed(world.bureau_reporter, first, "Patched again.")
    services.retest(world.analyst, first, passed=True)
    assert history(first) == [
        ("open", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "fixed"),
        ("fixed", "in_progress"),
        ("in_progress", "fixed"),
        ("fixed", "closed"),
    ]
    assert first.status_changes.first().actor_id == world.bureau_admin.pk  # type: ignore[union-attr]
    services.mark_false_positive(world.analyst, second, "A banner, not the version.")
    assert history(second) == [("open", "false_positive")]


def test_risk_acceptance_and_its_expiry_are_recorded(world: World) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus({"10.1.0.1": [(443, "3001", 3, "")]}))
    finding = Finding.objects.get()
    expires = timezone.localdate() + timedelta(days=30)
    acceptance = services.request_risk_acceptance(
        world.bureau_reporter, finding, reason="Legacy system", expires_on=expires
    )
    services.decide_risk_acceptance(world.bureau_admin, acceptance, approve=True)
    services.expire_risk_acceptances(expires + timedelta(days=1))
    assert history(finding) == [("open", "risk_accepted"), ("risk_accepted", "open")]
    assert finding.status_changes.last().actor_id is None  # type: ignore[union-attr]


def test_imports_record_mitigated_and_reopened_in_bulk(world: World) -> None:
    engagement = world.engagement()
    hosts = {"10.1.0.1": [(443, "3001", 3, ""), (22, "3002", 2, "")]}
    world.imported(engagement, nessus(hosts))
    fixed = Finding.objects.get(rule_id="3002")
    services.mark_fixed(world.bureau_reporter, fixed, "Patched.")
    # a full re-scan without 3001 mitigates it; 3002, marked fixed, is still there
    rescan = world.imported(engagement, nessus({"10.1.0.1": [(22, "3002", 2, "")]}))
    gone = Finding.objects.get(rule_id="3001")
    assert history(gone) == [("open", "mitigated")]
    assert history(fixed) == [("open", "fixed"), ("fixed", "in_progress")]
    assert set(
        StatusChange.objects.filter(scan=rescan.scan).values_list("finding_id", flat=True)
    ) == {
        gone.pk,
        fixed.pk,
    }
    # and back: a resolved finding found again is reopened
    world.imported(engagement, nessus(hosts))
    assert history(gone) == [("open", "mitigated"), ("mitigated", "open")]


def test_the_annual_report_counts_the_status_at_the_years_end(world: World) -> None:
    """Findings first seen last year: one fixed and closed this year, one mitigated by a
    re-scan last year and found again this year, one closed with a bare update (no history:
    counted with its status now). At last year's end one was open (past its 30-day
    deadline); now another one is."""
    engagement = world.engagement()
    hosts = {"10.1.0.1": [(443, "4001", 3, ""), (22, "4002", 3, ""), (25, "4003", 3, "")]}
    world.imported(engagement, scan(hosts), now=at(6, 1))
    fixed_later = Finding.objects.get(rule_id="4001")
    # September: a full re-scan no longer finds 4002 (mitigated then)
    partial = {"10.1.0.1": [(443, "4001", 3, ""), (25, "4003", 3, "")]}
    world.imported(engagement, scan(partial), now=at(9, 1))
    # this year: 4001 fixed and closed, 4002 found again
    services.mark_fixed(world.bureau_reporter, fixed_later, "Patched.")
    services.retest(world.analyst, fixed_later, passed=True)
    again = {"10.1.0.1": [(22, "4002", 3, "")]}
    world.imported(engagement, scan(again, LAST_YEAR + 1), full_rescan=False)
    Finding.objects.filter(rule_id="4003").update(status="closed", closed_at=timezone.now())
    # (a bare update records no change: 4003 counts with its status now, as before)

    period = periods.year(LAST_YEAR)
    end = period.end
    statuses = dict(
        selectors.status_at(Finding.objects.all(), end).values_list("rule_id", "status_then")
    )
    assert statuses == {"4001": "open", "4002": "mitigated", "4003": "closed"}
    board = selectors.dashboard_at(Finding.objects.all(), end)
    assert (board.open_total, board.overdue) == (1, 1)
    # 4002 mitigated in September, 4003 closed now: both after their 30-day deadline
    assert (board.resolved_on_time, board.resolved_late) == (0, 2)

    with translation.override("en"):
        section = report_activities.findings_section(world.analyst, period)
    facts = dict(section.facts)
    assert facts["Findings first seen in the year"] == "3"
    assert facts["Still to remediate"] == "1"  # 4001: fixed only this year
    assert facts["Past their deadline"] == "1"
    # the same findings now: 4002 open again, 4001 closed
    now = selectors.dashboard_at(Finding.objects.all(), timezone.now())
    assert now.open_total == 1 and Finding.objects.get(rule_id="4002").status == "open"
    assert Finding.objects.get(rule_id="4001").status == "closed"


def test_status_history_api_and_its_visibility(world: World, client: Client) -> None:
    engagement = world.engagement()
    world.imported(engagement, nessus({"10.1.0.1": [(443, "3001", 3, "")]}))
    finding = Finding.objects.get()
    services.start(world.bureau_reporter, finding)
    url = f"/api/v1/findings/{finding.pk}/status-history/"
    for who, sees in (
        ("analyst", True),
        ("bureau_reporter", True),
        ("reviewer", True),
        ("power_reporter", False),
        ("nobody", False),
    ):
        answer = client.get(url, **bearer(getattr(world, who), ["findings:read"]))
        assert answer.status_code == (200 if sees else 404), who
        if sees:
            rows: list[dict[str, Any]] = answer.json()
            assert [(r["from_status"], r["to_status"]) for r in rows] == [("open", "in_progress")]
            assert rows[0]["actor"] == world.bureau_reporter.pk
