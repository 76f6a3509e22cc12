"""Answers of the constituency's read endpoints, kept per viewer and constituency stamp.

An organisation list, a network list or the user list depends only on the constituency
tables and on who asks. The bearer authentication reads the constituency's version stamp
with the token (`models.ConstituencyVersion`, changed by database triggers in the same
transaction as any write to those tables); an answer is kept under

    (stamp, the viewer's fingerprint, host, full path with its query, media type, language)

so it is served again only to a caller who sees exactly the same rows, and never after any
organisation, sector, network, user or membership changed. The token itself, its scopes
and its user's active flag are still checked on every request before the view runs.

Kept in the `api` cache (settings.CACHES: in each worker process, bounded in entries and
time). Only bearer-token GETs answered
200 in JSON are kept; sessions (the browsable API) always compute. Measured in
bench/api_cost.py and bench/load_api.py (docs/operations.md, "Capacity").
"""

import hashlib
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.http import HttpResponse
from django.utils import translation
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import ApiToken

CACHE_ALIAS = "api"


def _key(request: Request, stamp: str) -> str | None:
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is None or getattr(renderer, "format", None) != "json":
        return None
    raw = "\x1f".join(
        [
            stamp,
            viewer_of(request.user).fingerprint,
            request.get_host(),
            request.get_full_path(),
            str(getattr(request, "accepted_media_type", "")),
            translation.get_language() or "",
        ]
    )
    return "api:" + hashlib.sha256(raw.encode()).hexdigest()


def cached_read(request: Request, compute: Callable[[], Response]) -> HttpResponse | Response:
    """`compute()`'s answer, or the one kept for the same viewer, request and stamp."""
    token = request.auth
    stamp = getattr(token, "constituency_stamp", None) if isinstance(token, ApiToken) else None
    key = _key(request, stamp) if stamp and request.method == "GET" else None
    if key is None:
        return compute()
    cache = caches[CACHE_ALIAS]
    kept = cache.get(key)
    if kept is not None:
        headers, content = kept
        return HttpResponse(content, headers=headers)
    response = compute()
    if response.status_code == 200:

        def keep(rendered: Any) -> None:
            # The view's own headers; DRF adds Allow and Vary to every answer, kept or not.
            headers = {k: v for k, v in rendered.items() if k.lower() not in ("allow", "vary")}
            cache.set(key, (headers, rendered.content))

        response.add_post_render_callback(keep)
    return response


class CachedReadMixin:
    """List and detail answers kept per viewer and constituency stamp (see above). For
    viewsets whose answers read nothing but the constituency tables."""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        parent: Any = super()  # the viewset's own list
        return cached_read(request, lambda: parent.list(request, *args, **kwargs))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        parent: Any = super()
        return cached_read(request, lambda: parent.retrieve(request, *args, **kwargs))
