from typing import Any

from django.http import HttpRequest

from bulwark.constituency.access import viewer_of


def viewer(request: HttpRequest) -> dict[str, Any]:
    """Who is signed in, for the templates (the navigation's links are asked of
    `core.permissions` by core's context processor)."""
    return {"viewer": viewer_of(getattr(request, "user", None))}
