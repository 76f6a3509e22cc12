from typing import Any

from django.http import HttpRequest

from bulwark.constituency import rules
from bulwark.constituency.access import viewer_of


def viewer(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    v = viewer_of(user)
    return {
        "viewer": v,
        "nav_can_manage": v.manages_constituency,
        "nav_can_audit": rules.can_read_audit(v),
    }
