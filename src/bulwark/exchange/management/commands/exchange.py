"""`bulwark exchange ingest FILE... [--format F] [--feed NAME] [--mapping NAME]`."""

import sys
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bulwark.exchange import services
from bulwark.exchange.engine.formats import FORMATS
from bulwark.exchange.models import Report
from bulwark.exchange.store import Counts


class Command(BaseCommand):
    help = "Report exchange: ingest report files (Shadowserver, X-ARF, ARF, IODEF, ...)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ingest = sub.add_parser("ingest", help="Ingest report files.")
        ingest.add_argument("files", nargs="+", metavar="FILE")
        ingest.add_argument("--format", choices=FORMATS, default="", help="Detected if omitted.")
        ingest.add_argument("--feed", default="", help="Feed name for the events.")
        ingest.add_argument("--mapping", default="", help="Saved column mapping (csv/json).")
        ingest.add_argument("--batch", type=int, default=2000, help="Events per transaction.")
        ingest.add_argument("--quiet", action="store_true", help="No progress line.")
        sub.add_parser("notify", help="Gather due notifications and send them (with retries).")
        poll = sub.add_parser("poll-mail", help="Read new messages from the inbound Maildir.")
        poll.add_argument("--maildir", required=True, help="Path of the Maildir.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "notify":
            from bulwark.exchange import notify

            queued = notify.aggregate()
            sent = notify.send_due()
            self.stdout.write(
                f"queued {len(queued)}  sent {sent['sent']}  retrying {sent['retrying']}  "
                f"failed {sent['failed']}"
            )
            return
        if options["action"] == "poll-mail":
            from bulwark.exchange import intake

            for outcome in intake.poll_maildir(options["maildir"]):
                self.stdout.write(f"{outcome.kind}: {outcome.detail}")
            return
        failed = False
        for name in options["files"]:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file")
            started = time.monotonic()
            progress = None if options["quiet"] else self._progress(path.name, started)
            try:
                with path.open("rb") as stream:
                    result = services.ingest(
                        None,
                        stream,
                        file_name=path.name,
                        fmt=options["format"],
                        feed=options["feed"],
                        source=Report.Source.FILE,
                        mapping=options["mapping"],
                        progress=progress,
                        batch_size=max(1, options["batch"]),
                    )
            except ValidationError as exc:
                raise CommandError(f"{name}: {' '.join(exc.messages)}") from None
            if progress is not None:
                sys.stderr.write("\n")
            self._summary(name, result, time.monotonic() - started)
            failed = failed or result.report.status == Report.Status.FAILED
        if failed:
            raise CommandError("Some reports could not be read (see above).")

    def _progress(self, name: str, started: float) -> Any:
        def show(counts: Counts) -> None:
            rate = counts.read / max(time.monotonic() - started, 1e-6)
            sys.stderr.write(
                f"\r{name}: {counts.read:,} read, {counts.events:,} events, "
                f"{counts.rejected:,} rejected ({rate:,.0f}/s)"
            )
            sys.stderr.flush()

        return show

    def _summary(self, name: str, result: services.IngestResult, seconds: float) -> None:
        c = result.counts
        report = result.report
        head = f"{name}: report #{report.pk}, format {report.format or '?'}"
        if report.foreign_ticket:
            head += f", sender's ticket {report.foreign_ticket}"
        if result.already:
            head += " (already ingested; counts of that run)"
        self.stdout.write(head)
        self.stdout.write(
            f"  read {c.read}  events {c.events}  routed {c.routed}  unrouted {c.unrouted}  "
            f"suppressed {c.suppressed}  duplicates {c.duplicates}  rejected {c.rejected}"
            f"  ({seconds:.2f} s)"
        )
        if report.error:
            self.stdout.write(f"  refused: {report.error}")
        if c.rejected_lines:
            shown = ", ".join(str(n) for n in c.rejected_lines[:50])
            more = f" and {len(c.rejected_lines) - 50} more" if len(c.rejected_lines) > 50 else ""
            self.stdout.write(f"  rejected lines/records: {shown}{more} (see the quarantine)")
