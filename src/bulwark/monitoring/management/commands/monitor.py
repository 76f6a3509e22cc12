"""`bulwark monitor`: match logs against indicators, list formats, run stream workers,
publish logs, retro-hunt the archive. See docs/monitoring.md."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "National monitoring: match agency logs against indicators (see docs/monitoring.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        match = sub.add_parser("match", help="match log files (or - for stdin); hits as NDJSON")
        match.add_argument(
            "--indicators",
            action="append",
            metavar="FILE",
            help="plain list or STIX 2.1 bundle (repeatable); "
            "default: the platform's current indicators",
        )
        match.add_argument("--format", help="log format (default: detected)")
        match.add_argument("--workers", type=int, help="processes (default: CPU count)")
        match.add_argument("--output", metavar="HITS.ndjson", help="default: standard output")
        match.add_argument("--agency", help="agency the logs come from (copied into each hit)")
        match.add_argument(
            "--map",
            action="append",
            metavar="FIELD=KIND",
            help="ndjson/csv: field to examine and its kind (addr, domain, host, url, hash, email)",
        )
        match.add_argument("logs", nargs="*", metavar="LOG")
        sub.add_parser("formats", help="list log formats")

    def handle(self, *args: Any, **options: Any) -> None:
        from bulwark.monitoring import cli

        action = options["action"]
        try:
            if action == "formats":
                cli.list_formats(sys.stdout)
            elif action == "match":
                cli.run_match(options, sys.stdout, sys.stderr)
        except cli.UsageError as exc:
            raise CommandError(str(exc)) from None
