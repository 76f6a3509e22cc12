"""`bulwark demo`: migrate, load the demo constituency (idempotent), and serve the web
application together with a task worker, so one command runs the whole platform.

It lives in the constituency app, whose demo (organisations, accounts, codes) the others
build on; the other apps' demo data are loaded by module name, in dependency order, so
no app below them imports them (docs/architecture.md, "Layers and import contracts")."""

import importlib
import os
import signal
import subprocess
import sys
from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.servers.basehttp import get_internal_wsgi_application

from bulwark.constituency import demo


class Command(BaseCommand):
    help = "Run the platform with demo data on http://127.0.0.1:8000 (SQLite by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("BULWARK_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("BULWARK_PORT", "8000")))
        parser.add_argument("--no-serve", action="store_true", help="load the data and exit")
        parser.add_argument(
            "--code", metavar="USERNAME", help="print a demo account's current TOTP code"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["code"]:
            try:
                self.stdout.write(demo.current_code(options["code"]))
            except LookupError as exc:
                raise CommandError(str(exc)) from None
            return
        call_command("migrate", interactive=False, verbosity=0)
        accounts = demo.load()
        # Each app that has demo data loads it, in dependency order (idempotent).
        for app in (
            "incidents",
            "intel",
            "exchange",
            "monitoring",
            "advisories",
            "drills",
            "findings",
            "analytics",
            "training",
        ):
            try:
                app_demo = importlib.import_module(f"bulwark.{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"bulwark.{app}.demo":
                    raise
                continue
            app_demo.load()
        counts = demo.counts()
        self.stdout.write(
            f"Demo constituency: {counts['organisations']} organisations, "
            f"{counts['networks']} network claims, {counts['users']} users, "
            f"{apps.get_model('incidents', 'Incident').objects.count()} incidents."
        )
        for line in demo.summary(accounts):
            self.stdout.write(line)
        if options["no_serve"]:
            return
        self._serve(options["host"], options["port"])

    def _serve(self, host: str, port: int) -> None:
        # Lazy: waitress only when the demo serves pages (not with --no-serve or --code).
        from waitress import serve

        # settings.WSGI_APPLICATION (bulwark.wsgi), as runserver loads it.
        application = get_internal_wsgi_application()
        # Demo mail never leaves the machine, whatever the environment says.
        worker_env = {**os.environ, "BULWARK_EMAIL_HOST": ""}
        worker = subprocess.Popen(
            [sys.executable, "-m", "bulwark.cli", "worker", "--no-reload", "--verbosity", "1"],
            env=worker_env,
        )
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "bulwark.cli", "scheduler"], env=worker_env
        )
        self.stdout.write(f"Task worker (pid {worker.pid}) and scheduler (pid {scheduler.pid}) up.")
        self.stdout.write(f"Serving on http://{host}:{port}/  (Ctrl-C stops)")
        try:
            serve(application, host=host, port=port, threads=8, ident="bulwark")
        finally:
            for process in (scheduler, worker):
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
