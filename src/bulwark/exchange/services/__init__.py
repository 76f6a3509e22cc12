"""The only code that writes exchange data: each function checks the actor's right (or
is the worker's, audited as the system's), writes in one transaction (per batch for
ingests) and records one audit entry per action.

One module per concern; the verbs are re-exported here, so callers write
`services.ingest(...)`:

- `ingest`: reports in, quarantined records replayed or discarded, events re-routed;
- `configuration`: routing rules, recipients, column mappings, pulled feeds, countries;
- `notices`: notifications queued, delivered (e-mail or TAXII) and retried, replies and
  bounces, resends.
"""

from bulwark.exchange.services.configuration import (
    FEED_FIELDS,
    KEEP,
    MAPPING_OPTIONS,
    PREVIEW_EVENTS,
    RECIPIENT_FIELDS,
    add_rule,
    clean_mapping,
    configure_recipient,
    delete_country_network,
    delete_feed,
    preview_mapping,
    record_pull,
    save_country_network,
    save_feed,
    save_mapping,
)
from bulwark.exchange.services.ingest import (
    DEDUPE_WINDOW,
    LINE_FORMATS,
    IngestResult,
    Progress,
    discard,
    ingest,
    mark_foreign,
    process,
    replay,
    reroute,
    save_raw,
)
from bulwark.exchange.services.notices import (
    attach_reply,
    deliver_notice,
    queue_notices,
    record_taxii_progress,
    resend_notification,
    send_due_notices,
)

__all__ = [
    "DEDUPE_WINDOW",
    "FEED_FIELDS",
    "KEEP",
    "LINE_FORMATS",
    "MAPPING_OPTIONS",
    "PREVIEW_EVENTS",
    "RECIPIENT_FIELDS",
    "IngestResult",
    "Progress",
    "add_rule",
    "attach_reply",
    "clean_mapping",
    "configure_recipient",
    "delete_country_network",
    "delete_feed",
    "deliver_notice",
    "discard",
    "ingest",
    "mark_foreign",
    "preview_mapping",
    "process",
    "queue_notices",
    "record_pull",
    "record_taxii_progress",
    "replay",
    "reroute",
    "resend_notification",
    "save_country_network",
    "save_feed",
    "save_mapping",
    "save_raw",
    "send_due_notices",
]
