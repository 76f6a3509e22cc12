"""The annual report PDF as a job (issue 18: "the annual report PDF took 8 s with no sign
of progress"): the dashboard's button queues it, its page says where it stands and
refreshes itself (a Refresh header, no script) until the PDF is ready, and only the
person who asked may open the page or the PDF (it is counted as that person sees it)."""

import io
from typing import Any

from django.test import Client
from pypdf import PdfReader

from bulwark.analytics.models import ReportJob
from bulwark.analytics.tests.test_report import World, world  # noqa: F401 (fixture)
from bulwark.conftest import run_queued_tasks, sign_in


def test_the_pdf_is_made_by_the_worker_while_its_page_shows_progress(
    world: World,  # noqa: F811
    client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    web = sign_in(client, world.reporter)
    dashboard = web.get("/stats/?period=2025").content.decode()
    assert 'id="annual-report-form"' in dashboard and 'id="annual-report-en"' in dashboard
    with django_capture_on_commit_callbacks(execute=True):
        asked = web.post("/stats/report/annual/jobs/", {"year": "2025", "lang": "en"})
    assert asked.status_code == 302
    job = ReportJob.objects.get()
    assert asked["Location"] == f"/stats/report/annual/jobs/{job.uuid}/"
    waiting = web.get(asked["Location"])
    assert waiting["Refresh"] == "2"
    assert 'data-status="queued"' in waiting.content.decode()
    assert web.get(asked["Location"] + "pdf/").status_code == 404  # not ready yet
    # Asking again while it is being made does not queue a second one.
    with django_capture_on_commit_callbacks(execute=True):
        again = web.post("/stats/report/annual/jobs/", {"year": "2025", "lang": "en"})
    assert again["Location"] == asked["Location"] and ReportJob.objects.count() == 1
    assert run_queued_tasks() == 1
    ready = web.get(asked["Location"])
    assert not ready.has_header("Refresh")
    page = ready.content.decode()
    assert 'data-status="done"' in page and 'id="report-download"' in page
    pdf = web.get(asked["Location"] + "pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "bulwark-annual-report-2025-en.pdf" in pdf["Content-Disposition"]
    text = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf.content)).pages
    )
    # Counted as the reporter sees it: their bureau's three incidents of 2025, not the
    # five the CERT sees (the other bureau's two are not theirs).
    assert "3 security incidents were reported by government agencies." in text
    assert "5 security incidents" not in text
    # Someone else cannot open the page or the PDF.
    other = sign_in(Client(), world.outsider)
    assert other.get(asked["Location"]).status_code == 404
    assert other.get(asked["Location"] + "pdf/").status_code == 404


def test_a_bad_request_is_refused_with_a_reason(world: World, client: Client) -> None:  # noqa: F811
    web = sign_in(client, world.reporter)
    refused = web.post("/stats/report/annual/jobs/", {"year": "1066", "lang": "en"})
    assert refused.status_code == 400 and refused.content
    assert web.post("/stats/report/annual/jobs/", {"year": "2025", "lang": "xx"}).status_code == 400
    assert web.get("/stats/report/annual/jobs/").status_code == 405
    assert ReportJob.objects.count() == 0


def test_a_failed_job_says_so_instead_of_polling_for_ever(
    world: World,  # noqa: F811
    client: Client,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from bulwark.analytics import report

    def broken(*args: Any) -> Any:
        raise RuntimeError("font missing")

    monkeypatch.setattr(report, "render_pdf_timed", broken)
    web = sign_in(client, world.reporter)
    with django_capture_on_commit_callbacks(execute=True):
        asked = web.post("/stats/report/annual/jobs/", {"year": "2025", "lang": "zh-Hant"})
    run_queued_tasks()
    page = web.get(asked["Location"])
    assert not page.has_header("Refresh")
    assert 'data-status="failed"' in page.content.decode()
