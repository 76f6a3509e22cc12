"""`bulwark backup ARCHIVE`: the database, the files and the key references in one archive,
consistent while the platform runs (core/backup.py)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from bulwark.core import backup


def current_site() -> backup.Site:
    return backup.Site(
        database=dict(connections["default"].settings_dict),
        media_dir=Path(settings.MEDIA_ROOT),
        data_dir=Path(settings.DATA_DIR),
        extra_files=tuple(settings.BACKUP_EXTRA_FILES),
        audit_key=settings.AUDIT_CHAIN_KEY,
        signing_key_file=Path(settings.SIGNING_KEY_FILE),
    )


class Command(BaseCommand):
    help = (
        "Write one archive with the database, the files under BULWARK_MEDIA_DIR, the audit "
        "anchors and the fingerprints of the keys (never the keys)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="the archive file to write (must not exist)")

    def handle(self, *args: Any, **options: Any) -> None:
        archive = Path(options["archive"])
        try:
            report = backup.create(archive, current_site())
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:  # a directory that cannot be written, a full disk
            raise CommandError(f"{exc.strerror or exc}: {exc.filename or archive}") from exc
        files = report.manifest["files"]
        size = sum(entry["size"] for entry in files)
        self.stdout.write(
            f"backup written to {archive}: {report.manifest['database']['engine']} database"
            f" and {len(files) - 1} files, {size} bytes"
        )
