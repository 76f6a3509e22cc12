from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django_tasks_db.models import DBTaskResult

from bulwark.core import registry, services
from bulwark.core.models import (
    AuditEntry,
    Notification,
    NotificationKind,
    NotificationSettings,
    object_type_labels,
)
from bulwark.core.params import BadParameter, id_param
from bulwark.core.permissions import require

STALLED_AFTER = timedelta(minutes=5)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: the figures each app registers (core/registry.py, HOME_FIGURES)."""
    context: dict[str, Any] = {"counts": {}}
    for figures in registry.HOME_FIGURES:
        for name, value in figures(request.user).items():
            if name == "counts":
                context["counts"].update(value)
            else:
                context[name] = value
    return render(request, "core/home.html", context)


def _task_queue_state() -> dict[str, object]:

    now = timezone.now()
    ready = DBTaskResult.objects.filter(status="READY")
    oldest = ready.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    age = (now - oldest).total_seconds() if oldest else 0.0
    return {
        "backend": "database",
        "ready": ready.count(),
        "running": DBTaskResult.objects.filter(status="RUNNING").count(),
        "failed_last_hour": DBTaskResult.objects.filter(
            status="FAILED", finished_at__gte=now - timedelta(hours=1)
        ).count(),
        "oldest_ready_seconds": round(age, 1),
        "stalled": age > STALLED_AFTER.total_seconds(),
    }


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and monitoring: 200 when the database answers."""
    body: dict[str, object] = {"status": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        body["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any database failure is reported, not raised
        body["status"] = "error"
        body["database"] = {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}
        return JsonResponse(body, status=503)
    try:
        body["tasks"] = {"ok": True, **_task_queue_state()}
    except Exception as exc:
        body["status"] = "degraded"
        body["tasks"] = {"ok": False, "error": type(exc).__name__}
    return JsonResponse(body)


def date_param(value: object) -> date | None:
    """A YYYY-MM-DD query parameter, or None when absent or not a real date."""
    try:
        return parse_date(str(value or "")[:10])
    except ValueError:  # well formed but impossible, such as 2026-02-30
        return None


_Entries = TypeVar("_Entries", bound=QuerySet[AuditEntry])


def filter_audit(entries: _Entries, params: Mapping[str, str]) -> _Entries:
    """Filters shared by the audit page and the audit API."""
    if params.get("action"):
        entries = entries.filter(action__startswith=params["action"][:100])
    if params.get("actor"):
        entries = entries.filter(actor_label=params["actor"][:150])
    if params.get("object_type"):
        entries = entries.filter(object_type__in=object_type_labels(params["object_type"][:100]))
    if params.get("object_id"):
        entries = entries.filter(object_id=params["object_id"][:64])
    if (organisation := id_param(params, "organisation")) is not None:
        entries = entries.filter(organisation_id=organisation)
    since, until = date_param(params.get("since")), date_param(params.get("until"))
    if since:
        entries = entries.filter(at__date__gte=since)
    if until:
        entries = entries.filter(at__date__lte=until)
    return entries


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    mine = Notification.objects.visible_to(request.user)
    kinds = dict(NotificationKind.choices)
    kind = request.GET.get("kind", "")
    kind = kind if kind in kinds else ""
    if request.method == "POST":
        if request.POST.get("action") == "digest":
            if isinstance(request.user, AbstractBaseUser):  # signed in (login_required)
                services.set_daily_digest(request.user, request.POST.get("daily_digest") == "on")
            messages.success(request, _("Your notification settings are saved."))
        else:
            chosen = request.POST.get("kind", "")
            services.mark_read(request.user, kind=chosen if chosen in kinds else "")
        target = reverse("notification-list")
        return redirect(f"{target}?kind={kind}" if kind else target)
    unread_by_kind = {
        row["kind"]: row["n"]
        for row in mine.filter(read_at__isnull=True).values("kind").annotate(n=Count("pk"))
    }
    shown = mine.filter(kind=kind) if kind else mine
    page = Paginator(shown, 50).get_page(request.GET.get("page"))
    prefs = NotificationSettings.objects.filter(user_id=request.user.pk or 0).first()
    return render(
        request,
        "core/notification_list.html",
        {
            "page": page,
            "kind": kind,
            "kind_label": kinds.get(kind, ""),
            "kinds": [(k, label, unread_by_kind.get(k, 0)) for k, label in kinds.items()],
            "daily_digest": bool(prefs and prefs.daily_digest),
        },
    )


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    require(request.user, "audit.read")
    entries = AuditEntry.objects.visible_to(request.user)
    try:
        entries = filter_audit(entries, request.GET)
    except BadParameter as exc:
        messages.error(request, " ".join(exc.messages))
        entries = entries.none()
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "core/audit_list.html", {"page": page, "params": request.GET})
