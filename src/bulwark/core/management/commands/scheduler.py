"""`bulwark scheduler`: enqueues the periodic tasks (clock reminders and escalations) every
minute. Running two is harmless: each alert is sent once."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Enqueue periodic tasks every --interval seconds (or once with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=int, default=60)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from bulwark.incidents.tasks import check_clocks

        while True:
            check_clocks.enqueue()
            if options["once"]:
                return
            time.sleep(max(5, options["interval"]))
