"""`{% can "advisory.manage_inventory" item as may_remove %}`: what a template offers is
asked of the same rule the service enforces (`bulwark.core.permissions.can`), for the
signed-in user of the request."""

from typing import Any

from django import template

from bulwark.core import permissions

register = template.Library()


@register.simple_tag(takes_context=True)
def can(context: template.Context, action: str, obj: Any = None) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None) if request is not None else context.get("user")
    return permissions.can(user, action, obj)
