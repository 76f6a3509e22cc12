"""Request ids, one structured log line per request, and request latency for /metrics.

`RequestObservabilityMiddleware` runs first: it takes the client's `X-Request-ID` when it
is a sane token (letters, digits, `-_.:`, at most 64 characters) or makes a new one,
returns it in the response header, keeps it (with the user id and path) in context
variables for every log record written while the request is served, logs one
`bulwark.request` line when the response is ready, and observes the request's duration in
the latency histogram by view name and status class.

`JsonFormatter` writes one JSON object per line (BULWARK_LOG_FORMAT=json):
time, level, logger, message, request_id, user_id, path, status, duration_ms, and the
exception's traceback when there is one. It is python-json-logger's formatter with the
field names fixed here; `RequestContextFilter` adds the request's fields to every record.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.encoding import escape_uri_path
from django.utils.functional import SimpleLazyObject, empty
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

HEADER = "X-Request-ID"
VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

log = logging.getLogger("bulwark.request")

_request: ContextVar[HttpRequest | None] = ContextVar("bulwark_request", default=None)


def current_request_id() -> str | None:
    request = _request.get()
    return getattr(request, "request_id", None) if request is not None else None


def user_id_of(request: HttpRequest) -> int | None:
    """The signed-in user's id once something has looked the user up; a log record never
    triggers the look-up itself (it may be written while the look-up runs)."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    pk: int | None = user.pk
    return pk


def request_id_from(value: str | None) -> str:
    """The client's id when it is a safe token; otherwise a new one (never reflected:
    a header full of control characters or JSON must not reach the logs as given)."""
    if value and VALID_ID.match(value):
        return value
    return uuid.uuid4().hex


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        # Not routed (404 before resolving, or refused by earlier middleware): one label
        # for all, so a scan of random paths cannot create a time series per path.
        return "unrouted"
    return str(match.view_name or "unnamed")


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        # Imported here, not at the top: the logging configuration imports this module
        # and must not set up the metrics (prometheus_client's multiprocess files).
        from bulwark.core import metrics

        self.get_response = get_response
        self.observe = metrics.observe_request

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = rid  # type: ignore[attr-defined]
        token = _request.set(request)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response[HEADER] = rid
            return response
        finally:
            duration = time.perf_counter() - started
            view = _view_name(request)
            self.observe(view, status, duration)
            log.info(
                "%s %s %s",
                request.method,
                escape_uri_path(request.path),  # no raw newline can forge a text log line
                status,
                extra={"status": status, "duration_ms": round(duration * 1000, 1), "view": view},
            )
            _request.reset(token)


class RequestContextFilter(logging.Filter):
    """Adds the request's id, user id and path to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request.get()
        if request is None:
            record.request_id = record.user_id = record.path = None
        else:
            record.request_id = getattr(request, "request_id", None)
            record.user_id = user_id_of(request)
            record.path = escape_uri_path(request.path)
        return True


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object per line with fixed field names (see the module docstring)."""

    FIELDS = ("request_id", "user_id", "path", "status", "duration_ms")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("timestamp", False)
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["time"] = self.formatTime(record)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()
        for name in self.FIELDS:
            log_data.setdefault(name, getattr(record, name, None))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:

        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
