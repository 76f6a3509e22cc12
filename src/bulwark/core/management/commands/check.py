"""`bulwark check`: Django's system checks with the production (deploy) checks always on,
failing on warnings, so an operator sees everything unsafe or missing at once."""

from typing import Any

from django.core.management.commands.check import Command as DjangoCheck


class Command(DjangoCheck):
    help = "Report what is unsafe or missing for production, and exit non-zero if anything is."

    def handle(self, *app_labels: Any, **options: Any) -> None:
        options["deploy"] = True
        if options.get("fail_level", "ERROR") == "ERROR":
            options["fail_level"] = "WARNING"
        super().handle(*app_labels, **options)
