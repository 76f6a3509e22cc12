"""`bulwark serve`: the web application under gunicorn with the production settings in
`bulwark/gunicorn_conf.py` (measured by bench/load_api.py, docs/operations.md)."""

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the web application with gunicorn (production settings)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", help="address:port (default BULWARK_BIND or 127.0.0.1:8000)")
        parser.add_argument("--workers", type=int, help="processes (default: one per core)")
        parser.add_argument("--threads", type=int, help="threads per process")

    def handle(self, *args: Any, **options: Any) -> None:
        command = [sys.executable, "-m", "gunicorn", "--config", "python:bulwark.gunicorn_conf"]
        for name in ("bind", "workers", "threads"):
            if options[name] is not None:
                command += [f"--{name}", str(options[name])]
        # gunicorn replaces this process: its signals (TERM, HUP, TTIN) reach the arbiter.
        os.execv(sys.executable, [*command, "bulwark.wsgi:application"])  # noqa: S606
