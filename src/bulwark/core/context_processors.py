from typing import Any

from django.http import HttpRequest

from bulwark.core.models import Notification


def notifications(request: HttpRequest) -> dict[str, Any]:
    """The unread count in the navigation bar."""
    user = getattr(request, "user", None)
    unread = 0
    if getattr(user, "is_authenticated", False) and user.is_active:  # type: ignore[union-attr]
        unread = Notification.objects.visible_to(user).filter(read_at__isnull=True).count()
    return {"unread_notifications": unread}
