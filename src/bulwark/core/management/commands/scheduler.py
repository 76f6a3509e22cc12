"""`bulwark scheduler`: enqueues the periodic tasks every minute: incident clock reminders
and escalations, the report-exchange cycle (feed pulls, mailbox, notifications on each
recipient's cadence), advisory follow-up (mail retries, reminders, escalations) the
statistics summaries due to their subscribers, the CERT's dashboard snapshots, and the
purge of sign-in failures older than the throttling window, and the daily digest of
unread notices for those who asked for it.
The audit log's signed checkpoint (core/anchor.py) is enqueued too; it writes one when
the log moved and the last is 10 minutes old.
Running two is harmless: each alert, notification and reminder is sent once."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bulwark.core.registry import PERIODIC_TASKS


class Command(BaseCommand):
    help = "Enqueue periodic tasks every --interval seconds (or once with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=int, default=60)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            # Each app registers its periodic tasks from AppConfig.ready (core/registry.py).
            for periodic in PERIODIC_TASKS:
                periodic.enqueue()
            if options["once"]:
                return
            time.sleep(max(5, options["interval"]))
