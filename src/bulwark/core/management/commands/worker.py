"""`bulwark worker`: runs queued background tasks (the database queue)."""

from typing import Any

from django_tasks_db.management.commands.db_worker import Command as DbWorker

from bulwark.core.registry import PRELOAD


class Command(DbWorker):
    help = "Run a background task worker. Start as many as you like, on any machine."

    def handle(self, *args: Any, **options: Any) -> None:
        # Import the heavy libraries the tasks use once, before taking tasks: WeasyPrint's
        # import alone took 2-6 s of the first annual report a worker made.
        import weasyprint  # type: ignore[import-untyped,unused-ignore]  # noqa: F401

        list(PRELOAD)  # imports the modules the apps registered (matplotlib)

        options.setdefault("queue_name", "*")
        if options.get("queue_name") == "default":
            options["queue_name"] = "*"
        super().handle(*args, **options)
