import ipaddress
import re
from collections.abc import Callable
from urllib.parse import unquote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from bulwark.core import request_context

# Upload endpoints that accept evidence files up to MAX_EVIDENCE_BYTES (incident evidence;
# findings: scanner files imported from the page or the API, remediation evidence).
EVIDENCE_PATH = re.compile(
    r"^/(api/v1/)?(incidents/\d+/evidence|findings/engagements/\d+/import"
    r"|engagements/\d+/imports|findings/\d+/fix)/$"
)
# The TAXII server (intel): its own limit, and refusals as TAXII 2.1 error objects.
TAXII_PREFIX = "/taxii2/"
TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"


def _refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.path.startswith(TAXII_PREFIX):  # TAXII 2.1 s.3.6.1, the error message
        title = {400: "Bad request", 413: "Request too large"}.get(status, "Refused")
        body = {"title": title, "description": message, "http_status": str(status)}
        return JsonResponse(body, status=status, content_type=TAXII_MEDIA_TYPE)
    return JsonResponse({"detail": message}, status=status)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, or None when there is none that parses as one: the forwarded
    header may carry anything, and PostgreSQL's inet columns (audit log, throttling)
    refuse a malformed address with an error."""
    value = request.META.get("REMOTE_ADDR") or None
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            value = forwarded.split(",")[0].strip() or None
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


class RequestContextMiddleware:
    """Makes the client address available to the audit log for the request's duration."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request_context.set_ip(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            request_context.reset_ip(token)


class RequestBodyLimitMiddleware:
    """Refuses oversized bodies with 413 before any parser reads them, and NUL bytes in
    the query string or the path (no database text column can hold them) with 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.MAX_REQUEST_BODY_BYTES
        if EVIDENCE_PATH.match(request.path):
            limit = settings.MAX_EVIDENCE_BYTES
        elif request.path.startswith(TAXII_PREFIX):
            limit = settings.INTEL_TAXII_MAX_CONTENT_LENGTH
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refusal(request, 400, _("Invalid Content-Length header."))
        if "\x00" in unquote(request.META.get("QUERY_STRING", "")):
            return _refusal(request, 400, _("NUL bytes are not allowed in a query."))
        if "\x00" in request.path:
            return _refusal(request, 400, _("NUL bytes are not allowed in a path."))
        if length > limit:
            message = _("Request body too large: %(size)d bytes, the limit is %(limit)d.") % {
                "size": length,
                "limit": limit,
            }
            return _refusal(request, 413, message)
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """Sends PERMISSIONS_POLICY as the Permissions-Policy header on every response. One
    constant header: a dependency (django-permissions-policy) would be more code to pin
    than this (docs/architecture.md)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Permissions-Policy", self.policy)
        return response
