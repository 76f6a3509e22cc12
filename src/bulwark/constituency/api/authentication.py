"""`Authorization: Bearer <token>` for every API endpoint, and session authentication
that insists on the second factor for the users who must have one."""

import hmac
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from bulwark.constituency.access import user_for_stamp, viewer_for_stamp, viewer_of
from bulwark.constituency.models import ApiToken
from bulwark.constituency.services import TOKEN_PREFIX, token_digest

# Refresh `last_used_at` at most this often, so a busy client does not write on every call.
LAST_USED_RESOLUTION_SECONDS = 60
TOKEN_SQL = """SELECT t.id, t.user_id, t.name, t.prefix, t.digest, t.scopes, t.created_at,
t.expires_at, t.revoked_at, t.last_used_at, u.is_active AS user_is_active,
(SELECT stamp FROM constituency_version WHERE id = 1) AS constituency_stamp
FROM constituency_apitoken t JOIN constituency_user u ON u.id = t.user_id
WHERE t.prefix = %s"""


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Malformed Authorization header: use 'Bearer <token>'.")
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Malformed token.")) from None
        return self._check(raw)

    def _check(self, raw: str) -> tuple[Any, ApiToken]:
        body = raw.removeprefix(TOKEN_PREFIX)
        prefix, _sep, secret = body.partition("_")
        if not raw.startswith(TOKEN_PREFIX) or len(prefix) != 10 or not secret or len(raw) > 100:
            raise exceptions.AuthenticationFailed(_("Malformed token."))
        # One query, written out: the token, its user's active flag and the constituency's
        # version stamp. With the stamp, the user and the viewer (and the answers of the
        # cached read endpoints, api/caching.py) are taken from what was read for this
        # stamp; the token itself is read on every request, so a revoked or expired token
        # or a deactivated user is refused at once. (Compiling the same query with the ORM
        # cost about 2 ms per request, half of a kept answer's cost: bench/api_cost.py.)
        token = next(iter(ApiToken.objects.raw(TOKEN_SQL, [prefix])), None)
        if token is None or not hmac.compare_digest(token.digest, token_digest(secret)):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This token has been revoked."))
        now = timezone.now()
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(_("This token has expired."))
        # Columns the query adds to the token's own (RawQuerySet annotations).
        user_is_active: bool = getattr(token, "user_is_active", False)
        stamp: str | None = getattr(token, "constituency_stamp", None)
        if not user_is_active:
            raise exceptions.AuthenticationFailed(_("The token's user is deactivated."))
        if (
            token.last_used_at is None
            or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
        ):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        user = user_for_stamp(token.user_id, stamp)
        token.user = user
        viewer_for_stamp(user, stamp)
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """A browser session counts only once its second factor is verified, where required."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if viewer_of(user).requires_second_factor and not user.is_verified():
            return None
        return result


def metrics_token_refusal(request: HttpRequest) -> str | None:
    """None when the request carries a platform admin's valid API token; otherwise why not.
    Installed as core's `/metrics` token check (`ConstituencyConfig.ready`)."""
    if not request.META.get("HTTP_AUTHORIZATION"):
        return _("Metrics need a platform admin's API token or an allowed address.")
    try:
        found = BearerTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except exceptions.AuthenticationFailed as exc:
        return str(exc.detail)
    if found is None or not viewer_of(found[0]).platform_admin:
        return _("Metrics are for platform admins.")
    return None
