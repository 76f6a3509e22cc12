"""`bulwark report annual --year YYYY --lang en|zh-Hant --out FILE [--format pdf|html]
[--as USERNAME]`.

The report is counted as one user sees the data: by default the CERT itself (the first
active superuser, else a CERT platform admin or staff member), or the user named by --as
(an agency's member gets the report of what that member may see). The file appears whole
or not at all: it is written beside the target and renamed over it."""

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from bulwark.analytics import report
from bulwark.constituency.models import OrganisationKind, Role, User


class Command(BaseCommand):
    help = "Reports: `bulwark report annual` writes the annual report as PDF or HTML."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        annual = sub.add_parser(
            "annual",
            help="Write one year's annual report.",
            description="Write one year's annual report, counted as the CERT (a superuser "
            "or CERT staff member) or as --as USERNAME sees the data.",
        )
        annual.add_argument("--year", type=int, required=True, help="Calendar year, YYYY.")
        annual.add_argument("--lang", default="en", help="en or zh-Hant (default en).")
        annual.add_argument("--out", required=True, metavar="FILE", help="File to write.")
        annual.add_argument(
            "--format", choices=["pdf", "html"], default=None,
            help="pdf (default) or html (standalone page); .html/.htm files default to html.",
        )  # fmt: skip
        annual.add_argument(
            "--as", dest="as_user", default="", metavar="USERNAME",
            help="Count the figures as this user sees them (default: the CERT).",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            code = report.language_code(options["lang"])
            report.report_period(options["year"])
        except report.BadReportRequest as exc:
            raise CommandError(str(exc)) from None
        out = Path(options["out"])
        fmt = options["format"] or ("html" if out.suffix.lower() in (".html", ".htm") else "pdf")
        user = self._user(options["as_user"])
        self._check_target(out)
        started = time.monotonic()
        if fmt == "html":
            data = report.render_html(user, options["year"], code).encode()
            pages = None
        else:
            data, pages = report.pdf_from_html(
                report.render_html(user, options["year"], code, print_=True)
            )
        seconds = time.monotonic() - started
        self._write(out, data)
        what = f"{pages} pages" if pages is not None else "standalone HTML"
        self.stdout.write(
            f"wrote {out} ({what}, {len(data):,} bytes) for {options['year']} "
            f"in {report.LANGUAGE_LABELS[code]} as {user.get_username()} in {seconds:.1f} s"
        )

    def _user(self, username: str) -> User:
        if username:
            user: User | None = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"--as {username}: no such user")
            if not user.is_active:
                raise CommandError(f"--as {username}: the account is deactivated")
            return user

        # The CERT: a superuser, else a platform admin or staff member of the national CERT.
        cert_staff = Q(
            memberships__organisation__kind=OrganisationKind.NATIONAL_CERT,
            memberships__organisation__is_active=True,
            memberships__role__in=[Role.PLATFORM_ADMIN, Role.DUTY_OFFICER, Role.ANALYST],
        )
        cert: User | None = (
            User.objects.filter(is_active=True)
            .filter(Q(is_superuser=True) | cert_staff)
            .order_by("-is_superuser", "pk")
            .first()
        )
        if cert is None:
            raise CommandError(
                "no active superuser or CERT staff member to write the report as the CERT; "
                "give --as USERNAME"
            )
        return cert

    def _check_target(self, out: Path) -> None:
        """Refuse before the (slow) rendering when the file could not be written."""
        parent = out.parent if str(out.parent) else Path(".")
        if out.is_dir():
            raise CommandError(f"{out}: is a directory")
        if not parent.is_dir():
            raise CommandError(f"{out}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise CommandError(f"{out}: directory {parent} is not writable")
        if out.exists() and not os.access(out, os.W_OK):
            raise CommandError(f"{out}: file is not writable")

    def _write(self, out: Path, data: bytes) -> None:
        parent = out.parent if str(out.parent) else Path(".")
        try:
            fd, temp = tempfile.mkstemp(dir=parent, prefix=f".{out.name}.", suffix=".part")
        except OSError as exc:
            raise CommandError(f"{out}: cannot write ({exc.strerror})") from None
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp, 0o640)  # owner and group: a report is not for every local user
            os.replace(temp, out)
        except OSError as exc:
            Path(temp).unlink(missing_ok=True)
            raise CommandError(f"{out}: cannot write ({exc.strerror})") from None
