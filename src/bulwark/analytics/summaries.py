"""Scheduled summaries: each subscriber receives, after every month or quarter, the
figures of that period as they themselves may see them (the same `visible_to` as the
pages), in their language. This module composes them; `services.send_due_summaries` sends
each period once per subscriber and retries a failed send on the next run."""

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from bulwark.analytics import figures
from bulwark.analytics.figure_table import Figure
from bulwark.analytics.models import Cadence, Subscription
from bulwark.analytics.periods import Period, add_months, local_zone, parse

SUMMARY_FIGURES = (
    *figures.FIVE,
    "incidents_by_level",
    "timeliness_by_authority",
    "advisory_response",
)


@dataclass(frozen=True)
class Summary:
    subject: str
    text: str
    html: str


def due_period(cadence: str, today: date | None = None) -> Period:
    """The last whole month (monthly) or quarter (quarterly) before `today`."""
    today = today or datetime.now(local_zone()).date()
    if cadence == Cadence.MONTHLY:
        first = add_months(today.replace(day=1), -1)
        return parse(f"{first.year}-{first.month:02d}")
    if cadence == Cadence.QUARTERLY:
        this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        first = add_months(this_quarter, -3)
        return parse(f"{first.year}-Q{(first.month - 1) // 3 + 1}")
    raise ValueError(f"unknown cadence {cadence!r}")


def compose(subscription: Subscription, period: Period) -> Summary:
    """The summary for one subscriber, counted as that person sees the data."""
    user = subscription.user
    with translation.override(subscription.language):
        tables: list[Figure] = [figures.compute(key, user, period) for key in SUMMARY_FIGURES]
        context = {
            "user": user,
            "period": period,
            "cadence": subscription.get_cadence_display(),
            "tables": tables,
            "site_url": settings.SITE_URL.rstrip("/"),
        }
        subject = _("Bulwark %(cadence)s summary: %(period)s") % {
            "cadence": subscription.get_cadence_display().lower(),
            "period": period.label,
        }
        return Summary(
            subject=subject,
            text=render_to_string("analytics/summary_email.txt", context),
            html=render_to_string("analytics/summary_email.html", context),
        )
