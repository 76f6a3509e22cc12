"""Figures of the incidents' statutory clocks that `/metrics` reads from the database
at scrape time (registered with core in `IncidentsConfig.ready`)."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Min
from prometheus_client.core import GaugeMetricFamily

from bulwark.core.metrics import age
from bulwark.incidents.models import Incident


def clock_figures(now: datetime) -> Iterator[Any]:
    """Open incidents whose nearest deadline has passed, and by how long."""
    overdue = Incident.objects.exclude(status="closed").filter(next_due_at__lt=now).order_by()
    figures = overdue.aggregate(oldest=Min("next_due_at"))
    yield GaugeMetricFamily(
        "bulwark_incident_clocks_overdue",
        "Open incidents whose nearest statutory deadline has passed.",
        value=overdue.count(),
    )
    yield GaugeMetricFamily(
        "bulwark_incident_clocks_overdue_max_seconds",
        "How long the most overdue statutory deadline has passed (0 when none).",
        value=age(now, figures["oldest"]),
    )
