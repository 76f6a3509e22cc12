"""TAXII 2.1 server (OASIS TAXII Version 2.1, sections 4-5) at /taxii2/.

One API root (`/taxii2/api/`). Every read goes through `StixObject.objects.visible_to`;
paging is a signed, stateless cursor over (date_added, row id) that is checked against
the request's filters and re-authorised on every request, so any server process accepts
it and a reader never pages into objects they may no longer see.
"""

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import orjson
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Min, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions

from bulwark.constituency.api.authentication import BearerTokenAuthentication
from bulwark.core import bulk
from bulwark.core.params import whole_number
from bulwark.core.permissions import can
from bulwark.intel import services
from bulwark.intel.models import Collection, StixObject, Submission, TaxiiStatus
from bulwark.intel.stixcheck import TIMESTAMP, Refused, parse_timestamp

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
READ_SCOPE = "intel:read"
WRITE_SCOPE = "intel:write"
_CURSOR_SALT = "bulwark.intel.taxii.next"
_FILTERS = ("added_after", "match[id]", "match[type]", "match[version]", "match[spec_version]")


class TaxiiError(Exception):
    def __init__(self, status: int, title: str, description: str = "") -> None:
        super().__init__(title)
        self.status, self.title, self.description = status, title, description


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(data), status=status, content_type=TAXII)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _error(exc: TaxiiError) -> HttpResponse:
    body = {"title": exc.title, "http_status": str(exc.status)}
    if exc.description:
        body["description"] = exc.description
    response = _json(body, exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="taxii", Basic realm="taxii"'
    return response


def ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def max_content_length() -> int:
    """The one limit (settings.INTEL_TAXII_MAX_CONTENT_LENGTH): advertised by the API root,
    enforced by RequestBodyLimitMiddleware on the Content-Length and here on the body."""
    return int(settings.INTEL_TAXII_MAX_CONTENT_LENGTH)


def version_text(row: StixObject) -> str:
    """A version as the object states it: its `modified` (else `created`) text exactly as
    received, so `2026-01-01T00:00:00.000Z` is not rewritten to `.000000Z` and a
    nanosecond timestamp keeps its digits. The column only orders and filters; an object
    without either property (an SCO) is versioned by date_added, which is ours."""
    try:
        obj = orjson.loads(row.raw)
    except orjson.JSONDecodeError:
        return ts(row.version)
    for name in ("modified", "created"):
        text = obj.get(name) if isinstance(obj, dict) else None
        if isinstance(text, str) and TIMESTAMP.match(text):
            try:
                if parse_timestamp(text, name) == row.version:
                    return text
            except Refused:
                break
    return ts(row.version)


# --- authentication and content negotiation ------------------------------------------------


def _authenticate(request: HttpRequest) -> tuple[Any, list[str] | None]:
    """(user or None, token scopes or None). Bearer token, or Basic with the token as the
    password (the user name is not checked: the token names its user)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None, None
    scheme, _sep, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise TaxiiError(401, "Malformed Basic credentials") from None
        _user, sep, credentials = decoded.partition(":")
        if not sep:
            raise TaxiiError(401, "Malformed Basic credentials")
    elif scheme.lower() != "bearer":
        raise TaxiiError(401, "Use a Bearer token, or Basic with the token as password")
    try:
        user, token = BearerTokenAuthentication()._check(credentials)
    except drf_exceptions.AuthenticationFailed as exc:
        raise TaxiiError(401, "Authentication failed", str(exc.detail)) from None
    return user, list(token.scopes)


def _accepts_taxii(request: HttpRequest) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    if not accept.strip():
        return True
    for item in accept.split(","):
        parts = [p.strip().lower() for p in item.split(";")]
        media = parts[0]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if media in ("*/*", "application/*"):
            return True
        if media == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return True
    return False


def taxii_view(
    methods: tuple[str, ...], *, anonymous: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise TaxiiError(405, "Method not allowed")
                if not _accepts_taxii(request):
                    raise TaxiiError(406, "Not acceptable", f"This server speaks {TAXII}.")
                user, scopes = _authenticate(request)
                if user is None and not anonymous:
                    raise TaxiiError(401, "Authentication required")
                needed = READ_SCOPE if request.method == "GET" else WRITE_SCOPE
                if scopes is not None and needed not in scopes:
                    raise TaxiiError(403, "Forbidden", f"This token lacks the scope {needed}.")
                request.taxii_user = user  # type: ignore[attr-defined]
                return view(request, *args, **kwargs)
            except TaxiiError as exc:
                return _error(exc)
            except PermissionDenied as exc:
                return _error(TaxiiError(403, "Forbidden", str(exc)))

        return wrapper

    return decorate


def _user(request: HttpRequest) -> Any:
    return request.taxii_user  # type: ignore[attr-defined]


def _root(request: HttpRequest) -> str:
    # From the configured address, never the Host header: whoever sends the request
    # chooses that, and a client following a forged API root would send its token there.
    return settings.SITE_URL.rstrip("/") + "/taxii2/api/"


# --- discovery, API root, collections, status ------------------------------------------------


@taxii_view(("GET",), anonymous=True)
def discovery(request: HttpRequest) -> HttpResponse:
    return _json(
        {
            "title": "Bulwark TAXII 2.1",
            "description": "Threat intelligence shared in the national CERT's community.",
            "default": _root(request),
            "api_roots": [_root(request)],
        }
    )


@taxii_view(("GET",), anonymous=True)
def api_root(request: HttpRequest) -> HttpResponse:
    return _json(
        {
            "title": "Bulwark intelligence",
            "versions": [TAXII],
            "max_content_length": max_content_length(),
        }
    )


def _collection_json(collection: Collection, user: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(collection.uuid),
        "title": collection.title,
        "can_read": True,
        "can_write": can(user, "intel.write", collection),
        "media_types": [STIX],
    }
    if collection.description:
        data["description"] = collection.description
    if collection.alias:
        data["alias"] = collection.alias
    return data


@taxii_view(("GET",), anonymous=True)
def collections(request: HttpRequest) -> HttpResponse:
    rows = Collection.objects.visible_to(_user(request)).order_by("title", "pk")
    found = [_collection_json(c, _user(request)) for c in rows]
    return _json({"collections": found} if found else {})


def _collection(request: HttpRequest, collection_id: str) -> Collection:
    try:
        key = uuid.UUID(collection_id)
    except ValueError:
        raise TaxiiError(404, "Collection not found") from None
    found = Collection.objects.visible_to(_user(request)).filter(uuid=key).first()
    if found is None:
        if _user(request) is None and Collection.objects.filter(uuid=key).exists():
            raise TaxiiError(401, "Authentication required")
        raise TaxiiError(404, "Collection not found")
    return found


@taxii_view(("GET",), anonymous=True)
def collection(request: HttpRequest, collection_id: str) -> HttpResponse:
    return _json(_collection_json(_collection(request, collection_id), _user(request)))


@taxii_view(("GET",))
def status(request: HttpRequest, status_id: str) -> HttpResponse:
    try:
        key = uuid.UUID(status_id)
    except ValueError:
        raise TaxiiError(404, "Status not found") from None
    found = TaxiiStatus.objects.visible_to(_user(request)).filter(pk=key).first()
    if found is None:
        raise TaxiiError(404, "Status not found")
    return _json(status_json(found))


def status_json(s: TaxiiStatus) -> dict[str, Any]:
    return {
        "id": str(s.pk),
        "status": s.status,
        "request_timestamp": ts(s.request_timestamp),
        "total_count": s.total_count,
        "success_count": s.success_count,
        "successes": s.successes,
        "failure_count": s.failure_count,
        "failures": s.failures,
        "pending_count": s.pending_count,
        "pendings": s.pendings,
    }


# --- filters and paging ------------------------------------------------------------------------


def _filter_key(request: HttpRequest, collection: Collection, extra: str) -> str:
    parts = [str(collection.uuid), extra] + [f"{k}={request.GET.get(k, '')}" for k in _FILTERS]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _limit(request: HttpRequest) -> int:
    text = request.GET.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    value = whole_number(text)  # not str.isdigit(): "¹" is a digit that int() refuses
    if value is None or value < 1:
        raise TaxiiError(400, "limit must be a positive integer")
    return min(value, MAX_LIMIT)


def _timestamp_param(text: str, name: str) -> datetime:
    try:
        return parse_timestamp(text, name)
    except Refused as exc:
        raise TaxiiError(400, f"Invalid {name}", str(exc)) from None


def _list_param(request: HttpRequest, name: str) -> list[str]:
    text = request.GET.get(name, "")
    return [v.strip() for v in text.split(",") if v.strip()]


def filtered(
    request: HttpRequest, collection: Collection, *, stix_id: str | None, default_version: str
) -> QuerySet[StixObject]:
    rows = StixObject.objects.visible_to(_user(request)).filter(collection=collection)
    if stix_id is not None:
        rows = rows.filter(stix_id=stix_id)
    if "added_after" in request.GET:
        rows = rows.filter(
            date_added__gt=_timestamp_param(request.GET["added_after"], "added_after")
        )
    ids = _list_param(request, "match[id]")
    if ids:
        rows = rows.filter(stix_id__in=ids)
    types = _list_param(request, "match[type]")
    if types:
        rows = rows.filter(type__in=types)
    specs = _list_param(request, "match[spec_version]")
    if specs:
        rows = rows.filter(spec_version__in=specs)
    versions = _list_param(request, "match[version]") or [default_version]
    if "all" not in versions:
        rows = rows.filter(version_q(versions, collection))
    return rows


def version_q(versions: list[str], collection: Collection) -> Q:
    q = Q()
    first = False
    for item in versions:
        if item == "last":
            q |= Q(is_latest=True)
        elif item == "first":
            first = True
        elif TIMESTAMP.match(item):
            q |= Q(version=_timestamp_param(item, "match[version]"))
        else:
            raise TaxiiError(400, "Invalid match[version]", "use last, first, all or timestamps")
    if first:
        earliest = (
            StixObject.objects.filter(collection=collection, stix_id=OuterRef("stix_id"))
            .values("stix_id")
            .annotate(v=Min("version"))
            .values("v")
        )
        q |= Q(version=Subquery(earliest))
    return q


def page(
    request: HttpRequest, rows: QuerySet[StixObject], collection: Collection, extra: str = ""
) -> tuple[list[Any], bool, str | None, dict[str, str]]:
    """One page in (date_added, id) order: rows, more, next, date-added headers."""
    limit = _limit(request)
    key = _filter_key(request, collection, extra)
    cursor = request.GET.get("next")
    if cursor:
        try:
            data = signing.loads(cursor, salt=_CURSOR_SALT)
            if data["k"] != key:
                raise TaxiiError(400, "next does not belong to these filters")
            after = datetime.fromisoformat(data["d"])
            pk = int(data["i"])
        except (signing.BadSignature, KeyError, ValueError, TypeError):
            raise TaxiiError(
                400, "Invalid next", "the cursor is not one this server issued"
            ) from None
        rows = rows.filter(date_added__gte=after).filter(
            Q(date_added__gt=after) | Q(date_added=after, pk__gt=pk)
        )
    found = list(rows.order_by("date_added", "pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    next_cursor = None
    if more:
        last = found[-1]
        next_cursor = signing.dumps(
            {"k": key, "d": last.date_added.isoformat(), "i": last.pk}, salt=_CURSOR_SALT
        )
    headers = {}
    if found:
        headers = {
            "X-TAXII-Date-Added-First": ts(found[0].date_added),
            "X-TAXII-Date-Added-Last": ts(found[-1].date_added),
        }
    return found, more, next_cursor, headers


def _envelope(raws: list[str], more: bool, next_cursor: str | None) -> bytes:
    head = b'{"more":' + (b"true" if more else b"false")
    if next_cursor:
        head += b',"next":' + orjson.dumps(next_cursor)
    if not raws:
        return head + b"}"
    return head + b',"objects":[' + ",".join(raws).encode() + b"]}"


# --- objects ---------------------------------------------------------------------------------


@taxii_view(("GET", "POST"), anonymous=True)
def objects(request: HttpRequest, collection_id: str) -> HttpResponse:
    coll = _collection(request, collection_id)
    if request.method == "POST":
        return _add_objects(request, coll)
    rows = filtered(request, coll, stix_id=None, default_version="last").only(
        "pk", "date_added", "raw"
    )
    found, more, next_cursor, headers = page(request, rows, coll)
    response = HttpResponse(
        _envelope([r.raw for r in found], more, next_cursor), content_type=TAXII
    )
    for name, value in headers.items():
        response[name] = value
    return response


def _add_objects(request: HttpRequest, coll: Collection) -> HttpResponse:
    user = _user(request)
    if user is None:
        raise TaxiiError(401, "Authentication required")
    if not can(user, "intel.write", coll):
        raise TaxiiError(403, "Forbidden", "You may not add objects to this collection.")
    content_type = request.META.get("CONTENT_TYPE", "")
    media = [p.strip().lower() for p in content_type.split(";")]
    params = dict(p.split("=", 1) for p in media[1:] if "=" in p)
    if media[0] != "application/taxii+json" or params.get("version", "2.1") != "2.1":
        raise TaxiiError(415, "Unsupported media type", f"Send {TAXII}.")
    limit = max_content_length()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise TaxiiError(413, "Request too large", f"At most {limit} bytes.")
    body = request.read(limit + 1)  # a chunked body has no Content-Length
    if len(body) > limit:
        raise TaxiiError(413, "Request too large", f"At most {limit} bytes.")
    # The collector stays paused from parsing to the end of the store, and the parsed
    # objects are freed before it runs again (see bulwark.core.bulk).
    with bulk.collector_paused():
        try:
            envelope = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise TaxiiError(400, "Malformed JSON", str(exc)) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("objects"), list):
            raise TaxiiError(
                422, "Unprocessable envelope", "Send an envelope with an objects list."
            )
        total = len(envelope["objects"])
        if not total:
            raise TaxiiError(422, "Unprocessable envelope", "The envelope holds no objects.")
        requested = datetime.now(UTC)
        shared = services.ingest_objects(
            user, coll, envelope["objects"], raw=body.decode("utf-8", "replace"), channel="taxii"
        )
        del envelope
    record = services.record_taxii_status(user, coll, shared, requested=requested, total=total)
    return _json(status_json(record), 202)


def _object_id(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}--[0-9a-fA-F-]{36}", value):
        raise TaxiiError(404, "Object not found")
    return value


@taxii_view(("GET", "DELETE"))
def object_detail(request: HttpRequest, collection_id: str, object_id: str) -> HttpResponse:
    coll = _collection(request, collection_id)
    stix_id = _object_id(object_id)
    if request.method == "DELETE":
        rows = filtered(request, coll, stix_id=stix_id, default_version="all")
        if not rows.exists():
            raise TaxiiError(404, "Object not found")
        pks = list(rows.values_list("pk", flat=True))
        services.delete_versions(_user(request), coll, stix_id, Q(pk__in=pks))
        return HttpResponse(status=200, content_type=TAXII)
    rows = filtered(request, coll, stix_id=stix_id, default_version="last")
    found, more, next_cursor, headers = page(request, rows, coll, stix_id)
    if not found and not request.GET.get("next"):
        raise TaxiiError(404, "Object not found")
    response = HttpResponse(
        _envelope([r.raw for r in found], more, next_cursor), content_type=TAXII
    )
    for name, value in headers.items():
        response[name] = value
    return response


@taxii_view(("GET",))
def versions(request: HttpRequest, collection_id: str, object_id: str) -> HttpResponse:
    coll = _collection(request, collection_id)
    stix_id = _object_id(object_id)
    rows = filtered(request, coll, stix_id=stix_id, default_version="all")
    found, more, next_cursor, headers = page(request, rows, coll, "v" + stix_id)
    if not found and not request.GET.get("next"):
        raise TaxiiError(404, "Object not found")
    body: dict[str, Any] = {"more": more, "versions": [version_text(r) for r in found]}
    if next_cursor:
        body["next"] = next_cursor
    return _json(body, headers=headers)


@taxii_view(("GET",), anonymous=True)
def manifest(request: HttpRequest, collection_id: str) -> HttpResponse:
    coll = _collection(request, collection_id)
    rows = filtered(request, coll, stix_id=None, default_version="last").only(
        "pk", "stix_id", "date_added", "version", "raw"
    )
    found, more, next_cursor, headers = page(request, rows, coll, "manifest")
    body: dict[str, Any] = {"more": more}
    if next_cursor:
        body["next"] = next_cursor
    if found:
        body["objects"] = [
            {
                "id": r.stix_id,
                "date_added": ts(r.date_added),
                "version": version_text(r),
                "media_type": STIX,
            }
            for r in found
        ]
    return _json(body, headers=headers)


@taxii_view(("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"), anonymous=True)
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /taxii2/: a TAXII 404, not the site's HTML page."""
    raise TaxiiError(404, "Not found", "No TAXII 2.1 endpoint at this path.")


__all__ = ["Submission"]
