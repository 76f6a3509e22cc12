"""Figures of the report exchange that `/metrics` reads from the database at scrape
time (registered with core in `ExchangeConfig.ready`)."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Count, IntegerField, Min, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bulwark.core.metrics import age
from bulwark.exchange.models import EventNotice, Quarantined, Report


def exchange_figures(now: datetime) -> Iterator[Any]:
    """Reports and their events by stage, quarantine, the oldest report still being
    processed, notifications and their lag."""
    reports = CounterMetricFamily(
        "bulwark_exchange_reports",
        "Reports received, by outcome (processing, done, failed).",
        labels=["status"],
    )
    for row in Report.objects.order_by().values("status").annotate(n=Count("id")):
        reports.add_metric([row["status"]], row["n"])
    yield reports
    stages = ("read", "events", "routed", "unrouted", "suppressed", "duplicates", "rejected")
    sums = Report.objects.order_by().aggregate(
        **{s: Sum(Cast(KT(f"counts__{s}"), IntegerField())) for s in stages}
    )
    events = CounterMetricFamily(
        "bulwark_exchange_events",
        "Events of received reports, by stage (counted per report when it is done).",
        labels=["stage"],
    )
    for stage in stages:
        events.add_metric([stage], sums.get(stage) or 0)
    yield events
    quarantined = GaugeMetricFamily(
        "bulwark_exchange_quarantined", "Quarantined records by status.", labels=["status"]
    )
    for row in Quarantined.objects.order_by().values("status").annotate(n=Count("id")):
        quarantined.add_metric([row["status"]], row["n"])
    yield quarantined
    oldest = (
        Report.objects.filter(status=Report.Status.PROCESSING)
        .order_by()
        .aggregate(m=Min("received_at"))["m"]
    )
    yield GaugeMetricFamily(
        "bulwark_exchange_processing_age_seconds",
        "Age of the oldest report still being processed (the exchange's lag).",
        value=age(now, oldest),
    )
    notifications = GaugeMetricFamily(
        "bulwark_exchange_notifications", "Notifications by status.", labels=["status"]
    )
    for row in EventNotice.objects.order_by().values("status").annotate(n=Count("id")):
        notifications.add_metric([row["status"]], row["n"])
    yield notifications
    due = (
        EventNotice.objects.filter(status="queued", next_attempt_at__lte=now)
        .order_by()
        .aggregate(m=Min("next_attempt_at"))["m"]
    )
    yield GaugeMetricFamily(
        "bulwark_exchange_notification_lag_seconds",
        "How long the most overdue queued notification has been due.",
        value=age(now, due),
    )
