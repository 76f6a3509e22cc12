"""Report pages and the `bulwark report annual` command: CERT staff write the narrative,
the PDF carries it, others cannot edit it, hostile text is neutralised, and the command
refuses what it cannot do without leaving half a file behind."""

import io
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from bulwark.analytics.models import TextBlock
from bulwark.analytics.tests.test_report import World, pdf_text
from bulwark.conftest import sign_in
from bulwark.constituency.models import User
from bulwark.core.models import AuditEntry

pytestmark = pytest.mark.django_db

TEXTS = "/stats/report/texts/"
ANNUAL = "/stats/report/annual/"


@pytest.fixture
def world(db: Any) -> World:
    return World()


def web(user: User) -> Client:
    return sign_in(Client(), user)


def sections(**bodies: str) -> dict[str, str]:
    keys = ("highlights", "about", "operations", "events", "international", "future")
    return {key: bodies.get(key, "") for key in keys}


class Tags(HTMLParser):
    """Every element and attribute a browser would build from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.attributes += attrs


def test_url_names() -> None:
    assert reverse("stats-annual-report") == ANNUAL
    assert reverse("stats-report-texts") == TEXTS


def test_staff_edit_texts_and_the_pdf_shows_them(world: World) -> None:
    client = web(world.analyst)
    page = client.get(TEXTS, {"year": 2025, "lang": "en"})
    assert page.status_code == 200
    assert page.content.count(b"<textarea") == 6
    assert b"csrfmiddlewaretoken" in page.content
    body = sections(highlights="We handled **many** incidents in 2025.", future="More drills.")
    saved = client.post(f"{TEXTS}?year=2025&lang=en", body)
    assert saved.status_code == 302
    block = TextBlock.objects.get(year=2025, language="en", section="highlights")
    assert block.updated_by == world.analyst
    assert not TextBlock.objects.filter(section="about").exists()  # empty sections not stored
    entry = AuditEntry.objects.filter(action="report.texts_saved").get()
    assert entry.changes == {"sections": ["highlights", "future"]}
    # The form shows what was saved.
    assert b"We handled **many** incidents in 2025." in client.get(saved["Location"]).content

    pdf = client.get(ANNUAL, {"year": 2025, "lang": "en", "format": "pdf"})
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == 'attachment; filename="bulwark-annual-report-2025-en.pdf"'
    text = pdf_text(pdf.content)
    assert "We handled many incidents in 2025." in text and "More drills." in text
    assert text.count("This section has not been written yet.") == 4


def test_texts_are_kept_per_language_and_year(world: World) -> None:
    client = web(world.analyst)
    client.post(f"{TEXTS}?year=2025&lang=zh-Hant", sections(about="關於本中心"))
    client.post(f"{TEXTS}?year=2024&lang=en", sections(about="About 2024"))
    assert TextBlock.objects.get(year=2025, section="about").language == "zh-hant"
    english = client.get(ANNUAL, {"year": 2025, "lang": "en"}).content.decode()
    chinese = client.get(ANNUAL, {"year": 2025, "lang": "zh-Hant"}).content.decode()
    assert "關於本中心" in chinese and "關於本中心" not in english
    assert "About 2024" not in english


def test_saving_again_updates_and_blanking_restores_the_placeholder(world: World) -> None:
    client = web(world.analyst)
    client.post(f"{TEXTS}?year=2025&lang=en", sections(events="First draft"))
    client.post(f"{TEXTS}?year=2025&lang=en", sections(events="Second draft"))
    assert TextBlock.objects.get(section="events").body == "Second draft"
    client.post(f"{TEXTS}?year=2025&lang=en", sections())
    html = client.get(ANNUAL, {"year": 2025, "lang": "en"}).content.decode()
    assert "Second draft" not in html
    assert html.count("This section has not been written yet.") == 6
    assert AuditEntry.objects.filter(action="report.texts_saved").count() == 3


def test_saving_texts_needs_the_csrf_token(world: World) -> None:
    client = sign_in(Client(enforce_csrf_checks=True), world.analyst)
    refused = client.post(f"{TEXTS}?year=2025&lang=en", sections(about="Forged"))
    assert refused.status_code == 403
    page = client.get(TEXTS, {"year": 2025, "lang": "en"})
    token = page.context["csrf_token"]
    body = {**sections(about="Ours"), "csrfmiddlewaretoken": str(token)}
    assert client.post(f"{TEXTS}?year=2025&lang=en", body).status_code == 302
    assert TextBlock.objects.get().body == "Ours"


@pytest.mark.parametrize("who", ["reporter", "outsider"])
def test_only_cert_staff_may_edit_texts(world: World, who: str) -> None:
    client = web(getattr(world, who))
    assert client.get(TEXTS, {"year": 2025}).status_code == 403
    assert client.post(f"{TEXTS}?year=2025&lang=en", sections(about="Hijack")).status_code == 403
    assert not TextBlock.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(world: World) -> None:
    for url in (TEXTS, ANNUAL):
        response = Client().get(url, {"year": 2025})
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_members_download_the_report_of_what_they_see(world: World) -> None:
    TextBlock.objects.create(year=2025, language="en", section="about", body="Who we are")
    response = web(world.reporter).get(ANNUAL, {"year": 2025, "lang": "en", "format": "pdf"})
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "3 security incidents were reported by government agencies." in text  # theirs only
    assert "Who we are" in text  # the narrative is the same for every reader


def test_hostile_markdown_is_sanitised_in_the_report(world: World) -> None:
    client = web(world.analyst)
    hostile = (
        "<script>alert(1)</script>\n\n"
        "[click](javascript:alert(2))\n\n"
        '<img src=x onerror="alert(3)">\n\n'
        "# Heading\n\nSafe **bold** text."
    )
    assert (
        client.post(f"{TEXTS}?year=2025&lang=en", sections(highlights=hostile)).status_code == 302
    )
    response = client.get(ANNUAL, {"year": 2025, "lang": "en", "format": "html"})
    html = response.content.decode()
    tags = Tags()
    tags.feed(html)
    assert "script" not in tags.names and "img" not in tags.names
    assert not [a for a in tags.attributes if a[0].startswith("on")]
    assert not [a for a in tags.attributes if "javascript:" in (a[1] or "")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, not run
    assert "<strong>bold</strong>" in html
    assert "<h3>Heading</h3>" in html  # below the section's own heading
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_oversized_body_is_rejected_with_a_clear_error(world: World) -> None:
    client = web(world.analyst)
    response = client.post(f"{TEXTS}?year=2025&lang=en", sections(about="x" * 50_001))
    assert response.status_code == 400
    assert "at most 50000 characters (it has 50001)" in response.content.decode()
    assert not TextBlock.objects.exists()
    ok = client.post(f"{TEXTS}?year=2025&lang=en", sections(about="x" * 50_000))
    assert ok.status_code == 302


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"year": "1999"}, "2000 to 2100"),
        ({"year": "abc"}, "2000 to 2100"),
        ({"year": "2025", "lang": "fr"}, "en or zh-Hant"),
        ({"year": "2025", "format": "docx"}, "html or pdf"),
    ],
)
def test_bad_report_requests_are_refused(world: World, query: dict[str, str], message: str) -> None:
    response = web(world.analyst).get(ANNUAL, query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_bad_texts_year_is_refused(world: World) -> None:
    assert web(world.analyst).get(TEXTS, {"year": "20255"}).status_code == 400


# --------------------------------------------------------------------------- command


def test_command_writes_the_pdf_as_the_cert(world: World, tmp_path: Path) -> None:
    User.objects.create_superuser("root", "root@example.org", "p" * 14)
    out = tmp_path / "report.pdf"
    stdout = io.StringIO()
    call_command("report", "annual", "--year", "2025", "--lang", "zh-Hant", "--out", str(out),
                 stdout=stdout)  # fmt: skip
    pages = len(PdfReader(out).pages)
    assert f"({pages} pages," in stdout.getvalue() and " s\n" in stdout.getvalue()
    assert "as root" in stdout.getvalue()
    assert "5 " in pdf_text(out.read_bytes())  # the CERT sees all five incidents
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]  # no temporary left


def test_command_writes_html_as_a_given_user(world: World, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    call_command("report", "annual", "--year", "2025", "--out", str(out), "--as", "reporter",
                 stdout=io.StringIO())  # fmt: skip
    html = out.read_text()
    assert html.startswith("<!doctype html>") and html.count("<svg") == 5
    assert "3 security incidents were reported" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--year", "1999"], "2000 to 2100"),
        (["--year", "2025", "--lang", "de"], "en or zh-Hant"),
        (["--year", "2025", "--as", "nobody"], "--as nobody: no such user"),
        (["--year", "2025", "--out", "/nonexistent-dir/r.pdf"], "does not exist"),
        (["--year", "2025", "--out", "{tmp}"], "is a directory"),
        (["--year", "2025", "--format", "docx"], "invalid choice"),
    ],
)
def test_command_errors(world: World, tmp_path: Path, args: list[str], message: str) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "r.pdf")]
    if "--as" not in args:
        args += ["--as", "analyst"]
    with pytest.raises(CommandError, match=message):
        call_command("report", "annual", *args, stdout=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_command_writes_as_the_cert_or_asks_for_as(world: World, tmp_path: Path) -> None:
    """Without --as the report is the CERT's: a superuser's, else a CERT staff member's;
    with neither, the command asks for --as."""
    from io import StringIO

    from bulwark.constituency.models import Membership

    out = StringIO()
    call_command("report", "annual", "--year", "2025", "--out", str(tmp_path / "r.pdf"), stdout=out)
    assert "as analyst" in out.getvalue() and (tmp_path / "r.pdf").stat().st_size > 1000
    Membership.objects.filter(organisation__kind="national_cert").delete()
    with pytest.raises(CommandError, match=r"no active superuser.*--as USERNAME"):
        call_command("report", "annual", "--year", "2025", "--out", str(tmp_path / "s.pdf"))


def test_command_leaves_the_old_file_when_writing_fails(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.pdf"
    out.write_bytes(b"previous report")

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(CommandError, match="cannot write \\(No space left on device\\)"):
        call_command("report", "annual", "--year", "2025", "--out", str(out), "--as", "analyst")
    assert out.read_bytes() == b"previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]
