"""`bulwark findings`: import scanner files and list engagements from the command line.

    bulwark findings import FILE... --engagement ID [--tool T] [--partial] [--user NAME]
    bulwark findings engagements [--user NAME] [--status S]

Without --user the command acts as the system (whoever runs it on the server has the
database anyway); with it, that person's rights and visibility apply. See docs/findings.md.
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from bulwark.constituency.models import User
from bulwark.findings import engine, selectors, services
from bulwark.findings.models import Engagement


class Command(BaseCommand):
    help = "Findings: import scanner output, list engagements (see docs/findings.md)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import scanner files into an engagement")
        imp.add_argument("files", nargs="+", metavar="FILE")
        imp.add_argument("--engagement", type=int, required=True, metavar="ID")
        imp.add_argument("--tool", help="nessus, openvas, zap, nuclei, burp, sarif, nmap, csv "
                         "(default: detected from the content)")  # fmt: skip
        imp.add_argument(
            "--partial",
            action="store_true",
            help="a partial scan: mark nothing mitigated",
        )
        imp.add_argument("--user", help="act as this user (default: the system)")
        for name, what in (
            ("epss", "FIRST's epss_scores-YYYY-MM-DD.csv(.gz): EPSS of the open findings"),
            ("kev", "CISA's known_exploited_vulnerabilities.json: flag the open findings"),
        ):
            feed = sub.add_parser(name, help=what)
            feed.add_argument("file", metavar="FILE")
        eng = sub.add_parser("engagements", help="list engagements with their ids")
        eng.add_argument("--user", help="list what this user may see (default: all)")
        eng.add_argument("--status", help="only engagements in this status")

    def _user(self, name: str | None) -> User | None:
        if not name:
            return None
        user: User | None = User.objects.filter(username=name, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {name!r}.")
        return user

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options.get("user"))
        if options["action"] == "engagements":
            self._engagements(user, options.get("status"))
        elif options["action"] in ("epss", "kev"):
            self._feed(options["action"], options["file"])
        else:
            self._import(user, options)

    def _engagements(self, user: User | None, status: str | None) -> None:
        engagements: QuerySet[Engagement] = (
            Engagement.objects.visible_to(user) if user is not None else Engagement.objects.all()
        )
        engagements = selectors.filter_engagements(
            engagements.select_related("organisation"), {"status": status or ""}
        )
        self.stdout.write("id\tstatus\tkind\tagency\ttitle")
        for e in engagements.order_by("pk"):
            self.stdout.write(f"{e.pk}\t{e.status}\t{e.kind}\t{e.organisation.name}\t{e.title}")

    def _feed(self, kind: str, name: str) -> None:
        load = services.load_epss if kind == "epss" else services.load_kev
        try:
            with Path(name).open("rb") as stream:
                count = load(None, stream)
        except OSError as exc:
            raise CommandError(f"{name}: {exc.strerror}.") from exc
        except engine.ParseError as exc:
            raise CommandError(f"{name}: refused: {exc}") from exc
        self.stdout.write(f"{name}: {count} findings updated")

    def _import(self, user: User | None, options: dict[str, Any]) -> None:
        engagements = (
            Engagement.objects.visible_to(user) if user is not None else Engagement.objects.all()
        )
        engagement = engagements.filter(pk=options["engagement"]).first()
        if engagement is None:
            raise CommandError(
                f"No engagement {options['engagement']} (see `bulwark findings engagements`)."
            )
        failed = 0
        for name in options["files"]:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file.")
            try:
                with path.open("rb") as upload:
                    result = services.import_scan(
                        user,
                        engagement,
                        upload,
                        path.name,
                        tool=options.get("tool") or None,
                        full_rescan=not options["partial"],
                    )
            except PermissionDenied as exc:
                raise CommandError(f"{name}: {exc or 'not allowed'}.") from exc
            except ValidationError as exc:
                raise CommandError(f"{name}: {' '.join(exc.messages)}") from exc
            if not result.ok:
                failed += 1
                self.stderr.write(f"{name}: refused: {result.error}")
                continue
            self.stdout.write(
                f"{name}: {result.scan.tool}: {result.new} new, {result.duplicate} duplicate, "
                f"{result.mitigated} mitigated, {result.reopened} reopened "
                f"(import {result.scan.pk})"
            )
        if failed:
            raise CommandError(f"{failed} file(s) refused; nothing was stored from them.")
