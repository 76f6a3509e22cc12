"""Advisory pages: the CERT writes, approves, sends and tracks; agencies read, acknowledge
and report their action in their inbox; organisation admins keep their inventory."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.advisories import forms, selectors, services
from bulwark.advisories.models import (
    Advisory,
    Attachment,
    InventoryItem,
    Revision,
    Status,
    Target,
)
from bulwark.advisories.rendering import markdown_to_html
from bulwark.constituency.access import acting_user, viewer_of
from bulwark.constituency.models import Organisation
from bulwark.constituency.views import run_service
from bulwark.core.permissions import can


def _cert(request: HttpRequest) -> None:
    if not can(request.user, "advisory.write"):
        raise PermissionDenied


@login_required
def advisory_list(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request.user)
    if viewer.sees_everything:
        advisories = selectors.filter_advisories(
            Advisory.objects.visible_to(request.user), request.GET
        ).select_related("category")
        listing = Paginator(advisories, 50).get_page(request.GET.get("page"))
        return render(
            request,
            "advisories/advisory_list.html",
            {
                "page": listing,
                "params": request.GET,
                "statuses": Status.choices,
                "can_write": can(request.user, "advisory.write"),
            },
        )
    targets = (
        Target.objects.visible_to(request.user)
        .select_related("advisory__category", "organisation")
        .order_by("-advisory__sent_at")
    )
    page = Paginator(targets, 50).get_page(request.GET.get("page"))
    rows = [(t, t.state()) for t in page]
    return render(request, "advisories/inbox.html", {"page": page, "rows": rows})


@login_required
def advisory_create(request: HttpRequest) -> HttpResponse:
    _cert(request)
    form = forms.AdvisoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        advisory = run_service(
            form, lambda: services.create_advisory(acting_user(request), **form.service_fields())
        )
        if advisory is not None:
            messages.success(request, _("Draft %(ref)s saved.") % {"ref": advisory.reference})
            return redirect("advisory-detail", pk=advisory.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "advisories/advisory_form.html", {"form": form}, status=status)


@login_required
def advisory_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _cert(request)
    advisory = get_object_or_404(Advisory.objects.visible_to(request.user), pk=pk)
    form = forms.AdvisoryForm(
        request.POST or None, initial=forms.AdvisoryForm.initial_from(advisory)
    )
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        if advisory.status == Status.SENT:
            for field in services.TARGET_FIELDS:
                fields.pop(field)
        done = run_service(
            form,
            lambda: services.update_advisory(
                acting_user(request), advisory, note=form.cleaned_data["note"], **fields
            ),
        )
        if done is not None:
            text = (
                _("Revision proposed: a second CERT member must approve it.")
                if advisory.status == Status.SENT
                else _("Advisory %(ref)s saved.") % {"ref": advisory.reference}
            )
            messages.success(request, text)
            return redirect("advisory-detail", pk=advisory.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "advisories/advisory_form.html",
        {"form": form, "advisory": advisory},
        status=status,
    )


@login_required
def advisory_detail(request: HttpRequest, pk: int) -> HttpResponse:
    advisory = get_object_or_404(
        Advisory.objects.visible_to(request.user).select_related(
            "category", "author", "approved_by", "sent_by"
        ),
        pk=pk,
    )
    viewer = viewer_of(request.user)
    user = acting_user(request)
    my_targets = list(
        Target.objects.visible_to(request.user)
        .filter(advisory=advisory, organisation_id__in=viewer.own_org_ids)
        .select_related("organisation")
    )
    for target in my_targets:
        services.mark_read(user, target)
    language = get_language() or "en"
    context = {
        "advisory": advisory,
        "title": advisory.localised("title", language),
        "summary": advisory.localised("summary", language),
        "body_html": markdown_to_html(advisory.localised("body", language)),
        "actions_html": markdown_to_html(advisory.localised("recommended_actions", language)),
        "revisions": advisory.revisions.published().select_related("author", "approved_by"),
        "pending_revisions": (
            advisory.revisions.pending().select_related("author")
            if can(user, "advisory.write", advisory)
            else []
        ),
        "attachments": advisory.attachments.defer("data"),
        "my_targets": [(t, t.state()) for t in my_targets],
        "response_form": forms.ResponseForm(),
        "reject_form": forms.RejectForm(),
        "attachment_form": forms.AttachmentForm(),
        "cert": can(user, "advisory.write", advisory),
        "is_author": advisory.author_id == user.pk,
        "Status": Status,
        **selectors.detail_panels(user, advisory),
    }
    return render(request, "advisories/advisory_detail.html", context)


@login_required
def advisory_preview(request: HttpRequest, pk: int) -> HttpResponse:
    _cert(request)
    advisory = get_object_or_404(Advisory.objects.visible_to(request.user), pk=pk)
    recipients = services.preview(advisory)
    return render(
        request,
        "advisories/preview.html",
        {"advisory": advisory, "recipients": recipients},
    )


# What each four-eyes step did, in words (it was "Done: submit.").
ACTION_DONE = {
    "submit": gettext_lazy(
        "%(ref)s is submitted: the other CERT analysts and duty officers are asked to approve it."
    ),
    "approve": gettext_lazy("%(ref)s is approved: it can now be sent."),
    "reject": gettext_lazy("%(ref)s is sent back to its author as a draft."),
    "send": gettext_lazy("%(ref)s is sent: recipients are notified and e-mailed."),
    "remind": gettext_lazy("A reminder about %(ref)s goes to those who have not answered."),
    "approve-revision": gettext_lazy("The revision of %(ref)s is approved and sent out."),
    "reject-revision": gettext_lazy("The revision of %(ref)s is rejected; the advisory stays."),
}


@login_required
@require_POST
def advisory_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    _cert(request)
    advisory = get_object_or_404(Advisory.objects.visible_to(request.user), pk=pk)
    user = acting_user(request)
    calls: dict[str, Callable[[], object]] = {
        "submit": lambda: services.submit(user, advisory),
        "approve": lambda: services.approve(user, advisory),
        "reject": lambda: services.reject(user, advisory, reason=request.POST.get("reason", "")),
        "send": lambda: services.send(user, advisory),
        "remind": lambda: services.remind(user, advisory),
        "approve-revision": lambda: services.approve_revision(user, _pending(advisory)),
        "reject-revision": lambda: services.reject_revision(user, _pending(advisory)),
    }
    if action not in calls:
        raise Http404
    try:
        calls[action]()
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(getattr(exc, "messages", [str(exc)]))
        messages.error(request, text)
    else:
        messages.success(request, ACTION_DONE[action] % {"ref": advisory.reference})
    if action == "remind":
        return redirect("advisory-tracking", pk=advisory.pk)
    return redirect("advisory-detail", pk=advisory.pk)


def _pending(advisory: Advisory) -> Revision:
    revision = advisory.revisions.pending().first()
    if revision is None:
        raise ValidationError(_("No revision awaits approval."))
    return revision


@login_required
@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    _cert(request)
    advisory = get_object_or_404(Advisory.objects.visible_to(request.user), pk=pk)
    form = forms.AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        done = run_service(
            form,
            lambda: services.add_attachment(
                acting_user(request),
                advisory,
                name=upload.name,
                content_type=upload.content_type or "",
                data=upload.read(),
            ),
        )
        if done is not None:
            messages.success(request, _("Attachment added."))
            return redirect("advisory-detail", pk=advisory.pk)
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))
    return redirect("advisory-detail", pk=advisory.pk)


@login_required
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    advisory = get_object_or_404(Advisory.objects.visible_to(request.user), pk=pk)
    attachment = get_object_or_404(Attachment, advisory=advisory, pk=attachment_pk)
    response = HttpResponse(bytes(attachment.data), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{attachment.name}"'
    return response


@login_required
def advisory_tracking(request: HttpRequest, pk: int) -> HttpResponse:
    _cert(request)
    advisory = get_object_or_404(Advisory.objects.visible_to(request.user), pk=pk)
    now = timezone.now()
    counts = selectors.tracking_counts(advisory, now)
    state = request.GET.get("state", "")
    targets = selectors.targets_in_state(advisory, state, now).select_related("organisation")
    page = Paginator(targets.order_by("organisation__name"), 100).get_page(request.GET.get("page"))
    deliveries = selectors.delivery_counts(advisory)
    for target in page:
        target.advisory = advisory  # already loaded: avoid one query per row
    rows = [(t, t.state(now)) for t in page]
    return render(
        request,
        "advisories/tracking.html",
        {
            "advisory": advisory,
            "counts": counts,
            "page": page,
            "rows": rows,
            "state": state,
            "deliveries": deliveries,
            "params": request.GET,
        },
    )


@login_required
@require_POST
def target_respond(request: HttpRequest, pk: int, target_pk: int) -> HttpResponse:
    """Agency: acknowledge receipt, or report the action taken (HTMX swaps the panel)."""
    target = get_object_or_404(
        Target.objects.visible_to(request.user).select_related("advisory", "organisation"),
        pk=target_pk,
        advisory_id=pk,
    )
    user = acting_user(request)
    form = forms.ResponseForm(request.POST if "action" in request.POST else None)
    status = 200
    try:
        if "action" in request.POST:
            if form.is_valid():
                target = services.report_action(
                    user, target, action=form.cleaned_data["action"], note=form.cleaned_data["note"]
                )
                form = forms.ResponseForm()
            else:
                status = 400
        else:
            target = services.acknowledge(user, target)
    except ValidationError as exc:
        form = forms.ResponseForm(request.POST)
        form.is_valid()
        form.add_error(None, exc)
        status = 400
    context = {"target": target, "state": target.state(), "response_form": form}
    if request.headers.get("HX-Request"):
        return render(request, "advisories/_response.html", context, status=status)
    if status == 200:
        messages.success(request, _("Thank you: your answer is recorded."))
    return redirect("advisory-detail", pk=pk)


@login_required
def inventory(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request.user)
    administered = [o for o in viewer.own_org_ids if viewer.administers(o)]
    if viewer.platform_admin:
        organisations = Organisation.objects.all()
    else:
        organisations = Organisation.objects.filter(pk__in=administered)
    form = forms.InventoryForm(request.POST or None, organisations=organisations)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            org = data.pop("organisation")
            item = run_service(
                form, lambda: services.add_inventory_item(acting_user(request), org, **data)
            )
            if item is not None:
                messages.success(request, _("Added %(item)s.") % {"item": item})
                return redirect("advisory-inventory")
        status = 400
    items = (
        InventoryItem.objects.visible_to(request.user)
        .select_related("organisation")
        .order_by("organisation__name", "vendor", "product")
    )
    page = Paginator(items, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "advisories/inventory.html",
        {
            "form": form,
            "page": page,
            "can_edit": organisations.exists(),
        },
        status=status,
    )


@login_required
@require_POST
def inventory_remove(request: HttpRequest, item_pk: int) -> HttpResponse:
    item = get_object_or_404(InventoryItem.objects.visible_to(request.user), pk=item_pk)
    try:
        services.remove_inventory_item(acting_user(request), item)
    except PermissionDenied:
        messages.error(request, _("Only the organisation's admins manage its inventory."))
    return redirect("advisory-inventory")
