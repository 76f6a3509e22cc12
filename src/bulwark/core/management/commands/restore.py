"""`bulwark restore ARCHIVE`: check the archive's checksums, then restore it into an empty
database and media directory (`--force` replaces what is there). `--check` only verifies."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from bulwark.core import backup
from bulwark.core.management.commands.backup import current_site


class Command(BaseCommand):
    help = (
        "Restore a `bulwark backup` archive into an empty database (stop the web processes, "
        "workers and scheduler first), then run `bulwark migrate` and `bulwark audit verify`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="an archive written by `bulwark backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace a database and media directory that are not empty",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="only verify the archive's checksums; change nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        archive = Path(options["archive"])
        try:
            if options["check"]:
                manifest = backup.verify(archive)
                self.stdout.write(
                    f"{archive} is intact: {len(manifest['files'])} members match the manifest"
                    f" (made {manifest['created_at']})"
                )
                return
            connections.close_all()  # the restore replaces what these connections read
            report = backup.restore(archive, current_site(), force=options["force"])
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:  # a directory that cannot be written, a full disk
            raise CommandError(f"{exc.strerror or exc}: {exc.filename or archive}") from exc
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(
            f"restored {archive} (made {report.manifest['created_at']}): "
            f"{len(report.manifest['files'])} members; now run `bulwark migrate` and "
            "`bulwark audit verify`"
        )
