"""The annual report: every section and figure is in the PDF (English and Traditional
Chinese), each figure's page carries its chart, the narrative comes from the text blocks,
and the figures are counted as the requesting user sees the data."""

import io
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pypdf import PdfReader

from bulwark.analytics import report
from bulwark.analytics.figure_table import Figure
from bulwark.analytics.models import SECTIONS, TextBlock
from bulwark.constituency import services as cs
from bulwark.constituency.models import Organisation, User
from bulwark.incidents.levels import Answers
from bulwark.incidents.services import report_incident

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


class World:
    """A CERT, an authority with an agency below it, another agency, and incidents
    reported in 2025 (one outside the year, one drill: neither is counted)."""

    def __init__(self) -> None:
        self.cert = cs.create_organisation(
            None, name="Taiwan National CERT", short_name="TWNCERT", kind="national_cert",
            country="TW",
        )  # fmt: skip
        self.authority = cs.create_organisation(
            None, name="Ministry of Digital Affairs", kind="authority", country="TW",
            parent=self.cert,
        )  # fmt: skip
        self.bureau = cs.create_organisation(
            None, name="Bureau", kind="government_agency", country="TW", parent=self.authority
        )
        self.other = cs.create_organisation(
            None, name="Other bureau", kind="government_agency", country="TW", parent=self.cert
        )
        self.analyst = self._user("analyst", self.cert, "analyst")
        self.reporter = self._user("reporter", self.bureau, "reporter")
        self.outsider = self._user("outsider", self.other, "reporter")
        bureau = [("malicious-code", "infected-system")] * 2 + [("intrusions", "system-compromise")]
        for rsit in bureau:
            self.incident(self.reporter, self.bureau, rsit, datetime(2025, 3, 10, 9, tzinfo=UTC))
        for rsit in [("intrusions", "system-compromise")] * 2:
            self.incident(self.outsider, self.other, rsit, datetime(2025, 7, 1, 9, tzinfo=UTC))
        self.incident(
            self.reporter, self.bureau, ("fraud", "phishing"), datetime(2024, 6, 1, tzinfo=UTC)
        )
        self.incident(
            self.reporter, self.bureau, ("fraud", "phishing"), datetime(2025, 5, 1, tzinfo=UTC),
            is_drill=True,
        )  # fmt: skip

    def _user(self, name: str, org: Organisation, role: str) -> User:
        user = cs.create_user(None, username=name, email=f"{name}@example.org", password="p" * 14)
        cs.add_membership(None, user, org, role)
        return user

    def incident(
        self, who: User, org: Organisation, rsit: tuple[str, str], at: datetime, **details: Any
    ) -> None:
        report_incident(
            who, org, title="Incident", description="Seen.", rsit_class=rsit[0],
            rsit_type=rsit[1], aware_at=at - timedelta(hours=2), reported_at=at,
            backfill_reason="Reported by phone", answers=Answers(), **details,
        )  # fmt: skip


@pytest.fixture
def world(db: Any) -> World:
    return World()


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
    """Vector path operators the page draws, including inside the form XObjects it draws
    (WeasyPrint draws an inline SVG into one), plus 1000 per image it draws. Counted from
    what the content streams invoke (`/name Do`): WeasyPrint lists every image of the
    document in each page's resources, drawn there or not."""
    seen: set[int] = set()

    def walk(resources: Any, content: bytes) -> int:
        count = len(PATH_OPS.findall(content))
        xobjects = (resources or {}).get("/XObject") or {}
        for name in re.findall(rb"/([^\s/\[\]()<>{}%]+)\s+Do\b", content):
            ref = xobjects.get("/" + name.decode())
            if ref is None:
                continue
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Image":
                count += 1000
            elif xobject.get("/Subtype") == "/Form" and id(xobject) not in seen:
                seen.add(id(xobject))
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
def test_pdf_has_every_section_figure_and_the_written_text(lang: str, world: World) -> None:
    code = report.language_code(lang)
    TextBlock.objects.create(
        year=2025, language=code, section="highlights",
        body="TWNCERT issued **more than two thousand** notice advisories. 資安演練",
    )  # fmt: skip
    pdf = report.render_pdf(world.analyst, 2025, lang)
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
        # Five incidents of 2025 by agencies (not 2024's, not the drill); 3 of 5 intrusions.
        assert (
            ngettext(
                "%(n)s security incident was reported by government agencies.",
                "%(n)s security incidents were reported by government agencies.",
                5,
            )
            % {"n": 5}
            in text
        )
        largest = _("The largest category is %(label)s with %(share)s %%.")
        assert largest % {"label": _("Intrusion"), "share": "60"} in text
        assert text.count(_("No data for this period.")) == 4  # the other four figures
    assert "Ministry of Digital Affairs" in text  # timeliness, by supervising authority


@pytest.mark.django_db
def test_each_figure_page_carries_its_chart(world: World) -> None:
    pdf = report.render_pdf(world.analyst, 2025, "en")
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
    figure_1 = next(i for i, t in enumerate(texts) if captions("en")[0] in t)
    assert "Malware infected system" in texts[figure_1] and "40.0" in texts[figure_1]


@pytest.mark.django_db
def test_figures_are_counted_as_the_requesting_user_sees_them(world: World) -> None:
    def incidents(user: User) -> str:
        return str(report.build_annual(user, 2025, "en")["figures"][0]["total"])

    assert incidents(world.analyst) == "5"
    assert incidents(world.reporter) == "3"  # their own agency's only
    assert incidents(world.outsider) == "2"
    # The narrative is written for publication: every reader gets the same text.
    TextBlock.objects.create(year=2025, language="en", section="about", body="Who we are")
    assert "Who we are" in report.render_html(world.reporter, 2025, "en")


@pytest.mark.django_db
def test_html_report_is_one_standalone_page(world: World) -> None:
    html = report.render_html(world.analyst, 2025, "en")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "<style>" in html and "@page" in html and "break-inside: avoid" in html
    assert html.count("<svg") == 5
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "element ids repeat across the inline charts"
    # Nothing loaded from elsewhere (the charts' clip paths refer to their own #ids).
    assert not re.search(r"<link\b|<script\b|\bsrc=|url\((?!#)|@import", html, re.IGNORECASE)
    assert "WenQuanYi Micro Hei" in html  # the CJK font family is listed for zh-Hant text


@pytest.mark.django_db
def test_empty_year_reports_no_data_instead_of_failing(world: World) -> None:
    text = pdf_text(report.render_pdf(world.analyst, 2023, "zh-hant"))
    with translation.override("zh-hant"):
        assert text.count(_("No data for this period.")) == 6  # five figures and timeliness
        assert _("%(cert)s Annual Report %(year)s") % {"cert": "TWNCERT", "year": 2023} in text


@pytest.mark.django_db
def test_layout_with_every_figure_full(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hand-made figures stand in for the sources this test does not fill (foreign
    reports, ISAC sharing, advisories, foreign CERTs): every table and chart is laid out."""
    monkeypatch.setattr(report, "_five_figures", lambda user, period: hand_made_figures())
    text = pdf_text(report.render_pdf(world.analyst, 2025, "en"))
    assert "No data for this period." not in text
    for row in ("JPCERT/CC (JP) 90 90.0", "Early warning 700 70.0", "Total 1,000 100.0"):
        assert row in text, row
    assert "100 incident reports were shared with 2 foreign CERTs." in text


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
