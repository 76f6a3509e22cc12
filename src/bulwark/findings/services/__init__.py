"""Every write of the findings app: engagements, scan imports with their deduplication,
manual findings, the remediation workflow, risk acceptance, false positives, checklists.

Each verb checks its rule (`findings.*` in rules.py), runs in one transaction and writes
one audit entry. An import keeps the raw file first (its own transaction), then parses and
stores everything in a second one: a file the engine refuses (`ParseError`) leaves no
finding behind, and the import row says why it was refused.
"""

from bulwark.findings.models import RESOLVED_STATUSES
from bulwark.findings.services.common import (
    BATCH,
    CANDIDATE_FIELDS,
    CHUNK,
    ENGAGEMENT_FLOW,
    FINDING_COLUMNS,
    FINDING_DEFAULTS,
    KEPT_WHEN_SEEN,
    MAX_EVIDENCE_BYTES,
    MAX_SCAN_BYTES,
    SEVERITIES,
    agency_people,
    candidate_order,
    deadline_for,
    display_name,
    finding_row,
    insert_decisions,
    keep_file,
    open_kept,
    storage,
)
from bulwark.findings.services.engagements import (
    change_engagement_status,
    create_engagement,
)
from bulwark.findings.services.history import record_status_changes
from bulwark.findings.services.imports import (
    ImportResult,
    checked_mapping,
    import_scan,
    kept_tool,
    map_columns,
    preview_csv,
    process_scan,
    receive_scan,
)
from bulwark.findings.services.incidents import (
    link_inventory,
    report_as_incident,
)
from bulwark.findings.services.intelligence import (
    load_epss,
    load_kev,
)
from bulwark.findings.services.manual import (
    add_manual_finding,
    record_checklist_result,
    retire_checklist,
    save_checklist,
)
from bulwark.findings.services.remediation import (
    assign,
    comment,
    decide_risk_acceptance,
    expire_risk_acceptances,
    mark_false_positive,
    mark_fixed,
    request_risk_acceptance,
    retest,
    start,
)
from bulwark.findings.services.reminders import (
    send_deadline_alerts,
)
from bulwark.findings.services.tally import compact_tally

__all__ = [
    "BATCH",
    "CANDIDATE_FIELDS",
    "CHUNK",
    "ENGAGEMENT_FLOW",
    "FINDING_COLUMNS",
    "FINDING_DEFAULTS",
    "KEPT_WHEN_SEEN",
    "MAX_EVIDENCE_BYTES",
    "MAX_SCAN_BYTES",
    "RESOLVED_STATUSES",
    "SEVERITIES",
    "ImportResult",
    "add_manual_finding",
    "agency_people",
    "assign",
    "candidate_order",
    "change_engagement_status",
    "checked_mapping",
    "comment",
    "compact_tally",
    "create_engagement",
    "deadline_for",
    "decide_risk_acceptance",
    "display_name",
    "expire_risk_acceptances",
    "finding_row",
    "import_scan",
    "insert_decisions",
    "keep_file",
    "kept_tool",
    "link_inventory",
    "load_epss",
    "load_kev",
    "map_columns",
    "mark_false_positive",
    "mark_fixed",
    "open_kept",
    "preview_csv",
    "process_scan",
    "receive_scan",
    "record_checklist_result",
    "record_status_changes",
    "report_as_incident",
    "request_risk_acceptance",
    "retest",
    "retire_checklist",
    "save_checklist",
    "send_deadline_alerts",
    "start",
    "storage",
]
