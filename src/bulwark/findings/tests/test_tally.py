"""The dashboards read their counts from FindingTally, kept by database triggers: after
every kind of write (imports new, duplicate, reopened and mitigated; the workflow; a bare
update or deletion) they must show what counting the findings themselves shows."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.findings import selectors, services
from bulwark.findings.models import Finding, FindingStatus, FindingTally
from bulwark.findings.services import imports
from bulwark.findings.tests.world import World, nessus

pytestmark = pytest.mark.django_db


def figures(board: selectors.Dashboard) -> dict[str, Any]:
    return {
        "open": board.open_by_severity,
        "open_total": board.open_total,
        "overdue": board.overdue,
        "due_soon": board.due_soon,
        "fixed": board.fixed_awaiting_retest,
        "accepted": board.risk_accepted,
        "on_time": board.resolved_on_time,
        "late": board.resolved_late,
        "sla": board.sla_compliance,
        "mttr": board.mean_days_to_remediate,
        "by_organisation": board.by_organisation,
        "by_sector": board.by_sector,
    }


def same_as_counted(world: World) -> dict[str, Any]:
    """The tally's figures equal the findings' own, nationally and for each agency."""
    now = timezone.now()
    for org in (None, world.bureau, world.power):
        findings = Finding.objects.all()
        tally = FindingTally.objects.all()
        if org is not None:
            findings, tally = findings.filter(organisation=org), tally.filter(organisation=org)
        national = org is None
        counted = figures(selectors.dashboard(findings, now, national=national))
        tallied = figures(selectors.dashboard(findings, now, national=national, tally=tally))
        assert tallied == counted, org
    board = figures(selectors.dashboard(Finding.objects.all(), now, national=True))
    # the mean time to remediate, averaged by the database, as Python computes it
    days = [
        ((f.fixed_at or f.mitigated_at or f.closed_at) - f.first_seen).total_seconds() / 86400
        for f in Finding.objects.all()
        if f.fixed_at or f.mitigated_at or f.closed_at
    ]
    assert board["mttr"] == (round(sum(days) / len(days), 1) if days else None)
    return board


def test_the_tally_follows_imports_the_workflow_and_bare_writes(world: World) -> None:
    engagement = world.engagement()
    power = world.engagement(world.power)
    world.imported(
        engagement,
        nessus(
            {
                "10.0.0.1": [(443, "1001", 4, ""), (22, "1002", 3, ""), (80, "1003", 2, "")],
                "10.0.0.2": [(443, "1001", 4, ""), (0, "1004", 0, "")],
            }
        ),
    )
    world.imported(power, nessus({"10.9.0.1": [(443, "1001", 1, "CVE-2024-1234")]}))
    first = same_as_counted(world)
    assert first["open_total"] == 6
    assert [e["name"] for e in first["by_organisation"]] == ["Bureau", "Power Co"]
    assert first["by_sector"][0]["total"] == 5 and first["by_sector"][0]["name"] == "—"

    # the workflow: assigned, fixed, closed after retest, accepted, false positive
    one, two, three, four, five = Finding.objects.filter(organisation=world.bureau).order_by("pk")
    services.assign(world.bureau_admin, one, world.bureau_reporter)
    services.mark_fixed(world.bureau_reporter, two, "Patched.")
    services.mark_fixed(world.bureau_reporter, three, "Patched.")
    services.retest(world.analyst, three, passed=True, note="Checked.")
    services.mark_false_positive(world.analyst, four, "A honeypot.")
    second = same_as_counted(world)
    assert second["fixed"] == 1 and second["on_time"] == 2  # fixed and closed, on time

    # deadlines passed (a bare update, as a test or a data fix would): overdue and late
    Finding.objects.filter(pk__in=[one.pk, five.pk]).update(
        deadline=timezone.now() - timedelta(days=1)
    )
    fixed_at = Finding.objects.get(pk=two.pk).fixed_at
    assert fixed_at is not None
    Finding.objects.filter(pk=two.pk).update(deadline=fixed_at - timedelta(days=1))
    third = same_as_counted(world)
    assert third["overdue"] == 2 and third["late"] == 1

    # a full re-scan without host 10.0.0.2's findings and with the fixed one again:
    # mitigated, reopened, duplicates
    world.imported(
        engagement,
        nessus(
            {
                "10.0.0.1": [(443, "1001", 4, ""), (22, "1002", 3, "")],
                "10.0.0.2": [(8080, "1009", 1, "")],
            }
        ),
    )
    fourth = same_as_counted(world)
    assert Finding.objects.filter(status=FindingStatus.MITIGATED).exists()
    assert Finding.objects.filter(reopened_count=1).exists()

    # deleted findings leave the tally too; compacting changes no figure
    Finding.objects.filter(organisation=world.power).delete()
    assert same_as_counted(world)["open_total"] == fourth["open_total"] - 1
    services.compact_tally()
    assert FindingTally.objects.filter(n=0).count() == 0
    assert same_as_counted(world)["open_total"] == fourth["open_total"] - 1


def test_the_dashboard_page_counts_from_the_tally_what_the_reader_may_see(world: World) -> None:
    world.imported(world.engagement(), nessus({"10.0.0.1": [(443, "1001", 4, "")]}))
    world.imported(
        world.engagement(world.other),
        nessus({"10.1.0.1": [(443, "1001", 4, ""), (22, "1002", 3, "")]}),
    )
    own = sign_in(Client(), world.bureau_reporter).get("/findings/")
    assert own.status_code == 200
    assert own.context["board"].open_total == 1
    national = sign_in(Client(), world.analyst).get("/findings/")
    assert national.context["board"].open_total == 3
    names = [e["name"] for e in national.context["board"].by_organisation]
    assert names == ["Other agency", "Bureau"]
    agency = sign_in(Client(), world.analyst).get(f"/findings/?organisation={world.other.pk}")
    assert agency.context["board"].open_total == 2
    assert selectors.home_figures(world.bureau_reporter)["counts"]["open_findings"] == 1


def _trigger_installed() -> bool:
    """SQLite: the per-row insert trigger is in the schema (PostgreSQL keeps its own)."""
    if connection.vendor != "sqlite":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' "
            "AND name = 'findings_tally_insert'"
        )
        return bool(cursor.fetchone()[0])


def _copy_of(finding: Finding, fingerprint: str) -> Finding:
    """A finding saved by the ORM, one row: counted by the insert trigger."""
    finding.pk = None
    finding.fingerprint = fingerprint
    finding.save()
    return finding


def test_a_bulk_import_counts_its_new_findings_in_batches_and_keeps_the_trigger(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import's new findings are counted per batch, not per row (SQLite drops the
    insert trigger inside the import's transaction): the figures stay those counted from
    the findings, over several batches, a re-import and a reopening, and a single write
    afterwards is counted again by the trigger."""
    monkeypatch.setattr(imports, "BATCH", 3)
    engagement = world.engagement()
    hosts = {
        f"10.0.0.{n}": [(443, "1001", 4, ""), (22, "1002", 3, ""), (80, "1003", n % 5, "")]
        for n in range(1, 6)
    }
    assert world.imported(engagement, nessus(hosts)).new == 15
    assert _trigger_installed()
    assert same_as_counted(world)["open_total"] == 15
    assert sum(FindingTally.objects.values_list("n", flat=True)) == 15

    # one finding closed and found again, the rest duplicates, two hosts dropped
    first = Finding.objects.filter(organisation=world.bureau).order_by("pk").first()
    assert first is not None
    Finding.objects.filter(pk=first.pk).update(
        status=FindingStatus.CLOSED, closed_at=timezone.now()
    )
    again = world.imported(engagement, nessus({h: hosts[h] for h in list(hosts)[:3]}))
    assert (again.new, again.reopened, again.duplicate) == (0, 1, 8)
    same_as_counted(world)

    # a single write after the import: the trigger counts it
    _copy_of(Finding.objects.get(pk=first.pk), "f" * 64)
    assert same_as_counted(world)["open_total"] == 16
    assert sum(FindingTally.objects.values_list("n", flat=True)) == 16


def test_a_refused_import_leaves_the_tally_and_the_trigger_as_they_were(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file refused half-way (a batch already stored, then an item without a plugin id):
    nothing of it stays, the tally is the findings' own and the trigger still counts."""
    monkeypatch.setattr(imports, "BATCH", 2)
    engagement = world.engagement()
    world.imported(engagement, nessus({"10.0.0.1": [(443, "1001", 4, "")]}))
    before = same_as_counted(world)
    broken = nessus(
        {"10.0.0.2": [(443, "1001", 4, ""), (22, "1002", 3, ""), (80, "1003", 2, "")]}
    ).replace(b'pluginID="1003"', b'pluginID=""')
    result = world.imported(engagement, broken)
    assert not result.ok and "pluginID" in result.error
    assert Finding.objects.count() == 1
    assert same_as_counted(world) == before
    assert _trigger_installed()
    _copy_of(Finding.objects.get(), "e" * 64)
    assert same_as_counted(world)["open_total"] == 2
