"""The annual report: the source report's structure (title page, highlights, about us,
activities with the five statistics figures and statutory timeliness, events,
international collaboration, future plans) as one standalone HTML page, or as an A4 PDF
printed from it by WeasyPrint.

Figures are counted as the given user sees the data (the figures module takes the user);
the narrative comes from the year's text blocks, Markdown rendered by the one safe
renderer."""

import base64
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy

from bulwark.advisories.rendering import markdown_to_html
from bulwark.analytics import charts, figures, periods, report_activities
from bulwark.analytics.figure_table import Figure
from bulwark.analytics.models import SECTIONS, TextBlock
from bulwark.constituency.models import Organisation, OrganisationKind
from bulwark.core import pdf as printing
from bulwark.core.permissions import Reader

# Report language as users write it -> Django language code (TextBlock.language too).
LANGUAGE_CODES = printing.LANGUAGE_CODES
LANGUAGE_LABELS = printing.LANGUAGE_LABELS
BODY_MAX = TextBlock._meta.get_field("body").max_length or 50_000
# The figures' own titles (same message ids as the figures module: one translation).
FIGURE_TITLES = {
    "incidents_by_category": gettext_lazy("Security incidents from government agencies"),
    "foreign_reports_by_category": gettext_lazy("Category of international incident reports"),
    "isac_sharing_by_category": gettext_lazy("Distribution of ISAC information sharing"),
    "advisories_by_category": gettext_lazy("Distribution of government notice advisories"),
    "shared_with_foreign_certs": gettext_lazy("International incident report sharing"),
}
CJK_CSS_FAMILIES = printing.CJK_CSS_FAMILIES


class BadReportRequest(ValueError):
    """A year or language we cannot make a report for; the message says why."""


def language_code(lang: str | None) -> str:
    """ "en", "zh-Hant", "zh-hant" -> the Django language code; anything else is refused."""
    try:
        return printing.language_code(lang)
    except printing.BadPdfLanguage as exc:
        raise BadReportRequest(str(exc)) from None


def report_period(year: Any) -> periods.Period:
    try:
        return periods.year(int(year))
    except (TypeError, ValueError) as exc:  # BadPeriod is a ValueError
        raise BadReportRequest(
            _("Year must be a number from %(min)s to %(max)s.")
            % {"min": periods.MIN_YEAR, "max": periods.MAX_YEAR}
        ) from exc


# --------------------------------------------------------------------------- data
# Module-level seams: the figures module computes, the report only lays out.


def _five_figures(user: Reader, period: periods.Period) -> list[Figure]:

    return list(figures.five_figures(user, period, drills=False))


def _timeliness(user: Reader, period: periods.Period) -> Figure:

    return figures.timeliness(user, period, by="authority")


@dataclass(frozen=True)
class TableRow:
    label: str
    count: str
    share: str


def _count(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _number(value: float) -> str:
    return number_format(value, decimal_pos=0 if float(value).is_integer() else 1, use_l10n=True,
                         force_grouping=True)  # fmt: skip


def share_table(fig: Figure) -> tuple[list[TableRow], str]:
    """Category, count and share % of the first numeric column; and the total."""
    total = sum(_count(row[1]) for row in fig.rows) if len(fig.columns) > 1 else 0.0
    rows = []
    for row in fig.rows:
        n = _count(row[1]) if len(row) > 1 else 0.0
        share = f"{100 * n / total:.1f}" if total else "—"
        rows.append(TableRow(str(row[0]), _number(n), share))
    return rows, _number(total)


# One sentence per figure, %(n)s its total (as shown); "count" picks the plural form.
_SENTENCES = {
    "incidents_by_category": ngettext_lazy(
        "%(n)s security incident was reported by government agencies.",
        "%(n)s security incidents were reported by government agencies.",
        "count",
    ),
    "foreign_reports_by_category": ngettext_lazy(
        "%(n)s incident report was received from international CERTs and partners.",
        "%(n)s incident reports were received from international CERTs and partners.",
        "count",
    ),
    "isac_sharing_by_category": ngettext_lazy(
        "%(n)s item of information was shared among ISAC members.",
        "%(n)s items of information were shared among ISAC members.",
        "count",
    ),
    "advisories_by_category": ngettext_lazy(
        "%(n)s notice advisory was sent to government agencies.",
        "%(n)s notice advisories were sent to government agencies.",
        "count",
    ),
}
_COUNTED = ngettext_lazy("%(n)s item was counted.", "%(n)s items were counted.", "count")


def summary_sentence(fig: Figure) -> str:
    """What the figure says in one sentence, like the source report's text beside it."""
    counts = [(str(row[0]), _count(row[1])) for row in fig.rows if len(row) > 1]
    total = sum(n for _label, n in counts)
    if not total:
        return _("No data for this period.")
    label, top = max(counts, key=lambda item: item[1])
    share = f"{100 * top / total:.0f}"
    n = int(total)
    if fig.key == "shared_with_foreign_certs":
        certs = sum(1 for _label, count in counts if count)
        head = ngettext(
            "%(n)s incident report was shared with %(certs)s foreign CERTs.",
            "%(n)s incident reports were shared with %(certs)s foreign CERTs.",
            n,
        ) % {"n": _number(total), "certs": certs}
        tail = _("The largest recipient is %(label)s with %(share)s %% of the reports.")
        return f"{head} {tail % {'label': label, 'share': share}}"
    head = str(_SENTENCES.get(fig.key, _COUNTED) % {"n": _number(total), "count": n})
    tail = _("The largest category is %(label)s with %(share)s %%.") % {
        "label": label,
        "share": share,
    }
    return f"{head} {tail}"


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        number = float(value)
        if "%" in column or "share" in column.lower():
            return f"{number:.1f} %"
        return _number(round(number, 1))
    return str(value)


# Charts in the PDF are pictures at print resolution: WeasyPrint took 2-3 s to draw each
# chart's SVG (text as paths: thousands of path nodes), more than the rest of the report.
PRINT_DPI = 160


def _figure_context(number: int, fig: Figure, lang: str, print_: bool = False) -> dict[str, Any]:
    rows, total = share_table(fig)
    title = str(FIGURE_TITLES.get(fig.key, fig.title))
    svg, img = "", ""
    if print_:
        png = charts.render_png(fig, lang, title=False, dpi=PRINT_DPI)
        img = "data:image/png;base64," + base64.b64encode(png).decode() if png else ""
    else:
        svg = charts.render_svg(fig, lang, title=False, id_prefix=f"figure{number}")
    return {
        "img": img,
        "number": number,
        "key": fig.key,
        "title": title,
        "caption": _("Figure %(number)s %(title)s") % {"number": number, "title": title},
        "svg": mark_safe(svg),  # noqa: S308 - written by matplotlib's XML writer
        "dimension": str(fig.columns[0]) if fig.columns else "",
        "count_label": str(fig.columns[1]) if len(fig.columns) > 1 else _("count"),
        "rows": rows,
        "total": total,
        "sentence": summary_sentence(fig),
        "note": str(fig.note),
    }


def _timeliness_context(fig: Figure) -> dict[str, Any]:
    columns = [str(c) for c in fig.columns]
    return {
        "title": str(fig.title),
        "columns": columns,
        "rows": [[_cell(v, c) for v, c in zip(row, columns, strict=False)] for row in fig.rows],
        "note": str(fig.note),
    }


def _activities(user: Reader, period: periods.Period) -> dict[str, Any]:
    """Drills & exercises, audits & findings, training & competitions (a seam, as above)."""
    return report_activities.activities(user, period)


# --------------------------------------------------------------------------- narrative

_HEADING = re.compile(r"<(/?)h([1-6])>")


def narrative_html(body: str) -> SafeString:
    """A text block's Markdown, sanitised; its headings sit below the section's own."""

    safe = markdown_to_html(body)
    demoted = _HEADING.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 2, 6)}>", safe)
    return mark_safe(demoted)  # noqa: S308 - sanitised by nh3 in markdown_to_html


def _sections(user: Reader, year: int, code: str) -> dict[str, dict[str, Any]]:
    blocks = {
        b.section: b.body
        for b in TextBlock.objects.visible_to(user).filter(year=year, language=code)
    }
    out = {}
    for key, title in SECTIONS:
        body = blocks.get(key, "").strip()
        out[key] = {
            "key": key,
            "title": str(title),
            "html": narrative_html(body) if body else "",
            "placeholder": "" if body else _("This section has not been written yet."),
        }
    return out


def cert_name() -> str:
    """The national CERT's name: the national CERT organisation, else settings.CERT_NAME."""

    org = (
        Organisation.objects.filter(kind=OrganisationKind.NATIONAL_CERT, is_active=True)
        .order_by("pk")
        .first()
    )
    if org is not None:
        return org.short_name or org.name
    return str(getattr(settings, "CERT_NAME", "") or "Bulwark")


# --------------------------------------------------------------------------- assembly


def build_annual(user: Reader, year: int, lang: str, print_: bool = False) -> dict[str, Any]:
    """Everything the report template needs, computed as `user` sees the data (charts as
    pictures when it is to be printed into the PDF)."""
    code = language_code(lang)
    period = report_period(year)
    with translation.override(code):
        figures = [
            _figure_context(n, fig, code, print_)
            for n, fig in enumerate(_five_figures(user, period), start=1)
        ]
        sections = _sections(user, period.first.year, code)
        name = cert_name()
        return {
            "year": period.first.year,
            "lang": LANGUAGE_LABELS[code],
            "language_code": code,
            "cert_name": name,
            "report_title": _("%(cert)s Annual Report %(year)s")
            % {"cert": name, "year": period.first.year},
            "generated_at": timezone.localtime(),
            "sections": sections,
            "figures": figures,
            "abuse_figures": figures[:3],
            "publication_figures": figures[3:],
            "timeliness": _timeliness_context(_timeliness(user, period)),
            "activities": _activities(user, period),
            "font_families": CJK_CSS_FAMILIES,
        }


def render_html(user: Reader, year: int, lang: str, print_: bool = False) -> str:
    """A standalone page: inline CSS, inline charts (SVG; PNG for the PDF), no external
    resource."""
    context = build_annual(user, year, lang, print_)
    with translation.override(context["language_code"]):
        return render_to_string("analytics/annual_report.html", context)


def pdf_from_html(page: str) -> tuple[bytes, int]:
    """PDF bytes and page count (printed by `core.pdf`, as every PDF of the platform)."""
    printed = printing.print_html(page)
    return printed.pdf, printed.pages


def render_pdf(user: Reader, year: int, lang: str) -> bytes:
    return render_pdf_timed(user, year, lang).pdf


@dataclass(frozen=True)
class RenderedPdf:
    pdf: bytes
    pages: int
    seconds: float


def render_pdf_timed(user: Reader, year: int, lang: str) -> RenderedPdf:
    started = time.monotonic()
    pdf, pages = pdf_from_html(render_html(user, year, lang, print_=True))
    return RenderedPdf(pdf, pages, time.monotonic() - started)


def file_name(year: int, lang: str, fmt: str) -> str:
    return f"bulwark-annual-report-{year}-{LANGUAGE_LABELS[language_code(lang)]}.{fmt}"
