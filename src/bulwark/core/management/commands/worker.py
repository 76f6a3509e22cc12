"""`bulwark worker`: runs queued background tasks (the database queue)."""

from typing import Any

from django_tasks_db.management.commands.db_worker import Command as DbWorker


class Command(DbWorker):
    help = "Run a background task worker. Start as many as you like, on any machine."

    def handle(self, *args: Any, **options: Any) -> None:
        options.setdefault("queue_name", "*")
        if options.get("queue_name") == "default":
            options["queue_name"] = "*"
        super().handle(*args, **options)
