"""The only code that changes incidents: each function checks the actor's right
(`bulwark.core.permissions`, actions in `incidents/rules.py`), writes in one transaction,
records the timeline and one audit entry, and recomputes the incident's next due time.

One module per concern; the verbs are re-exported here, so callers write
`services.report_incident(...)`:

- `reporting`: the statutory workflow (report, review, level changes, notes, response,
  recovery, final report and its decision, extensions);
- `casework`: tasks, assignee, tags, bulk actions, saved filters, case templates;
- `evidence`: evidence files and their chain of custody;
- `referrals`: signed referral packages for law enforcement;
- `alerts`: the worker's reminders and escalations of statutory clocks;
- `common`: what they share (timeline events, time checks, clocks and due times).
"""

from bulwark.incidents.services.alerts import check_clocks, send_clock_alert
from bulwark.incidents.services.casework import (
    BULK_ACTIONS,
    MAX_BULK,
    MAX_TAGS,
    add_task,
    assign_incident,
    bulk_act,
    cert_staff_users,
    complete_task,
    delete_filter,
    parse_tags,
    save_case_template,
    save_filter,
    set_indicator_tags,
    set_tags,
)
from bulwark.incidents.services.common import (
    CLOCK_SKEW,
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_INDICATORS,
    REPORTING_KINDS,
    clock_states,
    parse_template_tasks,
    refresh_due,
)
from bulwark.incidents.services.evidence import (
    add_evidence,
    hand_over,
    open_for_download,
    verify,
)
from bulwark.incidents.services.referrals import package_bytes, refer
from bulwark.incidents.services.reporting import (
    add_note,
    change_level,
    decide_final_report,
    grant_extension,
    report_incident,
    report_problems,
    report_recovery,
    review_incident,
    start_response,
    submit_final_report,
)

__all__ = [
    "BULK_ACTIONS",
    "CLOCK_SKEW",
    "EARLIEST_TIME",
    "LATEST_TIME",
    "MAX_BULK",
    "MAX_INDICATORS",
    "MAX_TAGS",
    "REPORTING_KINDS",
    "add_evidence",
    "add_note",
    "add_task",
    "assign_incident",
    "bulk_act",
    "cert_staff_users",
    "change_level",
    "check_clocks",
    "clock_states",
    "complete_task",
    "decide_final_report",
    "delete_filter",
    "grant_extension",
    "hand_over",
    "open_for_download",
    "package_bytes",
    "parse_tags",
    "parse_template_tasks",
    "refer",
    "refresh_due",
    "report_incident",
    "report_problems",
    "report_recovery",
    "review_incident",
    "save_case_template",
    "save_filter",
    "send_clock_alert",
    "set_indicator_tags",
    "set_tags",
    "start_response",
    "submit_final_report",
    "verify",
]
