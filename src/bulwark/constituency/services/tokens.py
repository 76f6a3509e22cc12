"""API tokens: minted with scopes no wider than their user's roles allow, and revoked."""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency import rules
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import ApiToken, User
from bulwark.constituency.scopes import SCOPES
from bulwark.core import audit
from bulwark.core.permissions import require

TOKEN_PREFIX = "bwk_"
MAX_TOKEN_DAYS = 366


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(
    actor: User | None,
    user: User,
    *,
    name: str,
    scopes: Iterable[str],
    days: int = 90,
    minted_with: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """Returns the token and its clear text, which is shown once and never stored.

    A token never carries more than it may: its scopes must be among those the roles of
    its user allow (`rules.token_scopes`), whoever mints it (the user, a platform admin,
    the command line), and, when the request that mints it was authenticated with a token
    (`minted_with`), among that token's scopes."""
    if actor is not None:
        require(actor, "apitoken.manage", user)
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationError({"scopes": _("Unknown scope: %(s)s.") % {"s": ", ".join(unknown)}})
    if not scopes:
        raise ValidationError({"scopes": _("Choose at least one scope.")})
    if minted_with is not None:
        beyond = [s for s in scopes if s not in minted_with.scopes]
        if beyond:
            raise ValidationError(
                {
                    "scopes": _("A token cannot grant scopes it does not hold itself: %(s)s.")
                    % {"s": ", ".join(beyond)}
                }
            )
    allowed = rules.token_scopes(viewer_of(user))
    refused = [s for s in scopes if s not in allowed]
    if refused:
        raise ValidationError(
            {
                "scopes": _("The roles of %(user)s do not allow these scopes: %(s)s.")
                % {"user": user.username, "s": ", ".join(refused)}
            }
        )
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError(
            {"days": _("A token lives between 1 and %(max)d days.") % {"max": MAX_TOKEN_DAYS}}
        )
    if not name.strip():
        raise ValidationError({"name": _("Give the token a name that says what uses it.")})
    prefix = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken(
            user=user,
            name=name.strip()[:100],
            prefix=prefix,
            digest=token_digest(secret),
            scopes=scopes,
            expires_at=timezone.now() + timedelta(days=days),
        )
        token.save()
        audit.record(
            actor or user,
            "token.created",
            token,
            changes={"user": user.username, "scopes": scopes, "expires_at": token.expires_at},
        )
    return token, f"{TOKEN_PREFIX}{prefix}_{secret}"


def revoke_api_token(actor: User, token: ApiToken) -> ApiToken:
    require(actor, "apitoken.manage", token)
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(actor, "token.revoked", token, changes={"user": token.user.username})
    return token
