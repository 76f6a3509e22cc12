"""The annual report: every section and figure is in the PDF (English and Traditional
Chinese), each figure's page carries its chart, the narrative comes from the text blocks,
and the figures are counted as the requesting user sees the data."""

import io
import re
import shutil
import subprocess
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext as _
from pypdf import PdfReader

from bulwark.analytics import report
from bulwark.analytics.figure import Figure
from bulwark.analytics.models import SECTIONS, TextBlock
from bulwark.constituency import services
from bulwark.constituency.models import Organisation, User
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory

FIVE = (
    ("incidents_by_category", "bar", (("Intrusion", 60), ("Malware", 25), ("Phishing", 15))),
    ("foreign_reports_by_category", "pie", (("Malware infected system", 53), ("Attack", 30))),
    ("isac_sharing_by_category", "pie", (("Early warning", 700), ("Vulnerability", 300))),
    ("advisories_by_category", "bar", (("Vulnerability", 120), ("Malware", 80))),
    ("shared_with_foreign_certs", "barh", (("JPCERT/CC (JP)", 90), ("KrCERT/CC (KR)", 10))),
)


def hand_made_figures() -> list[Figure]:
    return [
        Figure(key, key.replace("_", " "), ("category", "count", "share %"),
               tuple((label, n, None) for label, n in rows), chart=chart)
        for key, chart, rows in FIVE
    ]  # fmt: skip


def hand_made_timeliness() -> Figure:
    return Figure(
        "timeliness_by_authority",
        "Statutory timeliness by authority",
        ("authority", "incidents", "reported in time %", "median hours to report"),
        (
            ("Ministry of Digital Affairs", 12, 91.7, 0.8),
            ("Financial Supervisory Commission", 3, None, 2.25),
        ),
        chart="none",
        note="Share of each statutory clock met on time.",
    )


class Calls:
    def __init__(self) -> None:
        self.users: list[Any] = []


@pytest.fixture
def figures_seen(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """The figures module is the lead's; the report is tested against hand-made figures
    through report.py's two seams, recording which user the figures were asked for."""
    calls = Calls()

    def five(user: Any, period: Any) -> list[Figure]:
        calls.users.append(user)
        assert period.first.year == period.last.year
        return hand_made_figures()

    def timeliness(user: Any, period: Any) -> Figure:
        calls.users.append(user)
        return hand_made_timeliness()

    monkeypatch.setattr(report, "_five_figures", five)
    monkeypatch.setattr(report, "_timeliness", timeliness)
    return calls


@pytest.fixture
def cert_org(db: Any) -> Organisation:
    return OrganisationFactory(
        name="Taiwan National CERT", short_name="TWNCERT", kind="national_cert"
    )


@pytest.fixture
def analyst(cert_org: Organisation) -> User:
    user = UserFactory(username="analyst")
    services.add_membership(None, user, cert_org, "analyst")
    return user


def pdf_text(pdf: bytes) -> str:
    """pdftotext (poppler) when installed, else pypdf; whitespace folded."""
    if shutil.which("pdftotext"):
        out = subprocess.run(
            ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True,
            check=True, timeout=60,
        ).stdout.decode()  # fmt: skip
    else:
        out = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    return " ".join(out.split())


def page_texts(pdf: bytes) -> list[str]:
    return [" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages]


PATH_OPS = re.compile(rb"(?<![A-Za-z])(?:re|m|l|c|h|f\*?|S|B\*?)(?![A-Za-z])")


def drawing_ops(page: Any) -> int:
    """Vector path operators on the page, including inside its form XObjects (WeasyPrint
    draws an inline SVG into one), plus 1000 per image XObject."""
    seen: set[int] = set()

    def walk(resources: Any, content: bytes) -> int:
        count = len(PATH_OPS.findall(content))
        for obj in ((resources or {}).get("/XObject") or {}).values():
            xobject = obj.get_object()
            if id(xobject) in seen:
                continue
            seen.add(id(xobject))
            if xobject.get("/Subtype") == "/Image":
                count += 1000
            elif xobject.get("/Subtype") == "/Form":
                count += walk(xobject.get("/Resources"), xobject.get_data())
        return count

    contents = page.get_contents()
    return walk(page.get("/Resources"), contents.get_data() if contents is not None else b"")


def titles(lang: str) -> list[str]:
    with translation.override(report.language_code(lang)):
        return [
            *(str(title) for _key, title in SECTIONS),
            _("Abuse statistics"),
            _("Advisories and international sharing"),
            _("Statutory timeliness"),
        ]


def captions(lang: str) -> list[str]:
    with translation.override(report.language_code(lang)):
        return [
            _("Figure %(number)s %(title)s") % {"number": n, "title": report.FIGURE_TITLES[key]}
            for n, (key, _chart, _rows) in enumerate(FIVE, start=1)
        ]


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
def test_pdf_has_every_section_figure_and_the_written_text(
    lang: str, analyst: User, figures_seen: Calls
) -> None:
    code = report.language_code(lang)
    TextBlock.objects.create(
        year=2025, language=code, section="highlights",
        body="TWNCERT issued **more than two thousand** notice advisories. 資安演練",
    )  # fmt: skip
    pdf = report.render_pdf(analyst, 2025, lang)
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    for title in titles(lang):
        assert title in text, title
    for caption in captions(lang):
        assert caption in text, caption
    assert "more than two thousand notice advisories. 資安演練" in text
    with translation.override(code):
        assert _("%(cert)s Annual Report %(year)s") % {"cert": "TWNCERT", "year": 2025} in text
        # The five sections nobody wrote are marked, in the report's language.
        assert text.count(_("This section has not been written yet.")) == len(SECTIONS) - 1
        assert _("The largest category is %(label)s with %(share)s %%.") % {
            "label": "Intrusion", "share": "60",
        } in text  # fmt: skip
    assert "Ministry of Digital Affairs" in text and "91.7 %" in text  # timeliness table
    assert "JPCERT/CC (JP)" in text


@pytest.mark.django_db
def test_each_figure_page_carries_its_chart(analyst: User, figures_seen: Calls) -> None:
    pdf = report.render_pdf(analyst, 2025, "en")
    reader = PdfReader(io.BytesIO(pdf))
    texts = page_texts(pdf)
    # Numbered from the page footer: "n / total" on every page but the title page.
    assert re.search(rf"\b2 / {len(reader.pages)}\b", texts[1])
    text_only = drawing_ops(reader.pages[1])  # the contents page
    for caption in captions("en"):
        pages = [i for i, t in enumerate(texts) if caption in t]
        assert len(pages) == 1, f"{caption} is on pages {pages}"
        ops = drawing_ops(reader.pages[pages[0]])
        assert ops > text_only + 300, f"{caption}: {ops} drawing ops vs {text_only}"


@pytest.mark.django_db
def test_figures_are_counted_as_the_requesting_user_sees_them(
    analyst: User, figures_seen: Calls
) -> None:
    member = UserFactory(username="agency-member")
    services.add_membership(None, member, OrganisationFactory(name="Agency"), "reporter")
    report.build_annual(member, 2025, "en")
    assert figures_seen.users == [member, member]
    context = report.build_annual(analyst, 2025, "en")
    assert figures_seen.users[-2:] == [analyst, analyst]
    # The narrative is the CERT's draft: someone outside the CERT is told so, not shown it.
    TextBlock.objects.create(year=2025, language="en", section="about", body="Internal draft")
    html = report.render_html(member, 2025, "en")
    assert "Internal draft" not in html
    assert "shown to CERT staff only" in html
    assert "Internal draft" in report.render_html(analyst, 2025, "en")
    assert [f["number"] for f in context["figures"]] == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_html_report_is_one_standalone_page(analyst: User, figures_seen: Calls) -> None:
    html = report.render_html(analyst, 2025, "en")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "<style>" in html and "@page" in html and "break-inside: avoid" in html
    assert html.count("<svg") == 5
    # Nothing loaded from elsewhere (the charts' clip paths refer to their own #ids).
    assert not re.search(r"<link\b|<script\b|\bsrc=|url\((?!#)|@import", html, re.IGNORECASE)
    assert "WenQuanYi Micro Hei" in html  # the CJK font family is listed for zh-Hant text


@pytest.mark.django_db
def test_empty_year_reports_no_data_instead_of_failing(
    analyst: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = [Figure(key, key, ("category", "count"), (), chart=chart) for key, chart, _r in FIVE]
    monkeypatch.setattr(report, "_five_figures", lambda user, period: empty)
    table = Figure("t", "Timeliness", ("authority", "incidents"), (), chart="none")
    monkeypatch.setattr(report, "_timeliness", lambda user, period: table)
    text = pdf_text(report.render_pdf(analyst, 2025, "zh-hant"))
    with translation.override("zh-hant"):
        assert text.count(_("No data for this period.")) >= 6  # five sentences and timeliness


def test_summary_sentence_names_the_largest_category() -> None:
    fig = hand_made_figures()[0]
    with translation.override("en"):
        assert report.summary_sentence(fig) == (
            "100 security incidents were reported by government agencies. "
            "The largest category is Intrusion with 60 %."
        )
        certs = report.summary_sentence(hand_made_figures()[4])
        assert certs.startswith("100 incident reports were shared with 2 foreign CERTs.")
        assert "JPCERT/CC (JP) with 90 %" in certs


@pytest.mark.parametrize("lang", ["fr", "", "zh-Hans", "../en"])
def test_unknown_language_is_refused(lang: str) -> None:
    with pytest.raises(report.BadReportRequest, match="en or zh-Hant"):
        report.language_code(lang)


@pytest.mark.parametrize("year", [1999, 2101, "twenty", None])
def test_bad_year_is_refused(year: Any) -> None:
    with pytest.raises(report.BadReportRequest, match="2000 to 2100"):
        report.report_period(year)


def test_languages_as_users_write_them() -> None:
    assert report.language_code("zh-Hant") == report.language_code("zh-hant") == "zh-hant"
    assert report.file_name(2025, "zh-hant", "pdf") == "bulwark-annual-report-2025-zh-Hant.pdf"
    assert report.file_name(2025, "en", "html") == "bulwark-annual-report-2025-en.html"
