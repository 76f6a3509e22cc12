"""Drill pages: the CERT builds, launches and follows campaigns; agencies and
authorities read their results, file improvement plans and follow the compliance
calendar. The tracking endpoints at the end serve the drill mail's links (no sign-in)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from bulwark.constituency.access import acting_user, viewer_of
from bulwark.constituency.models import Organisation
from bulwark.constituency.views import run_service
from bulwark.core import csvexport
from bulwark.core.middleware import client_ip
from bulwark.core.permissions import can
from bulwark.drills import calendar, forms, selectors, services
from bulwark.drills.models import Campaign, DrillObligation, EventKind, Recipient

# A transparent 1x1 GIF.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def _run(request: HttpRequest) -> None:
    if not can(request.user, "drill.run"):
        raise PermissionDenied


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.campaigns(request.user, request.GET).annotate(
        agencies=Count("participants", distinct=True)
    )
    return render(
        request,
        "drills/campaign_list.html",
        {"campaigns": rows, "may_run": can(request.user, "drill.run"), "states": Campaign.State},
    )


@login_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    _run(request)
    form = forms.CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        campaign = run_service(
            form, lambda: services.create_campaign(acting_user(request), **form.service_fields())
        )
        if campaign is not None:
            messages.success(request, _("Campaign saved as a draft: add its recipients."))
            return redirect("drill-campaign", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "drills/campaign_form.html", {"form": form}, status=status)


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(selectors.campaigns(request.user), pk=pk)
    may_run = can(request.user, "drill.run", campaign)
    results = selectors.results(campaign, request.user, clickers=False)
    # Repeat clickers a page at a time (thousands at a million events), with their count.
    clickers = selectors.repeat_clickers(
        campaign, selectors.clicker_orgs(request.user, results.agencies)
    )
    context: dict[str, Any] = {
        "campaign": campaign,
        "results": results,
        "page": Paginator(clickers, 50).get_page(request.GET.get("page")),
        # Each agency's PDF link: the path up to the organisation, reversed once, not
        # twice per agency (a thousand reversals at 500 agencies).
        "report_prefix": reverse("drill-results-pdf", args=[campaign.pk, 0])[: -len("0.pdf")],
        "may_run": may_run,
        "recipient_count": selectors.recipients(campaign, request.user).count(),
        "pending": selectors.recipients(campaign, request.user)
        .filter(sent_at__isnull=True, bounced=False)
        .count(),
        "import_form": forms.RecipientsForm(),
        "participants": campaign.participants.select_related("organisation"),
    }
    return render(request, "drills/campaign_detail.html", context)


@login_required
@require_POST
def campaign_recipients(request: HttpRequest, pk: int) -> HttpResponse:
    _run(request)
    campaign = get_object_or_404(selectors.campaigns(request.user), pk=pk)
    user = acting_user(request)
    if "organisation" in request.POST:
        org = get_object_or_404(Organisation, pk=request.POST.get("organisation") or 0)
        try:
            added = services.add_staff(user, campaign, org)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("%(n)s staff added.") % {"n": added})
        return redirect("drill-campaign", pk=pk)
    form = forms.RecipientsForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(e) for e in errors))
        return redirect("drill-campaign", pk=pk)
    try:
        result = services.import_recipients(user, campaign, form.cleaned_data["file"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("drill-campaign", pk=pk)
    if result.errors:
        return render(
            request,
            "drills/import_errors.html",
            {"campaign": campaign, "errors": result.errors},
            status=400,
        )
    messages.success(request, _("%(n)s recipients imported.") % {"n": result.added})
    return redirect("drill-campaign", pk=pk)


ACTIONS = {
    "launch": services.launch,
    "pause": services.pause,
    "resume": services.resume,
    "stop": services.stop,
    "finish": services.finish,
}


@login_required
@require_POST
def campaign_action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    _run(request)
    campaign = get_object_or_404(selectors.campaigns(request.user), pk=pk)
    if verb not in ACTIONS:
        raise Http404
    try:
        done = ACTIONS[verb](acting_user(request), campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Campaign: %(state)s.") % {"state": done.get_state_display()})
    return redirect("drill-campaign", pk=pk)


@login_required
def campaign_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The results per agency the reader may see, as CSV."""
    campaign = get_object_or_404(selectors.campaigns(request.user), pk=pk)
    rows = selectors.agency_results(campaign, request.user)
    header = [
        _("Organisation"), _("Sector"), _("Authority"), _("Sent"), _("Opened"), _("Clicked"),
        _("Submitted"), _("Reported"), _("Reported before clicking"), _("Open rate %"),
        _("Click rate %"), _("Submit rate %"), _("Report rate %"), _("Automated events"),
        _("Passed"),
    ]  # fmt: skip
    body = [
        [
            r.name,
            r.sector,
            r.authority,
            r.sent,
            r.opened,
            r.clicked,
            r.submitted,
            r.reported,
            r.reported_first,
            r.open_rate,
            r.click_rate,
            r.submit_rate,
            r.report_rate,
            r.automated,
            "" if r.passed is None else (_("yes") if r.passed else _("no")),
        ]
        for r in rows
    ]
    return csvexport.response(f"drill-{campaign.pk}-results.csv", header, body)


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    return render(request, "drills/plan_list.html", {"plans": selectors.plans(request.user)})


@login_required
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(selectors.plans(request.user), pk=pk)
    user = acting_user(request)
    form = forms.PlanForm(request.POST or None, initial={"measures": plan.measures})
    close_form = forms.ClosePlanForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("do") == "close":
            if close_form.is_valid() and run_service(
                close_form,
                lambda: services.close_plan(user, plan, note=close_form.cleaned_data["note"]),
            ):
                messages.success(request, _("Improvement plan closed."))
                return redirect("drill-plan", pk=pk)
        elif form.is_valid() and run_service(
            form, lambda: services.file_plan(user, plan, measures=form.cleaned_data["measures"])
        ):
            messages.success(request, _("Improvement plan filed."))
            return redirect("drill-plan", pk=pk)
    return render(
        request,
        "drills/plan_detail.html",
        {
            "plan": plan,
            "form": form,
            "close_form": close_form,
            "may_file": can(request.user, "drill.plan", plan),
            "may_close": can(request.user, "drill.run", plan),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
def compliance(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        obligation = get_object_or_404(
            DrillObligation.objects.visible_to(request.user), pk=request.POST.get("obligation") or 0
        )
        form = forms.HeldForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError(_("Enter the dates as YYYY-MM-DD HH:MM."))
            services.record_held(
                acting_user(request), obligation, held_at=form.cleaned_data["held_at"],
                results_at=form.cleaned_data.get("results_at"),
            )  # fmt: skip
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, _("Drill recorded."))
        return redirect("drill-calendar")
    rows = selectors.compliance(request.user)
    counts = {s: sum(1 for r in rows if r.state == s) for s in
              (calendar.DUE, calendar.DONE, calendar.LATE, calendar.MISSING)}  # fmt: skip
    return render(
        request,
        "drills/compliance.html",
        {
            "rows": [(r, can(request.user, "drill.record", r.obligation)) for r in rows],
            "counts": counts,
            "held_form": forms.HeldForm(),
        },
    )


@login_required
def notice_list(request: HttpRequest) -> HttpResponse:
    """Incident-response drills: the CERT or an authority sends a notice; the score of
    each is the statutory clocks its drill incident met."""
    form = forms.NoticeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        notice = run_service(
            form,
            lambda: services.send_notice(
                acting_user(request),
                data["organisation"],
                scenario=data["scenario"],
                rsit_class=data["rsit_class"],
                rsit_type=data["rsit_type"],
            ),
        )
        if notice is not None:
            messages.success(request, _("Drill notice sent."))
            return redirect("drill-notice", pk=notice.pk)
    rows = [selectors.score(n) for n in selectors.notices(request.user)]
    return render(
        request,
        "drills/notice_list.html",
        {
            "rows": rows,
            "form": form,
            "may_notify": viewer_of(request.user).sees_everything
            or bool(viewer_of(request.user).supervised_org_ids),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(selectors.notices(request.user), pk=pk)
    form = forms.DrillReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        incident = run_service(
            form,
            lambda: services.report_drill(
                acting_user(request),
                notice,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
            ),
        )
        if incident is not None:
            messages.success(request, _("Drill incident reported."))
            return redirect("incident-detail", pk=incident.pk)
    return render(
        request,
        "drills/notice_detail.html",
        {
            "notice": notice,
            "score": selectors.score(notice),
            "form": form,
            "may_respond": can(request.user, "drill.respond", notice),
        },
        status=400 if request.method == "POST" else 200,
    )


# --- tracking endpoints (the drill mail's links; no sign-in) -----------------------------


def _record(request: HttpRequest, token: str, kind: str) -> services.Tracked | None:
    return services.record_hit(
        token, kind, method=request.method or "GET", ip=client_ip(request) or "",
        agent=request.headers.get("User-Agent", ""),
    )  # fmt: skip


def _hit(request: HttpRequest, token: str, kind: str) -> services.Tracked:
    tracked = _record(request, token, kind)
    if tracked is None:
        raise Http404
    return tracked


def _pixel() -> HttpResponse:
    reply = HttpResponse(PIXEL, content_type="image/gif")
    add_never_cache_headers(reply)
    return reply


ENDPOINTS = {
    "open.gif": EventKind.OPENED,
    "a.gif": EventKind.ATTACHMENT,
    "seen.gif": EventKind.PAGE,  # the landing page's image: only a browser that rendered it
    "go": EventKind.CLICKED,
}


def track(request: HttpRequest, token: str, endpoint: str) -> HttpResponse | None:
    """A GET or HEAD of a tracking link (called by `drills.middleware` before the session
    and authentication middleware, and by the views below): the event is recorded and
    committed before the answer; None for a token that is unknown or of a draft."""
    if _record(request, token, ENDPOINTS[endpoint]) is None:
        return None
    if endpoint == "go":
        reply: HttpResponse = HttpResponseRedirect(f"/d/{token}/")
        add_never_cache_headers(reply)
    else:
        reply = _pixel()
    reply["X-Frame-Options"] = "DENY"  # as XFrameOptionsMiddleware, which it skips
    reply["Content-Length"] = str(len(reply.content))  # as CommonMiddleware: no chunking
    return reply


def _tracked(endpoint: str) -> Any:
    @never_cache
    @require_http_methods(["GET", "HEAD"])
    def view(request: HttpRequest, token: str) -> HttpResponse:
        reply = track(request, token, endpoint)
        if reply is None:
            raise Http404
        return reply

    return view


track_open = _tracked("open.gif")
track_attachment = _tracked("a.gif")
track_page = _tracked("seen.gif")
track_click = _tracked("go")


def _recipient(token: str) -> Recipient:
    recipient: Recipient | None = (
        Recipient.objects.select_related("campaign")
        .exclude(campaign__state=Campaign.State.DRAFT)
        .filter(token=token)
        .first()
    )
    if recipient is None:
        raise Http404
    return recipient


@never_cache
@require_http_methods(["GET", "HEAD"])
def landing(request: HttpRequest, token: str) -> HttpResponse:
    """The page a click leads to: the campaign's text and a sign-in form whose fields
    have no names, so a browser sends nothing typed into them."""
    recipient = _recipient(token)
    chinese = recipient.language == Recipient.Language.ZH_HANT
    campaign = recipient.campaign
    with translation.override("zh-hant" if chinese else "en"):
        return render(
            request,
            "drills/landing.html",
            {
                "text": campaign.landing_zh_hant if chinese else campaign.landing_en,
                "token": token,
                "lang": "zh-Hant" if chinese else "en",
            },
        )


@csrf_exempt  # the landing page is on the tracking domain; the submit changes nothing but a flag
@never_cache
@require_POST
def track_submit(request: HttpRequest, token: str) -> HttpResponse:
    """A submit of the landing page's form: recorded as a flag. The request body is
    never read (not even parsed), so nothing typed can be kept."""
    tracked = _hit(request, token, EventKind.SUBMITTED)
    chinese = tracked.recipient.language == Recipient.Language.ZH_HANT
    with translation.override("zh-hant" if chinese else "en"):
        return render(request, "drills/caught.html", {"lang": "zh-Hant" if chinese else "en"})
