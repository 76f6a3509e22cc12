"""`bulwark exchange ingest FILE... [--format F] [--feed NAME] [--mapping NAME]`,
`bulwark exchange notify`, `bulwark exchange poll-mail --maildir PATH`,
`bulwark exchange recipient ORG [--channel taxii --taxii-api-root URL ...]`."""

import os
import sys
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bulwark.constituency.models import Organisation
from bulwark.exchange import services
from bulwark.exchange.engine.formats import FORMATS
from bulwark.exchange.engine.pipeline import DEFAULT_BATCH
from bulwark.exchange.models import Cadence, Channel, RecipientSettings, Report
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
        ingest.add_argument(
            "--batch", type=int, default=DEFAULT_BATCH, help="Events per transaction."
        )
        ingest.add_argument("--quiet", action="store_true", help="No progress line.")
        sub.add_parser("notify", help="Gather due notifications and send them (with retries).")
        poll = sub.add_parser("poll-mail", help="Read new messages from the inbound Maildir.")
        poll.add_argument("--maildir", required=True, help="Path of the Maildir.")
        rcpt = sub.add_parser(
            "recipient", help="Show or change how an organisation receives its reports."
        )
        rcpt.add_argument("organisation", help="Short name or id of the organisation.")
        rcpt.add_argument("--cadence", choices=[c.value for c in Cadence])
        rcpt.add_argument("--language")
        rcpt.add_argument("--email", help="Address; empty: the abuse contact.")
        rcpt.add_argument("--enabled", choices=["yes", "no"])
        rcpt.add_argument("--channel", choices=[c.value for c in Channel])
        rcpt.add_argument("--taxii-api-root", help="e.g. https://taxii.cert.example/api1/")
        rcpt.add_argument("--taxii-collection", help="The collection id.")
        rcpt.add_argument("--taxii-user", help="Empty: the secret is a bearer token.")
        rcpt.add_argument(
            "--taxii-secret-env",
            metavar="VAR",
            help="Read the TAXII password or token from this environment variable "
            "(never from the command line, where other users could read it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "notify":
            queued = services.queue_notices()
            sent = services.send_due_notices()
            self.stdout.write(
                f"queued {len(queued)}  sent {sent['sent']}  retrying {sent['retrying']}  "
                f"failed {sent['failed']}"
            )
            return
        if options["action"] == "recipient":
            self._recipient(options)
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

    def _recipient(self, options: dict[str, Any]) -> None:
        name = options["organisation"]
        orgs = Organisation.objects.filter(short_name=name)
        if name.isdigit():
            orgs = orgs | Organisation.objects.filter(pk=int(name))
        org = orgs.first()
        if org is None:
            raise CommandError(f"{name}: no such organisation")
        fields: dict[str, Any] = {
            key: options[key]
            for key in ("cadence", "language", "email", "channel", "taxii_api_root",
                        "taxii_collection", "taxii_user")
            if options[key] is not None
        }  # fmt: skip
        if options["enabled"] is not None:
            fields["enabled"] = options["enabled"] == "yes"
        secret: Any = services.KEEP
        if options["taxii_secret_env"]:
            secret = os.environ.get(options["taxii_secret_env"])
            if secret is None:
                raise CommandError(f"{options['taxii_secret_env']} is not set")
        if fields or secret is not services.KEEP:
            try:
                services.configure_recipient(None, org, taxii_secret=secret, **fields)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        setting = RecipientSettings.objects.filter(organisation=org).first()
        if setting is None:
            self.stdout.write(f"{org}: defaults (daily, en, e-mail to the abuse contact)")
            return
        self.stdout.write(
            f"{org}: {setting.cadence}, {setting.language}, "
            f"{'enabled' if setting.enabled else 'disabled'}, channel {setting.channel}"
        )
        if setting.channel == Channel.TAXII or setting.taxii_api_root:
            self.stdout.write(
                f"  TAXII collection {setting.taxii_collection_url or '-'}, "
                f"user {setting.taxii_user or '(bearer token)'}, "
                f"secret {'set' if setting.has_taxii_secret else 'not set'}"
            )
        else:
            self.stdout.write(f"  e-mail {setting.email or '(abuse contact)'}")

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
