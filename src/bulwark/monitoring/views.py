"""Monitoring pages: alerts to triage (CERT) or to read (the agency), sightings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.constituency.access import acting_user
from bulwark.core.permissions import can
from bulwark.monitoring import selectors, services
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
    return render(
        request,
        "monitoring/alert_detail.html",
        {
            "alert": alert,
            "sightings": sightings,
            "can_triage": can(request.user, "monitoring.triage", alert),
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
