"""A MISP-compatible read API and MISP feed under `/misp/`, so MISP instances and PyMISP
scripts pull from the platform.

PyMISP: `PyMISP("https://bulwark.example/misp/", TOKEN)` (the token needs `intel:read`);
`search(controller="events"|"attributes", ...)`, `get_event(uuid)`, `describe_types_remote`.
MISP: add a feed of format "MISP Feed" with URL `https://bulwark.example/misp/feed/` and the
header `Authorization: <token>`.

Authentication: the key as MISP sends it (`Authorization: <token>` or `X-MISP-AUTH`),
`Bearer <token>`, Basic with the token as password, or a browser session (GET only).
Anonymous readers see the public TLP:CLEAR events. Every read goes through
`misp.stored_events(user)`, i.e. `StixObject.objects.visible_to(user)`.
"""

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions

from bulwark.constituency.api.authentication import BearerTokenAuthentication
from bulwark.constituency.models import User
from bulwark.intel import misp, taxii_server

MISP_VERSION = "2.5.0"
READ_SCOPE = taxii_server.READ_SCOPE
MAX_BODY = 1_000_000


class Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse(
        {"name": message, "message": message, "url": "", "errors": message}, status=status
    )


def _reader(request: HttpRequest) -> Any:
    """The user the request reads as (None: anonymous), or Denied."""
    header = request.META.get("HTTP_AUTHORIZATION") or request.META.get("HTTP_X_MISP_AUTH", "")
    header = header.strip()
    if not header:
        if request.method == "GET" and request.user.is_authenticated:
            return request.user
        return None
    scheme = header.partition(" ")[0].lower()
    if scheme in ("bearer", "basic") and " " in header:
        request.META["HTTP_AUTHORIZATION"] = header
        try:
            user, scopes = taxii_server._authenticate(request)
        except taxii_server.TaxiiError as exc:
            raise Denied(401, exc.description or exc.title) from None
    else:
        try:
            user, token = BearerTokenAuthentication()._check(header)
        except drf_exceptions.AuthenticationFailed as exc:
            raise Denied(401, f"Authentication failed: {exc.detail}") from None
        scopes = list(token.scopes)
    if scopes is not None and READ_SCOPE not in scopes:
        raise Denied(403, "This token lacks the scope intel:read.")
    return user


def misp_view(func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            user = _reader(request)
            return func(request, user, *args, **kwargs)
        except Denied as exc:
            return _error(exc.status, exc.message)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return csrf_exempt(wrapper)


def _params(request: HttpRequest) -> dict[str, Any]:
    """restSearch filters: a JSON body (as PyMISP sends), a form, or the query string."""
    params: dict[str, Any] = {k: v for k, v in request.GET.items()}
    if request.method == "POST" and request.body:
        if len(request.body) > MAX_BODY:
            raise Denied(413, "request body too large")
        if request.content_type == "application/json" or request.body.lstrip()[:1] == b"{":
            try:
                body = orjson.loads(request.body)
            except orjson.JSONDecodeError as exc:
                raise Denied(400, f"the body is not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise Denied(400, "the body must be a JSON object of filters")
            params.update(
                body.get("request", body) if isinstance(body.get("request"), dict) else body
            )
        else:
            params.update({k: v for k, v in request.POST.items()})
    fmt = str(params.get("returnFormat") or "json").lower()
    if fmt != "json":
        raise Denied(400, f"returnFormat {fmt!r} is not served here; use json")
    return params


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), status=status, content_type="application/json")


@misp_view
def get_version(request: HttpRequest, user: User) -> HttpResponse:
    return _json(
        {"version": MISP_VERSION, "pymisp_recommended_version": MISP_VERSION,
         "perm_sync": False, "perm_sighting": False, "perm_galaxy_editor": False,
         "request_encoding": ["gzip"], "filter_sightings": True}
    )  # fmt: skip


@misp_view
def describe_types(request: HttpRequest, user: User) -> HttpResponse:
    return _json({"result": misp.describe_types()})


@misp_view
def user_me(request: HttpRequest, user: User) -> HttpResponse:
    """users/view/me: who the key belongs to (read-only role)."""
    if user is None:
        return _error(403, "Authentication required")
    org = user.memberships.first()
    return _json(
        {
            "User": {"id": str(user.pk), "email": user.email or user.get_username(),
                     "org_id": str(org.organisation_id) if org else "0", "role_id": "6",
                     "disabled": False, "autoalert": False, "termsaccepted": True},
            "Role": {"id": "6", "name": "Bulwark reader", "perm_add": False,
                     "perm_modify": False, "perm_publish": False, "perm_sync": False,
                     "perm_admin": False, "perm_site_admin": False, "perm_auth": True},
            "UserSetting": {},
        }
    )  # fmt: skip


@misp_view
def events_rest_search(request: HttpRequest, user: User) -> HttpResponse:
    try:
        found = misp.search_events(user, _params(request))
    except Denied as exc:
        return _error(exc.status, exc.message)
    return _json({"response": found})


@misp_view
def attributes_rest_search(request: HttpRequest, user: User) -> HttpResponse:
    try:
        found = misp.search_attributes(user, _params(request))
    except Denied as exc:
        return _error(exc.status, exc.message)
    return _json({"response": {"Attribute": found}})


@misp_view
def event_view(request: HttpRequest, user: User, ident: str) -> HttpResponse:
    found = misp.search_events(user, {"uuid": ident.removesuffix(".json")})
    if not found:
        return _error(404, "Invalid event")
    return _json(found[0])


# ------------------------------------------------------------------------------ feed


@misp_view
def feed_manifest(request: HttpRequest, user: User) -> HttpResponse:
    """manifest.json: {event uuid: the event's header} of every event the reader sees."""
    manifest = {}
    for item in misp.search_events(user, {}):
        event = item["Event"]
        manifest[event["uuid"]] = {
            key: event[key]
            for key in ("info", "date", "analysis", "threat_level_id", "timestamp",
                        "publish_timestamp", "Orgc", "Tag")
            if key in event
        }  # fmt: skip
    return _json(manifest)


@misp_view
def feed_event(request: HttpRequest, user: User, ident: Any) -> HttpResponse:
    found = misp.search_events(user, {"uuid": str(ident)})
    if not found:
        return _error(404, "Invalid event")
    return _json(found[0])


@misp_view
def feed_hashes(request: HttpRequest, user: User) -> HttpResponse:
    """hashes.csv: `md5 of an attribute value,event uuid` (each part of a composite value),
    which MISP uses to find a feed's matches without downloading the events."""
    lines = []
    for item in misp.search_events(user, {}):
        event = item["Event"]
        for attr, _obj in misp.attributes_of(event):
            value = str(attr.get("value", ""))
            mtype = str(attr.get("type", ""))
            parts = value.split("|") if "|" in mtype or mtype == "malware-sample" else [value]
            for part in parts:
                lines.append(f"{hashlib.md5(part.encode()).hexdigest()},{event['uuid']}")  # noqa: S324 (MISP's format)
    return HttpResponse("".join(line + "\n" for line in lines), content_type="text/csv")
