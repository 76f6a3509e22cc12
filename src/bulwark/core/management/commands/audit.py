from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bulwark.core import anchor, audit


class Command(BaseCommand):
    help = (
        "Work with the audit log. `bulwark audit verify` proves the hash chain is whole and "
        "holds what the last signed checkpoint recorded, then writes a new checkpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit.verify()
        if not result.ok:
            where = f"first bad entry #{result.first_bad_seq}: " if result.first_bad_seq else ""
            raise CommandError(
                f"audit log is NOT intact: {where}{result.reason} "
                f"({result.checked} entries verified before it)"
            )
        self.stdout.write(f"audit log intact: {result.checked} entries verified")
        if result.anchored_at:
            self.stdout.write(f"it holds everything {result.anchored_at} recorded")
        try:
            point = anchor.checkpoint()
        except OSError as exc:
            raise CommandError(
                f"the log is intact, but no checkpoint could be written to "
                f"{anchor.anchor_path()}: {exc}"
            ) from None
        if point is not None:
            self.stdout.write(f"checkpoint of entry #{point.seq} written to {anchor.anchor_path()}")
