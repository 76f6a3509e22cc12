"""Monitoring pages: alerts to triage (CERT) or to read (the agency), sightings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.constituency.access import acting_user
from bulwark.core.permissions import can
from bulwark.monitoring import behaviour, selectors, services
from bulwark.monitoring.models import Alert


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    alerts = selectors.alerts(request.user)
    status = request.GET.get("status", "new")
    if status in Alert.Status.values:
        alerts = alerts.filter(status=status)
    page = Paginator(alerts, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "monitoring/alert_list.html",
        {"page": page, "status": status, "statuses": Alert.Status.choices},
    )


@login_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert.objects.visible_to(request.user), pk=pk)
    sightings = selectors.sightings_of(request.user, alert)[:200]
    charts = (
        behaviour.evidence_charts(
            alert.evidence, _("Intervals between connections"), _("Connections per hour")
        )
        if alert.detector
        else []
    )
    return render(
        request,
        "monitoring/alert_detail.html",
        {
            "alert": alert,
            "sightings": sightings,
            "can_triage": can(request.user, "monitoring.triage", alert),
            "charts": charts,
            "evidence_rows": _evidence_rows(alert.evidence) if alert.detector else [],
            "lines": list(enumerate(alert.evidence.get("lines", []))) if alert.detector else [],
        },
    )


_CHARTED = {"interval_histogram", "timeline", "lines", "sources"}


def _evidence_rows(evidence: dict[str, object]) -> list[tuple[str, str]]:
    rows = []
    for key, value in evidence.items():
        if key in _CHARTED or value is None:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {_short(v)}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value[:20])
        rows.append((key.replace("_", " "), _short(value)))
    return rows


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)[:300]


@login_required
def alert_line(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    """A raw log line a behavioural alert's evidence refers to, from the archive."""
    alert = get_object_or_404(Alert.objects.visible_to(request.user), pk=pk)
    references = alert.evidence.get("lines", []) if alert.detector else []
    if not 0 <= index < len(references):
        raise Http404
    lines = behaviour.raw_line(str(references[index]), context=2)
    return render(
        request,
        "monitoring/alert_line.html",
        {
            "alert": alert,
            "reference": references[index],
            "lines": lines,
            "number": int(str(references[index]).rpartition(":")[2] or 0),
        },
    )


@login_required
@require_POST
def alert_triage(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert.objects.visible_to(request.user), pk=pk)
    actor = acting_user(request)
    note = request.POST.get("note", "")[:4000]
    try:
        if request.POST.get("action") == "promote":
            incident = services.promote_alert(actor, alert, note=note)
            messages.success(
                request,
                _("Incident %(ref)s opened; the agency was notified.")
                % {"ref": incident.reference},
            )
            return redirect("incident-detail", incident.pk)
        if request.POST.get("action") == "false_positive":
            services.mark_false_positive(actor, alert, reason=note)
            messages.success(
                request, _("Marked as a false positive; no more alerts for this agency.")
            )
    except PermissionDenied:
        raise
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("monitoring-alert-detail", alert.pk)


@login_required
def sighting_list(request: HttpRequest) -> HttpResponse:
    sightings = selectors.sightings(request.user)
    query = request.GET.get("q", "").strip()[:200]
    if query:
        sightings = sightings.filter(indicator__icontains=query)
    page = Paginator(sightings, 100).get_page(request.GET.get("page"))
    return render(request, "monitoring/sighting_list.html", {"page": page, "q": query})
