"""Background work of the findings app. Tasks take ids, never model objects."""

from django_tasks import task

from bulwark.findings import services
from bulwark.findings.models import ScanImport


@task()
def check_deadlines() -> dict[str, int]:
    """Periodic: remind agencies before remediation deadlines, escalate overdue findings to
    the authority above the agency, end risk acceptances whose date has passed."""
    figures = services.send_deadline_alerts()
    figures["risk_expired"] = services.expire_risk_acceptances()
    figures["tally_rows"] = services.compact_tally()
    return figures


@task()
def process_scan(scan_id: int, actor_id: int | None = None) -> dict[str, int | str]:
    """Parse a kept scan file (large files imported from the page are processed here)."""
    scan = ScanImport.objects.select_related("imported_by").get(pk=scan_id)
    result = services.process_scan(scan.imported_by, scan)
    return {
        "new": result.new,
        "duplicate": result.duplicate,
        "mitigated": result.mitigated,
        "reopened": result.reopened,
        "error": result.error,
    }
