"""The engagement report, as a PDF in English or Traditional Chinese: the engagement in
brief, its findings by severity (a bar chart and its table), their remediation status and
SLA compliance, and the findings themselves.

Everything is read through `Engagement.objects.visible_to` and
`selectors.engagement_findings` (which narrows `Finding.objects.visible_to`), so the agency
prints its own engagements, an authority those of its agencies, the CERT any. The chart is
a small SVG drawn here: findings sits below analytics, whose charts it may not import."""

import base64
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from bulwark.core import pdf as printing
from bulwark.core.permissions import Reader
from bulwark.findings import selectors
from bulwark.findings.models import (
    ACTIVE_STATUSES,
    SEVERITY_ORDER,
    Engagement,
    Finding,
    FindingStatus,
    Severity,
)

# Findings listed in the PDF, most severe first; the rest are counted only.
LISTED = 300
COLOURS = {
    "critical": "#7b1020",
    "high": "#c0392b",
    "medium": "#e08e0b",
    "low": "#2f7fb8",
    "info": "#8c8c8c",
}


@dataclass(frozen=True)
class SeverityRow:
    key: str
    label: str
    found: int
    active: int


def severity_rows(findings: QuerySet[Finding]) -> list[SeverityRow]:
    found = dict(findings.order_by().values_list("severity").annotate(n=Count("pk", distinct=True)))
    active = dict(
        findings.filter(status__in=ACTIVE_STATUSES)
        .order_by()
        .values_list("severity")
        .annotate(n=Count("pk", distinct=True))
    )
    labels = dict(Severity.choices)
    return [
        SeverityRow(s, str(labels[s]), found.get(s, 0), active.get(s, 0)) for s in SEVERITY_ORDER
    ]


def severity_chart(rows: list[SeverityRow]) -> str:
    """Horizontal bars (found, and still to remediate) per severity, as a data: URL."""
    width, label_w, bar_h, gap = 600, 130, 14, 12
    top = 26
    most = max((r.found for r in rows), default=0) or 1
    scale = (width - label_w - 60) / most
    height = top + len(rows) * (2 * bar_h + gap) + 4
    font = 'font-family="DejaVu Sans, Noto Sans CJK TC, sans-serif" font-size="11"'
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<rect x="{label_w}" y="6" width="12" height="10" fill="#9aa5b1"/>'
        f'<text x="{label_w + 16}" y="15" {font}>{escape(_("found"))}</text>',
        f'<rect x="{label_w + 120}" y="6" width="12" height="10" fill="#333"/>'
        f'<text x="{label_w + 136}" y="15" {font}>{escape(_("still to remediate"))}</text>',
    ]
    for i, row in enumerate(rows):
        y = top + i * (2 * bar_h + gap)
        colour = COLOURS.get(row.key, "#555")
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h + 4}" text-anchor="end" {font}>'
            f"{escape(row.label)}</text>"
        )
        for j, (n, fill, opacity) in enumerate(
            ((row.found, colour, "0.45"), (row.active, colour, "1"))
        ):
            w = max(n * scale, 0.5 if n else 0)
            yy = y + j * bar_h
            parts.append(
                f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{fill}" fill-opacity="{opacity}"/>'
                f'<text x="{label_w + w + 4:.1f}" y="{yy + bar_h - 4}" {font}>{n}</text>'
            )
    parts.append("</svg>")
    return "data:image/svg+xml;base64," + base64.b64encode("".join(parts).encode()).decode()


def context(engagement: Engagement, user: Reader, code: str) -> dict[str, Any]:
    findings = selectors.engagement_findings(engagement, user)
    with translation.override(code):
        board = selectors.dashboard(findings)
        rows = severity_rows(findings)
        statuses = dict(
            findings.order_by().values_list("status").annotate(n=Count("pk", distinct=True))
        )
        listed: list[Finding] = []
        for severity in SEVERITY_ORDER:  # most severe first, highest score first within
            if len(listed) >= LISTED:
                break
            listed += (
                findings.filter(severity=severity)
                .select_related("organisation")
                .order_by(F("cvss_score").desc(nulls_last=True), "pk")[: LISTED - len(listed)]
            )
        total = sum(r.found for r in rows)
        return {
            "lang": printing.LANGUAGE_LABELS[code],
            "font_families": printing.CJK_CSS_FAMILIES,
            "document_title": _("Engagement report: %(title)s") % {"title": engagement.title},
            "generated_at": timezone.localtime(),
            "engagement": engagement,
            "board": board,
            "severity_rows": rows,
            "chart": severity_chart(rows),
            "total": total,
            "statuses": [
                (str(label), statuses.get(value, 0)) for value, label in FindingStatus.choices
            ],
            "findings": listed,
            "more": max(0, total - len(listed)),
        }


def render(engagement: Engagement, user: Reader, lang: str) -> bytes:
    code = printing.language_code(lang)
    data = context(engagement, user, code)
    with translation.override(code):
        page = render_to_string("findings/engagement_pdf.html", data)
    return printing.print_html(page).pdf


@login_required
def engagement_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """`findings/engagements/<pk>/report.pdf?lang=en|zh-Hant` (default: the page's)."""
    engagement = get_object_or_404(
        Engagement.objects.visible_to(request.user).select_related("organisation", "lead"), pk=pk
    )
    lang = (request.GET.get("lang") or get_language() or "en")[:16]
    try:
        pdf = render(engagement, request.user, lang)
    except printing.BadPdfLanguage as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    label = printing.LANGUAGE_LABELS[printing.language_code(lang)]
    return printing.pdf_response(pdf, f"engagement-{engagement.pk}-{label}.pdf")
