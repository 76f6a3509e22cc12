from typing import Any

from django.http import HttpRequest

from bulwark.constituency.access import viewer_of
from bulwark.core.models import Notification
from bulwark.core.permissions import can


def viewer(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    v = viewer_of(user)
    unread = 0
    if v.authenticated:
        unread = Notification.objects.visible_to(user).filter(read_at__isnull=True).count()
    return {
        "viewer": v,
        "unread_notifications": unread,
        "nav_can_manage": can(user, "constituency.manage"),
        "nav_can_audit": can(user, "audit.read"),
        "nav_can_sso": can(user, "sso.manage"),
    }
