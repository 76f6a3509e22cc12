from typing import Any

from django.utils.translation import gettext as _
from rest_framework import permissions
from rest_framework.request import Request

from bulwark.constituency import rules
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import ApiToken


class TokenScope(permissions.BasePermission):
    """A bearer token must carry the view's scope: `<resource>:read` for safe methods,
    `<resource>:write` otherwise. Views name the resource in `scope_resource`; a view that
    needs a fixed scope sets `required_scope`. Session users are limited by roles only."""

    message = _("This token does not carry the scope this request needs.")

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        needed = self.scope_for(request, view)
        if needed is None:
            if getattr(view, "scope_exempt", False):
                return True
            self.message = _("This endpoint does not accept API tokens.")
            return False
        if needed not in token.scopes:
            self.message = _("This token lacks the scope %(scope)s.") % {"scope": needed}
            return False
        # A token minted before its user lost a role (or before minting was bounded by
        # roles) does no more than the roles allow today.
        if needed not in rules.token_scopes(viewer_of(request.user)):
            self.message = _("Your roles no longer allow the scope %(scope)s.") % {"scope": needed}
            return False
        return True

    @staticmethod
    def scope_for(request: Request, view: Any) -> str | None:
        fixed = getattr(view, "required_scope", None)
        if fixed:
            return str(fixed)
        resource = getattr(view, "scope_resource", None)
        if resource is None:
            return None
        action = "read" if request.method in permissions.SAFE_METHODS else "write"
        return f"{resource}:{action}"
