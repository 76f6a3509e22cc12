"""Demo history for the statistics pages and the annual report (loaded by `bulwark demo`
after every other app's demo, idempotent).

Two full calendar years before this one and this year to date, seasonal (quiet around
the Lunar New Year, busier in spring and autumn) with a mild upward trend, in the
proportions of the CERT's annual report (DOMAIN.md section 6) scaled down so that the demo
loads in seconds:

- incidents reported by the demo agencies and CI operators (~300 a year, over half of
  them intrusions, levels mostly 1-2), with every clock anchor recorded: most clocks met,
  some late; a few drills; a few cases referred to the law-enforcement agency;
- reports from foreign CERTs (~600 events a year: 53 % infected systems, then attacks,
  spam and phishing) routed to the agencies, and the agencies' notifications about them
  (some answered); feed reports about hosts abroad sent on to ~8 foreign CERTs (~2,000
  events a year);
- ~3,000 STIX objects a year shared in the community collection through the intel app's
  own ingest, by category (early warnings the most), in mixed TLP, by the CERT and the
  ISACs; agencies sighted a few of their values;
- ~300 notice advisories a year by category, sent to their target agencies, most
  acknowledged, some with the action taken.

Rows are written in bulk (each model's required fields and invariants set as its service
would); every part carries a marker (`MARKER`) and is skipped when its marker is present,
so loading twice adds nothing. The numbers are deterministic (seeded).

One module per part: `incidents`, `exchange`, `intel` (shared STIX objects and
sightings), `advisories`, `report_texts`; `common` holds the months, the seeded
randomness and the bulk writes they share.
"""

from django.db import transaction
from django.utils import timezone

from bulwark.analytics.demo.advisories import load_advisories
from bulwark.analytics.demo.common import MARKER, history_months, part_rng
from bulwark.analytics.demo.exchange import load_exchange
from bulwark.analytics.demo.incidents import load_incidents
from bulwark.analytics.demo.intel import load_shared
from bulwark.analytics.demo.report_texts import load_report_texts
from bulwark.core import audit


def load() -> dict[str, int]:
    """Add the history once; returns what was added (all zeros on a second run)."""
    now = timezone.now().replace(microsecond=0)
    months = history_months(now)
    made: dict[str, int] = {}
    # One transaction: all or nothing, and one commit (SQLite would otherwise commit each
    # row of an executemany).
    with transaction.atomic():
        made["incidents"] = load_incidents(part_rng(1), months, now)
        made["exchange_events"] = load_exchange(part_rng(2), months, now)
        made["advisories"] = load_advisories(part_rng(3), months, now)
        made["shared_items"] = load_shared(part_rng(4), months)
        made["report_texts"] = load_report_texts(now.year - 1)
        if any(made.values()):
            audit.record(
                None,
                "analytics.demo_history_loaded",
                changes=made,
                object_type="analytics.demo",
                object_id=str(now.year),
                object_label=MARKER,
            )
    return made


__all__ = ["MARKER", "history_months", "load"]
