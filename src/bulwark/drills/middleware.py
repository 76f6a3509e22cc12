"""Django's short path of the drill mail's tracking requests (`/d/<token>/go`, `open.gif`,
`a.gif`, `seen.gif`): answered before the session, locale, CSRF, authentication, second
factor and messages middleware, none of which a tracking request uses (it carries no
session and changes nothing a signed-in person owns). It sits after the security,
CSP and Permissions-Policy middleware and the body limit, so the answer carries the same
headers as every other one. Measured (bench/drills_tracking.py, docs/drills.md): the
skipped middleware were about half of a tracking request's time.

Everything else under `/d/` (the landing page, the submit, unknown tokens: their 404
page) goes down the whole stack as before.

In a server, most tracking requests never reach Django: `drills.fastpath` answers them
in front of the WSGI handler. What reaches this middleware is the first answer of each
kind per process (whose headers the fast path copies), tests' client requests, and
whatever the fast path hands back."""

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from bulwark.drills import views

TRACKING = re.compile(r"^/d/([A-Za-z0-9_-]{20,64})/(go|open\.gif|a\.gif|seen\.gif)$")


class TrackingShortPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            match = TRACKING.match(request.path_info)
            if match is not None:
                response = views.track(request, match.group(1), match.group(2))
                if response is not None:
                    return response
        return self.get_response(request)
