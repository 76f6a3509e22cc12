from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bulwark.core import audit


class Command(BaseCommand):
    help = "Work with the audit log. `bulwark audit verify` proves the hash chain is whole."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit.verify()
        if not result.ok:
            raise CommandError(
                f"audit log is NOT intact: first bad entry #{result.first_bad_seq}: "
                f"{result.reason} ({result.checked} entries verified before it)"
            )
        self.stdout.write(f"audit log intact: {result.checked} entries verified")
