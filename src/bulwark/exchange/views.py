"""Analyst pages: event search, event (re-route), notifications (contents, replies,
re-send), unrouted queue, quarantine (fix and replay), received reports (upload) and
statistics. Every read goes through `visible_to`; every write through a service."""

from typing import Any

import orjson
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.constituency.access import acting_user
from bulwark.constituency.models import Organisation
from bulwark.core.permissions import can
from bulwark.exchange import services
from bulwark.exchange.forms import (
    CountryNetworkForm,
    FeedForm,
    MappingForm,
    ReplayForm,
    RerouteForm,
    UploadForm,
)
from bulwark.exchange.models import (
    ColumnMapping,
    CountryNetwork,
    Event,
    EventNotice,
    Feed,
    Quarantined,
    Report,
)
from bulwark.exchange.presets import PRESETS
from bulwark.exchange.selectors import BadFilter, filter_events, statistics
from bulwark.incidents.taxonomy import TYPE_CHOICES


def _staff(request: HttpRequest) -> None:
    if not can(request.user, "exchange.manage"):
        raise Http404  # the pages of CERT staff do not exist for others


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
    notifications = EventNotice.objects.visible_to(request.user).select_related("recipient")
    if request.GET.get("status"):
        notifications = notifications.filter(status=request.GET["status"][:10])
    page = Paginator(notifications, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "exchange/notification_list.html",
        {
            "page": page,
            "params": request.GET,
            "statuses": EventNotice.Status.choices,
            "staff": can(request.user, "exchange.manage"),
        },
    )


@login_required
def notification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(
        EventNotice.objects.visible_to(request.user).select_related("recipient"), pk=pk
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
    notification = get_object_or_404(EventNotice.objects.visible_to(request.user), pk=pk)
    services.resend_notification(acting_user(request), notification)
    # Sent by the worker, not in this request: a slow mail server or TAXII peer does not
    # hold the page; its status on the page says when it has gone (or why not).
    messages.success(
        request, _("Queued to be sent again; its status below shows when it has gone.")
    )
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


def _add_errors(form: Any, exc: ValidationError) -> None:
    """A service's refusal, on the field it names (or the whole form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        for message in exc.messages:
            form.add_error(None, message)


@login_required
def feed_list(request: HttpRequest) -> HttpResponse:
    """The feeds pulled over HTTP on a schedule: add, change (?edit=ID), delete."""
    _staff(request)
    feeds = Feed.objects.visible_to(request.user)
    edit = request.GET.get("edit", "")
    editing = feeds.filter(pk=edit).first() if edit.isdigit() else None
    if request.method == "POST" and request.POST.get("delete", "").isdigit():
        feed = get_object_or_404(feeds, pk=request.POST["delete"])
        services.delete_feed(acting_user(request), feed)
        messages.success(request, _("Feed %(name)s deleted.") % {"name": feed.name})
        return redirect("exchange-feeds")
    initial = {name: getattr(editing, name) for name in services.FEED_FIELDS} if editing else None
    form = FeedForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            feed = services.save_feed(acting_user(request), editing, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Feed %(name)s saved.") % {"name": feed.name})
            return redirect("exchange-feeds")
    return render(
        request,
        "exchange/feed_list.html",
        {"form": form, "feeds": feeds.order_by("name"), "editing": editing},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def country_network_list(request: HttpRequest) -> HttpResponse:
    """Which country a prefix or AS is in (decides "abroad" for unclaimed addresses)."""
    _staff(request)
    networks = CountryNetwork.objects.visible_to(request.user)
    edit = request.GET.get("edit", "")
    editing = networks.filter(pk=edit).first() if edit.isdigit() else None
    if request.method == "POST" and request.POST.get("delete", "").isdigit():
        network = get_object_or_404(networks, pk=request.POST["delete"])
        services.delete_country_network(acting_user(request), network)
        messages.success(request, _("%(network)s deleted.") % {"network": network.value})
        return redirect("exchange-country-networks")
    initial = (
        {"kind": editing.kind, "value": editing.value, "country": editing.country}
        if editing
        else None
    )
    form = CountryNetworkForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            network = services.save_country_network(
                acting_user(request), editing, data["kind"], data["value"], data["country"]
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("%(network)s saved.") % {"network": str(network)})
            return redirect("exchange-country-networks")
    page = Paginator(networks.order_by("kind", "value"), 100).get_page(request.GET.get("page"))
    return render(
        request,
        "exchange/country_network_list.html",
        {"form": form, "page": page, "editing": editing},
        status=400 if request.method == "POST" else 200,
    )
