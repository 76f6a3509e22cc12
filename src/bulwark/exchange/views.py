"""Analyst pages: event search, event (re-route), notifications (contents, replies,
re-send), unrouted queue, quarantine (fix and replay), received reports (upload) and
statistics. Every read goes through `visible_to`; every write through a service."""

from typing import Any

import orjson
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from bulwark.constituency.access import acting_user
from bulwark.constituency.models import Organisation
from bulwark.core.permissions import can
from bulwark.exchange import notify, services
from bulwark.exchange.engine.formats import FORMATS
from bulwark.exchange.models import ColumnMapping, Event, Notification, Quarantined, Report
from bulwark.exchange.presets import PRESETS
from bulwark.exchange.selectors import BadFilter, filter_events, statistics
from bulwark.incidents.taxonomy import TYPE_CHOICES


def _staff(request: HttpRequest) -> None:
    if not can(request.user, "exchange.manage"):
        raise Http404  # the pages of CERT staff do not exist for others


class RerouteForm(forms.Form):
    recipient = forms.ModelChoiceField(
        queryset=Organisation.objects.none(),
        required=False,
        label=gettext_lazy("New recipient"),
        empty_label=gettext_lazy("(unrouted queue)"),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=120)

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].queryset = Organisation.objects.visible_to(user).filter(  # type: ignore[attr-defined]
            is_active=True
        )


class ReplayForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("Corrected text"), widget=forms.Textarea)


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Report file"))
    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        required=False,
        choices=[("", gettext_lazy("detect")), *[(f, f) for f in FORMATS]],
    )
    feed = forms.CharField(label=gettext_lazy("Feed"), required=False, max_length=100)


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    events: QuerySet[Event] = Event.objects.visible_to(request.user).select_related("recipient")
    error = ""
    try:
        events = filter_events(events, request.GET)
    except BadFilter as exc:
        error = str(exc)
        events = events.none()
    page = Paginator(events.order_by("-id"), 50).get_page(request.GET.get("page"))
    staff = can(request.user, "exchange.manage")
    return render(
        request,
        "exchange/event_list.html",
        {
            "page": page,
            "params": request.GET,
            "error": error,
            "types": TYPE_CHOICES,
            "staff": staff,
            "recipients": Organisation.objects.visible_to(request.user)
            .filter(exchange_events__isnull=False)
            .distinct()
            if staff
            else [],
            "unrouted": request.GET.get("recipient") == "unrouted",
        },
    )


@login_required
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(
        Event.objects.visible_to(request.user).select_related("recipient", "report"), pk=pk
    )
    staff = can(request.user, "exchange.manage")
    form = RerouteForm(request.POST or None, user=request.user) if staff else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            services.reroute(
                acting_user(request), event, form.cleaned_data["recipient"],
                form.cleaned_data["reason"],
            )  # fmt: skip
            messages.success(request, _("The event was re-routed."))
            return redirect("exchange-event", pk=pk)
    fields = sorted(event.fields.items())
    return render(
        request,
        "exchange/event_detail.html",
        {"event": event, "fields": fields, "form": form, "staff": staff},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = Notification.objects.visible_to(request.user).select_related("recipient")
    if request.GET.get("status"):
        notifications = notifications.filter(status=request.GET["status"][:10])
    page = Paginator(notifications, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "exchange/notification_list.html",
        {
            "page": page,
            "params": request.GET,
            "statuses": Notification.Status.choices,
            "staff": can(request.user, "exchange.manage"),
        },
    )


@login_required
def notification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(
        Notification.objects.visible_to(request.user).select_related("recipient"), pk=pk
    )
    events = Event.objects.visible_to(request.user).filter(notification=notification)
    page = Paginator(events.order_by("id"), 100).get_page(request.GET.get("page"))
    return render(
        request,
        "exchange/notification_detail.html",
        {
            "notification": notification,
            "page": page,
            "replies": notification.replies.all(),
            "staff": can(request.user, "exchange.manage"),
        },
    )


@login_required
@require_POST
def notification_resend(request: HttpRequest, pk: int) -> HttpResponse:
    _staff(request)
    notification = get_object_or_404(Notification.objects.visible_to(request.user), pk=pk)
    notify.resend(acting_user(request), notification)
    notify.deliver(notification)
    notification.refresh_from_db()
    if notification.status == Notification.Status.SENT:
        messages.success(request, _("Sent again to %(to)s.") % {"to": notification.address})
    else:
        messages.error(request, _("Not sent: %(error)s") % {"error": notification.last_error})
    return redirect("exchange-notification", pk=pk)


@login_required
def quarantine_list(request: HttpRequest) -> HttpResponse:
    _staff(request)
    items = Quarantined.objects.visible_to(request.user).select_related("report")
    status = request.GET.get("status", "open")
    if status:
        items = items.filter(status=status[:10])
    page = Paginator(items.order_by("-id"), 50).get_page(request.GET.get("page"))
    return render(request, "exchange/quarantine_list.html", {"page": page, "status": status})


@login_required
def quarantine_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _staff(request)
    item = get_object_or_404(
        Quarantined.objects.visible_to(request.user).select_related("report"), pk=pk
    )
    form = ReplayForm(request.POST or None, initial={"text": item.raw})
    if request.method == "POST":
        if request.POST.get("discard"):
            services.discard(acting_user(request), item)
            messages.success(request, _("Discarded."))
            return redirect("exchange-quarantine")
        if form.is_valid():
            try:
                services.replay(acting_user(request), item, form.cleaned_data["text"])
            except ValidationError as exc:
                form.add_error("text", exc)
            else:
                messages.success(request, _("Replayed: the record is an event now."))
                return redirect("exchange-quarantine")
    return render(
        request,
        "exchange/quarantine_detail.html",
        {"item": item, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    _staff(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        result = services.ingest(
            acting_user(request), upload, file_name=upload.name,
            fmt=form.cleaned_data["format"], feed=form.cleaned_data["feed"],
            source=Report.Source.UPLOAD,
        )  # fmt: skip
        return redirect("exchange-report", pk=result.report.pk)
    reports = Report.objects.visible_to(request.user)
    page = Paginator(reports, 50).get_page(request.GET.get("page"))
    return render(request, "exchange/report_list.html", {"page": page, "form": form})


@login_required
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _staff(request)
    report = get_object_or_404(Report.objects.visible_to(request.user), pk=pk)
    return render(
        request,
        "exchange/report_detail.html",
        {"report": report, "quarantined": report.quarantined.all()[:200]},
    )


@login_required
def statistics_view(request: HttpRequest) -> HttpResponse:
    events: QuerySet[Event] = Event.objects.visible_to(request.user)
    try:
        events = filter_events(events, request.GET)
    except BadFilter:
        events = events.none()
    return render(
        request,
        "exchange/statistics.html",
        {
            "stats": statistics(events),
            "total": events.count(),
            "params": request.GET,
            "staff": can(request.user, "exchange.manage"),
        },
    )


class MappingForm(forms.Form):
    name = forms.SlugField(label=gettext_lazy("Name"), max_length=100)
    format = forms.ChoiceField(
        label=gettext_lazy("Format"), choices=[("csv", "CSV"), ("json", "JSON")], initial="csv"
    )
    mapping = forms.CharField(
        label=gettext_lazy("Mapping (JSON)"),
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "columns: IntelMQ field -> column name (or number without a header line); "
            "constants: field -> value; delimiter; header, comment, strip."
        ),
    )
    sample = forms.CharField(
        label=gettext_lazy("Sample (a few lines of the feed)"),
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        required=False,
    )

    def clean_mapping(self) -> dict[str, Any]:
        try:
            value = orjson.loads(self.cleaned_data["mapping"])
        except orjson.JSONDecodeError as exc:
            raise ValidationError(_("Not JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(value, dict):
            raise ValidationError(_("A mapping is a JSON object."))
        return dict(value)


@login_required
def mapping_list(request: HttpRequest) -> HttpResponse:
    """Saved column mappings and the shipped presets; create, preview on a sample, save."""
    _staff(request)
    preset = PRESETS.get(request.GET.get("preset", ""))
    editing = (
        ColumnMapping.objects.visible_to(request.user)
        .filter(name=request.GET.get("edit", ""))
        .first()
    )
    initial: dict[str, Any] = {"format": "csv"}
    if preset:
        initial.update(
            name=request.GET["preset"],
            format=preset["format"],
            mapping=orjson.dumps(preset["mapping"], option=orjson.OPT_INDENT_2).decode(),
        )
    elif editing:
        initial.update(
            name=editing.name,
            mapping=orjson.dumps(editing.as_options(), option=orjson.OPT_INDENT_2).decode(),
        )
    form = MappingForm(request.POST or None, initial=initial)
    preview: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if request.POST.get("save"):
                services.save_mapping(acting_user(request), data["name"], data["mapping"])
                messages.success(request, _("Mapping %(name)s saved.") % {"name": data["name"]})
                return redirect("exchange-mappings")
            preview = services.preview_mapping(
                acting_user(request), data["mapping"], data["sample"].encode(), data["format"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
    mappings = ColumnMapping.objects.visible_to(request.user).order_by("name")
    return render(
        request,
        "exchange/mapping_list.html",
        {"form": form, "mappings": mappings, "presets": PRESETS, "preview": preview},
    )
