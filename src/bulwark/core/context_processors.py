from typing import Any

from django.http import HttpRequest

from bulwark.core.models import Notification
from bulwark.core.permissions import can


def notifications(request: HttpRequest) -> dict[str, Any]:
    """The navigation bar: the unread count and which management links to show."""
    user = getattr(request, "user", None)
    unread = 0
    if getattr(user, "is_authenticated", False) and user.is_active:  # type: ignore[union-attr]
        unread = Notification.objects.visible_to(user).filter(read_at__isnull=True).count()
    return {
        "unread_notifications": unread,
        "nav_can_manage": can(user, "constituency.manage"),
        "nav_can_audit": can(user, "audit.read"),
        "nav_can_sso": can(user, "sso.manage"),
    }
