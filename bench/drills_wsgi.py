"""bench/drills_tracking.py's server: the platform's WSGI application, and in front of it
`/_ceiling`, a bare 204 answered before Django, so the same gunicorn, the same client and
the same run measure what the server and client alone can do on this machine."""

from collections.abc import Callable, Iterable
from typing import Any

from bulwark.wsgi import application as bulwark


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/_ceiling":
        start_response("204 No Content", [])
        return [b""]
    return bulwark(environ, start_response)  # type: ignore[no-any-return]
