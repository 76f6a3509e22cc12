"""Figures of monitoring that `/metrics` reads from the database at scrape time
(registered with core in `MonitoringConfig.ready`); lines and hits are counted in the
workers (`core.metrics.count_batches`)."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from bulwark.monitoring.models import Alert


def monitoring_figures(now: datetime) -> Iterator[Any]:
    """Monitoring alerts by status."""
    alerts = GaugeMetricFamily(
        "bulwark_monitoring_alerts", "Monitoring alerts by status.", labels=["status"]
    )
    for row in Alert.objects.order_by().values("status").annotate(n=Count("id")):
        alerts.add_metric([row["status"]], row["n"])
    yield alerts
