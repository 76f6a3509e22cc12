"""The `bulwark` command: Django's manage.py plus Bulwark's own subcommands
(demo, worker, token, audit, check)."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["bulwark", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
