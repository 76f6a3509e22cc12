"""`bulwark token create --user USERNAME [--scope SCOPE ...] [--days N]` prints the new
token alone on stdout (so scripts can capture it); `list` and `revoke` manage them."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bulwark.constituency import services
from bulwark.constituency.models import ApiToken, User
from bulwark.constituency.scopes import DEFAULT_SCOPES, SCOPES


class Command(BaseCommand):
    help = "Create, list and revoke API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print it")
        create.add_argument("--user", required=True)
        create.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            help=f"repeatable; one of: {', '.join(SCOPES)} (default {' '.join(DEFAULT_SCOPES)}); "
            "only scopes the user's roles allow (docs/access.md)",
        )
        create.add_argument("--days", type=int, default=90)
        create.add_argument("--name", default="command line")
        listing = sub.add_parser("list", help="list a user's tokens")
        listing.add_argument("--user", required=True)
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")

    def _user(self, username: str) -> User:
        user: User | None = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        return user

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            user = self._user(options["user"])
            try:
                _token, secret = services.create_api_token(
                    None,
                    user,
                    name=options["name"],
                    scopes=options["scopes"] or DEFAULT_SCOPES,
                    days=options["days"],
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from None
            self.stdout.write(secret)
        elif action == "list":
            for token in ApiToken.objects.filter(user=self._user(options["user"])):
                state = (
                    "revoked" if token.revoked_at else ("expired" if token.is_expired else "active")
                )
                self.stdout.write(
                    f"{token.prefix}\t{state}\t{token.expires_at:%Y-%m-%d}\t"
                    f"{','.join(token.scopes)}\t{token.name}"
                )
        else:
            found = ApiToken.objects.filter(prefix=options["prefix"]).first()
            if found is None:
                raise CommandError(f"no token with prefix {options['prefix']!r}")
            services.revoke_api_token(found.user, found)
            self.stdout.write(f"revoked {found.prefix}")
