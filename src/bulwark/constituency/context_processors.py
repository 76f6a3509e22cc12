from typing import Any

from django.http import HttpRequest

from bulwark.constituency import rules
from bulwark.constituency.access import viewer_of


def viewer(request: HttpRequest) -> dict[str, Any]:
    """Who is signed in, for the navigation bar (what it offers)."""
    v = viewer_of(getattr(request, "user", None))
    return {
        "viewer": v,
        "nav_can_manage": v.manages_constituency,
        "nav_can_audit": rules.can_read_audit(v),
    }
