"""Pull a MISP feed into a collection (see bulwark.intel.mispfeed)."""

from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bulwark.intel import mispfeed
from bulwark.intel.models import Collection


class Command(BaseCommand):
    help = "Import the new and changed events of a MISP feed (manifest.json) into a collection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="the feed's base URL, or a local directory")
        parser.add_argument("--collection", required=True, help="collection UUID or alias")
        parser.add_argument(
            "--header", action="append", default=[], help='an HTTP header, "Name: value"'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ident = options["collection"]
        found = Collection.objects.filter(alias=ident).first()
        if found is None:
            try:
                found = Collection.objects.filter(uuid=ident).first()
            except Exception:
                found = None
        if found is None:
            raise CommandError(f"no collection {ident!r}")
        headers = {}
        for item in options["header"]:
            name, sep, value = item.partition(":")
            if not sep:
                raise CommandError(f"header {item!r} must be 'Name: value'")
            headers[name.strip()] = value.strip()
        try:
            outcome = mispfeed.pull_url(found, options["url"], headers)
        except mispfeed.FeedError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(orjson.dumps(mispfeed.describe(outcome)).decode())
