"""Annual report pages: the report as the signed-in user sees the data (HTML or PDF), and
the CERT's editor for the report's narrative sections."""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.analytics import report, services
from bulwark.analytics.models import SECTIONS, ReportJob, TextBlock
from bulwark.constituency.access import acting_user
from bulwark.constituency.views import run_service
from bulwark.core.permissions import can

# The standalone report inlines its CSS and SVG and needs nothing else.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


class BadRequest(Exception):
    pass


def _year_and_language(request: HttpRequest) -> tuple[int, str]:
    """`year` (default: last year) and `lang` (default: the page's language)."""
    raw_year = request.GET.get("year") or str(timezone.localdate().year - 1)
    lang = request.GET.get("lang") or get_language() or "en"
    try:
        year = report.report_period(raw_year[:8]).first.year
        return year, report.language_code(lang[:16])
    except report.BadReportRequest as exc:
        raise BadRequest(str(exc)) from None


def _refused(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


@login_required
def annual_report(request: HttpRequest) -> HttpResponse:
    """`?year=2025&lang=en|zh-Hant&format=html|pdf`: counted as the signed-in user sees it."""
    try:
        year, code = _year_and_language(request)
    except BadRequest as exc:
        return _refused(str(exc))
    fmt = request.GET.get("format") or "html"
    if fmt not in ("html", "pdf"):
        return _refused(_("Format must be html or pdf."))
    page = report.render_html(request.user, year, code, print_=fmt == "pdf")
    if fmt == "pdf":
        pdf, _pages = report.pdf_from_html(page)
        response = HttpResponse(pdf, content_type="application/pdf")
        name = report.file_name(year, code, "pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        response = HttpResponse(page, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = REPORT_CSP
    response["Cache-Control"] = "private, no-store"  # counted for this user only
    return response


@login_required
@require_POST
def annual_report_job(request: HttpRequest) -> HttpResponse:
    """Ask for the PDF: a job the worker runs; its page shows the progress."""
    try:
        year = report.report_period(request.POST.get("year", "")[:8]).first.year
        code = report.language_code(request.POST.get("lang", "")[:16] or get_language())
    except report.BadReportRequest as exc:
        return _refused(str(exc))
    job = services.request_annual_report(acting_user(request), year, code)
    return redirect("stats-annual-report-job", uuid=job.uuid)


POLL_SECONDS = 2


@login_required
def annual_report_job_status(request: HttpRequest, uuid: str) -> HttpResponse:
    """The job's page: reloads itself every 2 s (a refresh header: no script) until the PDF
    is ready or the job failed."""
    job = get_object_or_404(ReportJob.objects.visible_to(request.user).defer("pdf"), uuid=uuid)
    waiting = job.status in (ReportJob.Status.QUEUED, ReportJob.Status.RUNNING)
    since = job.started_at or job.created_at
    response = render(
        request,
        "analytics/report_job.html",
        {
            "job": job,
            "waiting": waiting,
            "elapsed": round(((job.finished_at or timezone.now()) - since).total_seconds()),
            "lang_label": job.get_language_display(),
        },
    )
    if waiting:
        response["Refresh"] = str(POLL_SECONDS)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def annual_report_job_pdf(request: HttpRequest, uuid: str) -> HttpResponse:
    job = get_object_or_404(
        ReportJob.objects.visible_to(request.user), uuid=uuid, status=ReportJob.Status.DONE
    )
    response = HttpResponse(bytes(job.pdf), content_type="application/pdf")
    name = report.file_name(job.year, job.language, "pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


class TextBlocksForm(forms.Form):
    """One Markdown textarea per narrative section."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, title in SECTIONS:
            self.fields[key] = forms.CharField(
                label=title,
                required=False,
                max_length=report.BODY_MAX,
                widget=forms.Textarea(attrs={"rows": 8, "cols": 100}),
                help_text=gettext_lazy("Markdown; at most %(max)s characters.")
                % {"max": report.BODY_MAX},
            )


REPORT_LANGUAGES = (("en", "English"), ("zh-Hant", "繁體中文"))


@login_required
def report_texts(request: HttpRequest) -> HttpResponse:
    """The year's narrative sections in one language (CERT staff only)."""
    if not can(request.user, "analytics.write_report"):
        raise PermissionDenied
    try:
        year, code = _year_and_language(request)
    except BadRequest as exc:
        return _refused(str(exc))
    blocks = {
        b.section: b
        for b in TextBlock.objects.visible_to(request.user)
        .filter(year=year, language=code)
        .select_related("updated_by")
    }
    initial = {key: block.body for key, block in blocks.items()}
    form = TextBlocksForm(request.POST or None, initial=initial)
    lang = report.LANGUAGE_LABELS[code]
    query = urlencode({"year": str(year), "lang": lang})
    if request.method == "POST" and form.is_valid():
        saved = run_service(
            form,
            lambda: services.save_report_texts(acting_user(request), year, code, form.cleaned_data),
        )
        if saved is not None:
            messages.success(
                request,
                _("Report texts for %(year)s (%(lang)s) saved.") % {"year": year, "lang": lang},
            )
            return redirect(f"{reverse('stats-report-texts')}?{query}")
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "year": year,
        "lang": lang,
        "report_languages": REPORT_LANGUAGES,
        "query": query,
        "blocks": [blocks[key] for key, _title in SECTIONS if key in blocks],
    }
    return render(request, "analytics/textblock_form.html", context, status=status)
