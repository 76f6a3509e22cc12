"""The annual report's PDF as a background job: asked for on the dashboard, made by the
task worker as the asking user sees the data, its page polling until it is ready."""

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from bulwark.analytics import report
from bulwark.analytics.models import ReportJob
from bulwark.core import audit

log = logging.getLogger(__name__)
# A PDF asked for again within this time is the one already made (the data moves slowly;
# the duty officer clicking twice should not queue two).
REUSE_FOR = timedelta(minutes=10)
KEEP_FOR = timedelta(days=1)


def request(user: Any, year: int, lang: str) -> ReportJob:
    """A job for this user, year and language: one still queued or running, or made in the
    last minutes, or a new one (queued for the worker once this transaction commits)."""
    from bulwark.analytics.tasks import generate_annual_report

    code = report.language_code(lang)
    mine = ReportJob.objects.filter(user=user, year=year, language=code)
    recent = mine.filter(
        status__in=[ReportJob.Status.QUEUED, ReportJob.Status.RUNNING, ReportJob.Status.DONE],
        created_at__gte=timezone.now() - REUSE_FOR,
    ).first()
    if recent is not None:
        return recent
    with transaction.atomic():
        ReportJob.objects.filter(user=user, created_at__lt=timezone.now() - KEEP_FOR).delete()
        job = ReportJob.objects.create(uuid=uuid.uuid4(), user=user, year=year, language=code)
        audit.record(user, "stats.annual_report_requested", job, changes={"year": year})
        transaction.on_commit(lambda: generate_annual_report.enqueue(job.pk))
    return job


def run(job_id: int) -> str:
    claimed = ReportJob.objects.filter(pk=job_id, status=ReportJob.Status.QUEUED).update(
        status=ReportJob.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return "not queued"
    job = ReportJob.objects.select_related("user").get(pk=job_id)
    try:
        rendered = report.render_pdf_timed(job.user, job.year, job.language)
    except Exception as exc:  # the page says it failed instead of polling for ever
        log.exception("annual report job %s failed", job.pk)
        ReportJob.objects.filter(pk=job.pk).update(
            status=ReportJob.Status.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}"[:300],
        )
        return "failed"
    ReportJob.objects.filter(pk=job.pk).update(
        status=ReportJob.Status.DONE,
        finished_at=timezone.now(),
        pdf=rendered.pdf,
        pages=rendered.pages,
    )
    return f"{rendered.pages} pages in {rendered.seconds:.1f} s"
