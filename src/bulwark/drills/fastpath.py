"""The drill mail's tracking requests answered in front of Django's WSGI handler.

`GET`/`HEAD` of `/d/<token>/go`, `open.gif`, `a.gif`, `seen.gif` (no query string, no
body) is recorded by `services.record_hit` (one committed row before the answer) and
answered here, without building an HttpRequest, running the middleware or the response
machinery: measured (bench/drills_tracking.py, docs/drills.md), those were more than half
of a tracking request's time. Everything else, and any tracking request this path does
not take (an unknown token, a draft's, a query string, a body), goes to Django as before:
its 404 page, its redirects, its errors.

The same headers as Django's answer: the first answer of each kind (image or redirect)
per scheme and process *is* Django's (through `drills.middleware`'s short path, after the
security, CSP and Permissions-Policy middleware), and its headers are kept as the
template of the following ones; only what belongs to one request is made anew (`Expires`,
`X-Request-ID`, the redirect's `Location`). An answer that sets a cookie or is not the
expected one (a redirect to HTTPS, say) is never kept: such requests keep going through
Django. A changed setting (tests) forgets the templates.

The request is observed as Django's would be: the request id (`X-Request-ID`), the
latency histogram (view `drills:tracking`) and the request log line; database
connections are checked before and after, as Django's request signals do."""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import close_old_connections

from bulwark.core import metrics
from bulwark.core.middleware import client_ip
from bulwark.core.observability import HEADER, request_id_from
from bulwark.drills import services, views
from bulwark.drills.middleware import TRACKING

log = logging.getLogger("bulwark.request")
VIEW = "drills:tracking"
# Headers that belong to one request, made anew each time (never copied from the template).
OWN = frozenset({"expires", "x-request-id", "location", "date", "content-length"})

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Meta:
    """What `client_ip` reads of a request: its META (the WSGI environ)."""

    __slots__ = ("META",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self.META = environ


def scheme(environ: dict[str, Any]) -> str:
    """As HttpRequest.scheme: the proxy's header when SECURE_PROXY_SSL_HEADER names one."""
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        header, secure = proxy
        value = environ.get(header)
        if value is not None:
            return "https" if value.split(",", 1)[0].strip() == secure else "http"
    return str(environ.get("wsgi.url_scheme", "http"))


class TrackingApp:
    """WSGI middleware: tracking requests answered here, the rest by `app` (Django)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.templates: dict[tuple[str, str], tuple[str, list[tuple[str, str]], bytes]] = {}
        self.lock = threading.Lock()
        self._expires = (0, "")
        setting_changed.connect(self._forget, weak=False)

    def _forget(self, **kwargs: Any) -> None:
        self.templates = {}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if (
            (method == "GET" or method == "HEAD")
            and not environ.get("QUERY_STRING")
            and environ.get("CONTENT_LENGTH") in (None, "", "0")
            and "HTTP_TRANSFER_ENCODING" not in environ
        ):
            match = TRACKING.match(environ.get("PATH_INFO", ""))
            if match is not None:
                endpoint = match.group(2)
                key = ("go" if endpoint == "go" else "gif", scheme(environ))
                template = self.templates.get(key)
                token = match.group(1)
                if template is None:
                    return self._learn(environ, start_response, key, token)
                answer = self._track(environ, start_response, token, endpoint, template)
                if answer is not None:
                    return answer
        return self.app(environ, start_response)

    def _learn(
        self, environ: dict[str, Any], start_response: Callable[..., Any], key: tuple[str, str],
        token: str,
    ) -> Iterable[bytes]:  # fmt: skip
        """Django answers; a tracking answer's headers become the template for `key`."""
        seen: list[Any] = []

        def keep(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen.append((status, headers))
            return start_response(status, headers, *exc)

        answer = self.app(environ, keep)
        if seen:
            status, headers = seen[0]
            names = {name.lower(): value for name, value in headers}
            expected = (
                status.startswith("302") and names.get("location") == f"/d/{token}/"
                if key[0] == "go"
                else status.startswith("200") and names.get("content-type") == "image/gif"
            )
            if expected and "set-cookie" not in names:
                kept = [(n, v) for n, v in headers if n.lower() not in OWN]
                body = b"" if key[0] == "go" else views.PIXEL
                with self.lock:
                    self.templates[key] = (status, kept, body)
        return answer

    def _expiry(self) -> str:
        """`Expires` as Django's never_cache writes it (now), made once a second."""
        now = int(time.time())
        second, text = self._expires
        if second != now:
            text = formatdate(now, usegmt=True)
            self._expires = (now, text)
        return text

    def _track(
        self, environ: dict[str, Any], start_response: Callable[..., Any], token: str,
        endpoint: str, template: tuple[str, list[tuple[str, str]], bytes],
    ) -> Iterable[bytes] | None:  # fmt: skip
        started = time.perf_counter()
        method = environ["REQUEST_METHOD"]
        close_old_connections()  # as Django's request_started
        try:
            tracked = services.record_hit(
                token, views.ENDPOINTS[endpoint], method=method,
                ip=client_ip(_Meta(environ)) or "",  # type: ignore[arg-type]
                agent=environ.get("HTTP_USER_AGENT", ""),
            )  # fmt: skip
        except Exception:
            # Nothing was committed (the transaction rolled back): Django answers, as it
            # would have (the event recorded then, or its error page).
            log.exception("drills: the tracking path failed; Django answers instead")
            close_old_connections()
            return None
        if tracked is None:  # unknown or a draft's: Django's 404 page
            close_old_connections()
            return None
        status, kept, body = template
        headers = [*kept, ("Expires", self._expiry()), ("Content-Length", str(len(body)))]
        if endpoint == "go":
            headers.append(("Location", f"/d/{token}/"))
        rid = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        headers.append((HEADER, rid))
        start_response(status, headers)
        close_old_connections()  # as Django's request_finished
        duration = time.perf_counter() - started
        metrics.observe_request(VIEW, int(status[:3]), duration)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %s", method, environ.get("PATH_INFO", ""), status[:3],
                extra={"status": int(status[:3]), "duration_ms": round(duration * 1000, 1),
                       "view": VIEW},
            )  # fmt: skip
        return [body]
