"""One agency's results report of a campaign, as a PDF in English or Traditional Chinese:
the campaign in brief, the agency's human rates against the campaign's thresholds with
pass or fail, repeat clickers, time to first report, the comparison with the previous
campaign and the improvement plan's status.

The rows come from the same selectors as the results page (`selectors.agency_results`,
which narrows to the organisations the reader manages), so the agency downloads its own
report, an authority those of its agencies, the CERT any; anyone else gets a 404."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from bulwark.core import pdf as printing
from bulwark.core.permissions import Reader
from bulwark.drills import selectors
from bulwark.drills.models import Campaign


def duration(value: timedelta | None) -> str:
    """ "2 h 05 min", "3 d 4 h", or "—" (no report)."""
    if value is None:
        return "—"
    minutes = max(0, int(value.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)s d %(h)s h") % {"d": days, "h": hours}
    return _("%(h)s h %(m)02d min") % {"h": hours, "m": mins}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


@dataclass(frozen=True)
class RateLine:
    label: str
    value: str
    target: str
    verdict: str  # "pass", "fail" or ""
    previous: str
    change: str


def _change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "—"
    return f"{now - before:+.1f}"


def _line(
    label: str, now: float | None, before: float | None, target: Decimal | None = None
) -> RateLine:
    verdict = ""
    if target is not None and now is not None:
        verdict = "pass" if Decimal(str(now)) < target else "fail"
    return RateLine(
        label,
        _pct(now),
        "—" if target is None else f"< {target} %",
        verdict,
        _pct(before),
        _change(now, before),
    )


def context(campaign: Campaign, organisation_id: int, user: Reader, code: str) -> dict[str, Any]:
    """What the template shows; Http404 when the reader may not see this agency's row."""
    rows = [
        r for r in selectors.agency_results(campaign, user) if r.organisation_id == organisation_id
    ]
    if not rows:
        raise Http404
    row = rows[0]
    prev = row.previous
    with translation.override(code):
        lines = [
            _line(
                _("Open rate"),
                row.open_rate,
                None if prev is None else prev.open_rate,
                campaign.open_threshold,
            ),
            _line(
                _("Click rate"),
                row.click_rate,
                None if prev is None else prev.click_rate,
                campaign.click_threshold,
            ),
            _line(_("Submit rate"), row.submit_rate, None if prev is None else prev.submit_rate),
            _line(_("Report rate"), row.report_rate, None if prev is None else prev.report_rate),
        ]
        if row.passed is None:
            result = _("No message was delivered: no result.")
        elif row.passed:
            result = _("Passed: both rates are under the campaign's targets.")
        else:
            result = _("Failed: a rate is at or above the campaign's target.")
        plan = row.plan
        return {
            "lang": printing.LANGUAGE_LABELS[code],
            "font_families": printing.CJK_CSS_FAMILIES,
            "document_title": _("Drill results: %(agency)s") % {"agency": row.name},
            "generated_at": timezone.localtime(),
            "campaign": campaign,
            "row": row,
            "lines": lines,
            "result": result,
            "passed": row.passed,
            "repeat_clickers": len(selectors.repeat_clickers(campaign, {organisation_id})),
            "first_report": duration(row.first_report_after),
            "previous_campaign": campaign.previous if prev is not None else None,
            "plan": plan,
            "plan_state": plan.get_state_display() if plan is not None else "",
        }


def render(campaign: Campaign, organisation_id: int, user: Reader, lang: str) -> bytes:
    code = printing.language_code(lang)
    data = context(campaign, organisation_id, user, code)
    with translation.override(code):
        page = render_to_string("drills/results_pdf.html", data)
    return printing.print_html(page).pdf


@login_required
def results_pdf(request: HttpRequest, pk: int, organisation: int) -> HttpResponse:
    """`drills/<pk>/report/<organisation>.pdf?lang=en|zh-Hant` (default: the page's)."""
    campaign = get_object_or_404(selectors.campaigns(request.user), pk=pk)
    lang = (request.GET.get("lang") or get_language() or "en")[:16]
    try:
        pdf = render(campaign, organisation, request.user, lang)
    except printing.BadPdfLanguage as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    label = printing.LANGUAGE_LABELS[printing.language_code(lang)]
    return printing.pdf_response(pdf, f"drill-{campaign.pk}-agency-{organisation}-{label}.pdf")
