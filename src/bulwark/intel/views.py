"""Intelligence pages: search, value (with correlations), indicator (with its score), share
(STIX bundle, MISP event, CSV, plain list), review, and detection exports."""

import hashlib
import uuid
from typing import Any

import orjson
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bulwark.constituency.access import acting_user
from bulwark.core import observables as obs
from bulwark.core.fanging import read_defanged
from bulwark.core.permissions import Reader, can
from bulwark.core.tlp import TLP
from bulwark.intel import (
    decay,
    exports,
    misp,
    selectors,
    services,
    sharing,
    taxii_server,
    warninglists,
)
from bulwark.intel.models import Collection, Indicator, Provenance, StixObject, Submission, Value

MAX_UPLOAD = sharing.MAX_UPLOAD


@login_required
def intel_home(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    if query:
        try:
            # A value pasted from a report is often defanged (hxxp://evil[.]example).
            kind, text = read_defanged(lambda v: obs.normalise(obs.detect(v), v), query)
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            return redirect("intel-value", kind=kind, value=text)
    indicators = (
        Indicator.objects.visible_to(request.user)
        .filter(stix_object__is_latest=True)
        .select_related("stix_object", "stix_object__source_org")
        .order_by("-stix_object__date_added", "-pk")[:50]
    )
    return render(
        request,
        "intel/home.html",
        {
            "indicators": indicators,
            "pending": selectors.pending_review(request.user).count()
            if can(request.user, "intel.review")
            else 0,
            "formats": exports.FORMATS,
        },
    )


@login_required
def value_detail(request: HttpRequest, kind: str, value: str) -> HttpResponse:
    found = Value.objects.filter(kind=kind, value=value).first()
    if found is None:
        # Not shared or sighted: the page still lists the incidents that carry it.
        found = Value(kind=kind, value=value)
        correlation = selectors.correlate(request.user, found)
        if not correlation.incidents:
            raise Http404
    elif selectors.may_see_value(request.user, found):
        correlation = selectors.correlate(request.user, found)
    else:
        raise Http404
    indicators = {
        i.stix_object_id: i
        for i in Indicator.objects.visible_to(request.user).filter(
            stix_object_id__in=[p.stix_object_id for p in correlation.sources]
        )
    }
    sources = [{"p": p, "indicator": indicators.get(p.stix_object_id)} for p in correlation.sources]
    return render(
        request,
        "intel/value_detail.html",
        {
            "value": found,
            "kind_label": VALUE_KIND_LABELS.get(found.kind, found.kind),
            "c": correlation,
            "sources": sources,
            "tlp": TLP,
            "warnings": warninglists.hits(found.kind, found.value),
        },
    )


@login_required
def indicator_detail(request: HttpRequest, pk: int) -> HttpResponse:
    indicator = get_object_or_404(
        Indicator.objects.visible_to(request.user).select_related(
            "stix_object", "stix_object__source_org", "stix_object__collection"
        ),
        pk=pk,
    )
    values = Value.objects.filter(provenance__stix_object=indicator.stix_object).distinct()
    return render(
        request,
        "intel/indicator_detail.html",
        {
            "indicator": indicator,
            "obj": indicator.stix_object,
            "tlp": TLP(indicator.stix_object.tlp).label,
            "values": [(v, warninglists.hits(v.kind, v.value)) for v in values],
            "score": selectors.indicator_score(indicator),
            "lifetimes": sorted(decay.LIFETIME_DAYS.items()),
            "decay": decay,
            "raw": orjson.dumps(
                orjson.loads(indicator.stix_object.raw), option=orjson.OPT_INDENT_2
            ).decode(),
        },
    )


@login_required
def share(request: HttpRequest) -> HttpResponseBase:
    user = acting_user(request)
    collections = [c for c in Collection.objects.visible_to(user) if can(user, "intel.write", c)]
    if request.method == "POST":
        coll = next((c for c in collections if str(c.pk) == request.POST.get("collection")), None)
        fmt = request.POST.get("format", "plain")
        upload = request.FILES.get("file")
        text = request.POST.get("text", "")
        try:
            if coll is None:
                raise ValueError(_("Choose a collection you may add to."))
            if upload is not None:
                if upload.size and upload.size > MAX_UPLOAD:
                    raise ValueError(_("The file is larger than 2 MB."))
                text = upload.read(MAX_UPLOAD + 1).decode("utf-8", "replace")
            level = TLP(int(request.POST["tlp"])) if request.POST.get("tlp") else None
            shared = sharing.share_text(user, coll, fmt, text, level)
        except (ValueError, misp.InvalidMisp) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Stored %(stored)d, refused %(refused)d.")
                % {"stored": shared.outcome.stored, "refused": shared.submission.refused},
            )
            return redirect("intel-submission", pk=shared.submission.pk)
    return render(
        request,
        "intel/share.html",
        {"collections": collections, "levels": list(TLP), "params": request.POST},
    )


@login_required
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.visible_to(request.user), pk=pk)
    indicators = (
        Indicator.objects.visible_to(request.user)
        .filter(stix_object__submission=submission)
        .select_related("stix_object")[:500]
    )
    if request.GET.get("format") == "misp":
        response = HttpResponse(
            orjson.dumps(misp.export_event(request.user, submission)),
            content_type="application/json",
        )
        response["Content-Disposition"] = f'attachment; filename="misp-event-{submission.pk}.json"'
        return response
    return render(
        request,
        "intel/submission_detail.html",
        {"submission": submission, "indicators": indicators},
    )


@login_required
def review(request: HttpRequest) -> HttpResponseBase:
    if not can(request.user, "intel.review"):
        raise PermissionDenied
    if request.method == "POST":
        ids = [int(x) for x in request.POST.getlist("object") if x.isdigit()]
        publish = request.POST.get("action") == "publish"
        changed = services.review(acting_user(request), ids, publish=publish)
        messages.success(request, _("%(n)d objects reviewed.") % {"n": changed})
        return redirect("intel-review")
    pending = list(selectors.pending_review(request.user).select_related("submission")[:200])
    return render(request, "intel/review.html", {"rows": _described(request.user, pending)})


# Names people read for the kinds of observable values (obs.KINDS).
VALUE_KIND_LABELS = {
    "ipv4": gettext_lazy("IPv4 address"),
    "ipv6": gettext_lazy("IPv6 address"),
    "cidr": gettext_lazy("Network prefix"),
    "domain": gettext_lazy("Domain"),
    "url": gettext_lazy("URL"),
    "md5": gettext_lazy("MD5 hash"),
    "sha1": gettext_lazy("SHA-1 hash"),
    "sha256": gettext_lazy("SHA-256 hash"),
    "email": gettext_lazy("E-mail address"),
    "asn": gettext_lazy("Autonomous system"),
}
SHOWN_VALUES = 20


def _described(user: Reader, objects: list[StixObject]) -> list[dict[str, Any]]:
    """Each object with what a reviewer decides on: its values (kind, value, link), its
    indicator's name or pattern. Two queries for the whole page, not two per row."""
    ids = [o.pk for o in objects]
    indicators = {
        i.stix_object_id: i
        for i in Indicator.objects.visible_to(user).filter(stix_object_id__in=ids)
    }
    values: dict[int, list[Value]] = {}
    rows = (
        Provenance.objects.visible_to(user)
        .filter(stix_object_id__in=ids)
        .select_related("value")
        .order_by("stix_object_id", "value__kind", "value__value")
    )
    for p in rows:
        values.setdefault(p.stix_object_id, []).append(p.value)
    described = []
    for o in objects:
        carried = values.get(o.pk, [])
        described.append(
            {
                "object": o,
                "indicator": indicators.get(o.pk),
                "values": [
                    {"kind": v.kind, "label": VALUE_KIND_LABELS.get(v.kind, v.kind), "value": v}
                    for v in carried[:SHOWN_VALUES]
                ],
                "more": max(0, len(carried) - SHOWN_VALUES),
                # values on a warning list: flagged before anything is published
                "warnings": [h for v in carried for h in warninglists.hits(v.kind, v.value)],
            }
        )
    return described


def export(request: HttpRequest, fmt: str) -> HttpResponse:
    """Detection exports; a session, a Bearer token or Basic with the token as password.
    Anonymous readers get the public TLP:CLEAR indicators."""
    if fmt not in exports.FORMATS:
        raise Http404
    user: Reader = request.user if request.user.is_authenticated else None
    if request.META.get("HTTP_AUTHORIZATION"):
        try:
            user, scopes = taxii_server._authenticate(request)
        except taxii_server.TaxiiError as exc:
            response = HttpResponse(exc.description or exc.title, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="intel"'
            return response
        if scopes is not None and taxii_server.READ_SCOPE not in scopes:
            return HttpResponse(_("This token lacks the scope intel:read."), status=403)
    include_decayed = request.GET.get("include_decayed") == "1"
    rows = selectors.detection_rows(user, include_decayed=include_decayed)
    kind = request.GET.get("type")
    if kind:
        rows = [r for r in rows if r[0] == kind]
    if fmt == "stix":
        ids = sorted({r[2] for r in rows})
        raws = (
            StixObject.objects.visible_to(user)
            .filter(stix_id__in=ids, is_latest=True)
            .order_by("stix_id")
            .values_list("raw", flat=True)
        )
        body = exports.stix_bundle("bundle--" + _bundle_uuid(ids), raws)
        content_type = "application/stix+json;version=2.1"
    else:
        body = exports.RENDERERS[fmt](rows)
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "text/plain; charset=utf-8"
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    if request.META.get("HTTP_IF_NONE_MATCH") == etag:
        return HttpResponse(status=304)
    response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=60"
    return response


def _bundle_uuid(ids: list[str]) -> str:

    return str(uuid.uuid5(uuid.NAMESPACE_URL, "bulwark-export:" + ",".join(ids)))
