"""Everything the statistics app writes: the annual report's texts and PDF jobs, the
summary subscriptions and their sending, and the kept snapshots of counted figures.

What a person asks for is audited (texts saved, a report asked for, a subscription started
or stopped); the platform's own bookkeeping is not (a snapshot kept or pruned, a job's
progress, the period a summary was sent for): it changes nothing anyone decided."""

import logging
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.analytics import report, summaries
from bulwark.analytics.models import SECTIONS, ReportJob, Snapshot, Subscription, TextBlock
from bulwark.constituency.models import User
from bulwark.core import audit
from bulwark.core.permissions import can

log = logging.getLogger(__name__)

# A PDF asked for again within this time is the one already made (the data moves slowly;
# the duty officer clicking twice should not queue two).
REUSE_FOR = timedelta(minutes=10)
KEEP_JOBS_FOR = timedelta(days=1)


# --------------------------------------------------------------------------- report texts


def save_report_texts(actor: User, year: int, lang: str, bodies: dict[str, str]) -> list[TextBlock]:
    """Create or update the year's narrative sections in one language (CERT staff only),
    in one transaction with one audit entry naming the sections that changed. An emptied
    section shows the placeholder in the report again."""
    if not can(actor, "analytics.write_report"):
        raise PermissionDenied
    code = report.language_code(lang)
    y = report.report_period(year).first.year
    known = {key for key, _title in SECTIONS}
    unknown = set(bodies) - known
    if unknown:
        raise ValidationError(
            _("Unknown sections: %(names)s") % {"names": ", ".join(sorted(unknown))}
        )
    errors = {
        key: _("At most %(max)s characters (this text has %(n)s).")
        % {"max": report.BODY_MAX, "n": len(body)}
        for key, body in bodies.items()
        if len(body) > report.BODY_MAX
    }
    if errors:
        raise ValidationError(errors)
    saved, changed = [], []
    with transaction.atomic():
        for key, body in bodies.items():
            block = (
                TextBlock.objects.select_for_update()
                .filter(year=y, language=code, section=key)
                .first()
            )
            if block is None:
                if not body:
                    continue
                block = TextBlock.objects.create(
                    year=y, language=code, section=key, body=body, updated_by=actor
                )
                changed.append(key)
            elif block.body != body:
                block.body, block.updated_by = body, actor
                block.save(update_fields=["body", "updated_by", "updated_at"])
                changed.append(key)
            saved.append(block)
        if changed:
            audit.record(
                actor,
                "report.texts_saved",
                object_type="analytics.textblock",
                object_id=f"{y}/{code}",
                object_label=_("Annual report %(year)s (%(lang)s)")
                % {"year": y, "lang": report.LANGUAGE_LABELS[code]},
                changes={"sections": changed},
            )
    return saved


# --------------------------------------------------------------------------- report PDF jobs


def request_annual_report(user: User, year: int, lang: str) -> ReportJob:
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
        ReportJob.objects.filter(user=user, created_at__lt=timezone.now() - KEEP_JOBS_FOR).delete()
        job = ReportJob.objects.create(uuid=uuid.uuid4(), user=user, year=year, language=code)
        audit.record(user, "stats.annual_report_requested", job, changes={"year": year})
        transaction.on_commit(lambda: generate_annual_report.enqueue(job.pk))
    return job


def run_annual_report(job_id: int) -> str:
    """Make a queued job's PDF (the worker): claimed once, then done or failed with why."""
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


# --------------------------------------------------------------------------- summaries


def subscribe(user: User, cadence: str, language: str) -> Subscription:
    """Start (or restart) a person's own monthly or quarterly summary, in their language."""
    with transaction.atomic():
        subscription, created = Subscription.objects.update_or_create(
            user=user, cadence=cadence, defaults={"active": True, "language": language}
        )
        audit.record(
            user,
            "stats.subscribed",
            subscription,
            changes={"cadence": cadence, "language": language, "new": created},
        )
    return subscription


def unsubscribe(user: User, cadence: str) -> int:
    """Stop a person's own summary of that cadence; the number stopped (0 or 1)."""
    with transaction.atomic():
        stopped = Subscription.objects.filter(user=user, cadence=cadence, active=True).update(
            active=False
        )
        if stopped:
            audit.record(
                user,
                "stats.unsubscribed",
                object_type="analytics.subscription",
                object_id=f"{user.pk}/{cadence}",
                object_label=cadence,
                changes={"cadence": cadence},
            )
    return stopped


def send_due_summaries(today: date | None = None) -> int:
    """Send every subscription's summary for its last whole period, once. Returns the
    number of messages sent."""
    sent = 0
    candidates = Subscription.objects.filter(active=True, user__is_active=True).select_related(
        "user"
    )
    for subscription in candidates:
        if not subscription.user.email:
            continue
        period = summaries.due_period(subscription.cadence, today)
        if subscription.last_period == period.label:
            continue
        previous = subscription.last_period
        # Claim the period first: two schedulers never both send it.
        with transaction.atomic():
            claimed = Subscription.objects.filter(pk=subscription.pk, last_period=previous).update(
                last_period=period.label
            )
        if not claimed:
            continue
        try:
            summary = summaries.compose(subscription, period)
            message = EmailMultiAlternatives(
                summary.subject,
                summary.text,
                settings.DEFAULT_FROM_EMAIL,
                [subscription.user.email],
            )
            message.attach_alternative(summary.html, "text/html")
            message.send()
        except Exception:
            log.exception(
                "summary for subscription %s (%s) not sent; will retry",
                subscription.pk,
                period.label,
            )
            Subscription.objects.filter(pk=subscription.pk).update(last_period=previous)
            continue
        Subscription.objects.filter(pk=subscription.pk).update(last_sent_at=timezone.now())
        sent += 1
    return sent


# --------------------------------------------------------------------------- snapshots


def keep_snapshot(
    ident: dict[str, Any], figure: dict[str, Any], computed_at: datetime, took_ms: int
) -> None:
    """Keep one counted figure (or trend) for its scope, key, period, drills and language."""
    Snapshot.objects.update_or_create(
        **ident, defaults={"figure": figure, "computed_at": computed_at, "took_ms": took_ms}
    )


def prune_snapshots(older_than: datetime) -> int:
    """Delete the snapshots counted before `older_than` (nobody read them again)."""
    return Snapshot.objects.filter(computed_at__lt=older_than).delete()[0]
