"""The only code that changes advisories: each function checks the actor's right
(`bulwark.core.permissions`, actions in `advisories/rules.py`), writes in one transaction
with one audit entry, and queues its side effects on commit.

One module per concern; the verbs are re-exported here, so callers write
`services.send(...)`:

- `cleaning`: what an advisory may contain (CVEs, products, limits, recipient fields);
- `workflow`: four eyes (write, revise, submit, approve or send back, send);
- `delivery`: queued e-mail and in-app notices, outcomes, retries;
- `responses`: recipients' read, acknowledgement and action reports;
- `reminders`: reminders before a deadline, escalation of missed ones;
- `attachments`, `inventory`.
"""

from bulwark.advisories.services.attachments import SAFE_NAME, add_attachment
from bulwark.advisories.services.cleaning import (
    CONTENT_FIELDS,
    CVE_ID,
    CVSS_VECTOR,
    MAX_CVES,
    MAX_INDICATORS,
    MAX_PRODUCTS,
    TARGET_FIELDS,
    clean_cves,
    clean_products,
)
from bulwark.advisories.services.delivery import (
    ADVISORY_PURPOSES,
    DELIVERY_BATCH,
    MAX_DELIVERY_ATTEMPTS,
    MEMBER_ROLES,
    RED_PURPOSES,
    TARGET_CHUNK,
    record_delivery,
    retry_failed,
)
from bulwark.advisories.services.inventory import add_inventory_item, remove_inventory_item
from bulwark.advisories.services.reminders import (
    REMIND_BEFORE,
    escalate_overdue,
    remind,
    send_reminders,
)
from bulwark.advisories.services.responses import acknowledge, mark_read, report_action
from bulwark.advisories.services.workflow import (
    approve,
    approve_revision,
    create_advisory,
    preview,
    reject,
    reject_revision,
    send,
    submit,
    update_advisory,
)

__all__ = [
    "ADVISORY_PURPOSES",
    "CONTENT_FIELDS",
    "CVE_ID",
    "CVSS_VECTOR",
    "DELIVERY_BATCH",
    "MAX_CVES",
    "MAX_DELIVERY_ATTEMPTS",
    "MAX_INDICATORS",
    "MAX_PRODUCTS",
    "MEMBER_ROLES",
    "RED_PURPOSES",
    "REMIND_BEFORE",
    "SAFE_NAME",
    "TARGET_CHUNK",
    "TARGET_FIELDS",
    "acknowledge",
    "add_attachment",
    "add_inventory_item",
    "approve",
    "approve_revision",
    "clean_cves",
    "clean_products",
    "create_advisory",
    "escalate_overdue",
    "mark_read",
    "preview",
    "record_delivery",
    "reject",
    "reject_revision",
    "remind",
    "remove_inventory_item",
    "report_action",
    "retry_failed",
    "send",
    "send_reminders",
    "submit",
    "update_advisory",
]
