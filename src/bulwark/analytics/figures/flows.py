"""Activity figures: the case flow, notifications to agencies, responses to advisories,
indicators shared, sighted and decayed."""

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from bulwark.advisories.models import Status, Target
from bulwark.analytics.figure_table import Figure
from bulwark.analytics.figures.common import as_hours, in_period, localised_name, percent_of
from bulwark.analytics.figures.incidents import kind_label, series_figure
from bulwark.analytics.figures.sources import visible_incidents
from bulwark.analytics.periods import Period, local_zone
from bulwark.analytics.sql import Median, SecondsBetween
from bulwark.core.permissions import Reader
from bulwark.exchange.models import EventNotice, NotificationReply, Report
from bulwark.incidents.models import Referral
from bulwark.intel.decay import DEFAULT_LIFETIME_DAYS, LIFETIME_DAYS
from bulwark.intel.models import Indicator, Sighting

# --------------------------------------------------------------------------- flows


def case_flow(user: Reader, period: Period, *, drills: bool = False) -> Figure:
    """Reports received (exchange) vs incidents reported vs coordinated cases (incidents
    referred to another organisation), month by month."""

    months = period.months()
    zone = local_zone()

    def by_month(rows: QuerySet[Any], field: str) -> dict[date, int]:
        grouped = (
            rows.filter(in_period(field, period.start, period.end))
            .annotate(month=TruncMonth(field, tzinfo=zone))
            .values_list("month")
            .annotate(n=Count("*"))
            .order_by()
        )
        return {m.astimezone(zone).date() if isinstance(m, datetime) else m: n for m, n in grouped}

    incidents = visible_incidents(user, drills)
    referred = Referral.objects.filter(incident_id=OuterRef("pk"))
    series = {
        _("Reports received"): by_month(Report.objects.visible_to(user), "received_at"),
        _("Incidents reported"): by_month(incidents, "reported_at"),
        _("Coordinated cases"): by_month(incidents.filter(Exists(referred)), "reported_at"),
    }
    figure = series_figure(
        "case_flow", _("Reports received, incidents and coordinated cases"), months, series
    )
    # Keep the three series in their natural order, zeros included.
    order = list(series)
    rows = tuple(sorted(figure.rows, key=lambda row: order.index(row[0])))
    return Figure(
        figure.key,
        figure.title,
        figure.columns,
        rows,
        chart="line",
        note=_(
            "Received reports are counted for CERT staff only "
            "(raw reports name other organisations)."
        ),
    )


def notifications(user: Reader, period: Period, *, drills: bool = False) -> Figure:
    """Report-exchange notifications sent in the period by recipient type: sent, bounced,
    acknowledged (answered by the recipient)."""

    replied = Exists(
        NotificationReply.objects.filter(notification_id=OuterRef("pk"), is_bounce=False)
    )
    grouped = (
        EventNotice.objects.visible_to(user)
        .filter(in_period("created_at", period.start, period.end))
        .annotate(replied=replied)
        .values_list("recipient__kind")
        .annotate(
            n=Count("*"),
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            bounced=Count("id", filter=Q(status=EventNotice.Status.BOUNCED)),
            failed=Count("id", filter=Q(status=EventNotice.Status.FAILED)),
            answered=Count("id", filter=Q(replied=True)),
        )
        .order_by()
    )
    rows = sorted(
        (
            (kind_label((kind,)), n, sent, bounced, failed, answered, percent_of(answered, sent))
            for kind, n, sent, bounced, failed, answered in grouped
        ),
        key=lambda row: (-row[1], row[0]),
    )
    columns = (
        _("recipient type"),
        _("notifications"),
        _("sent"),
        _("bounced"),
        _("failed"),
        _("acknowledged"),
        _("acknowledged %"),
    )
    return Figure(
        "notifications", _("Notifications sent and acknowledged"), columns, tuple(rows), chart="bar"
    )


def advisory_response(user: Reader, period: Period, *, drills: bool = False) -> Figure:
    """For the advisories sent in the period, by category: how many recipients
    acknowledged and acted, and the median time to acknowledge."""

    grouped = (
        Target.objects.visible_to(user)
        .filter(advisory__status=Status.SENT)
        .filter(in_period("advisory__sent_at", period.start, period.end))
        .values_list("advisory__category__name", "advisory__category__name_zh_hant")
        .annotate(
            n=Count("*"),
            ack=Count("id", filter=Q(acknowledged_at__isnull=False)),
            acted=Count("id", filter=~Q(action="")),
            median=Median(SecondsBetween("acknowledged_at", "advisory__sent_at")),
        )
        .order_by()
    )
    merged: dict[str, list[Any]] = {}
    for name, name_zh, n, ack, acted, median in grouped:
        label = localised_name(name, name_zh)
        cell = merged.setdefault(label, [0, 0, 0, median])
        cell[0] += n
        cell[1] += ack
        cell[2] += acted
    rows = sorted(
        (
            (label, n, ack, percent_of(ack, n), acted, percent_of(acted, n), as_hours(median))
            for label, (n, ack, acted, median) in merged.items()
        ),
        key=lambda row: (-row[1], row[0]),
    )
    columns = (
        _("category"),
        _("recipients"),
        _("acknowledged"),
        _("acknowledged %"),
        _("acted"),
        _("acted %"),
        _("median hours to acknowledge"),
    )
    return Figure(
        "advisory_response",
        _("Advisory acknowledgement and action"),
        columns,
        tuple(rows),
        chart="bar",
    )


def indicators(user: Reader, period: Period, *, drills: bool = False) -> Figure:
    """Indicators shared in the period, values sighted in it, and indicators that
    decayed in it (their validity ended: valid_until, or the value type's lifetime since
    valid_from when the source set none), by value type."""

    visible = Indicator.objects.visible_to(user).filter(stix_object__is_latest=True)
    shared = dict(
        visible.filter(in_period("stix_object__date_added", period.start, period.end))
        .values_list("kind")
        .annotate(n=Count("*"))
        .order_by()
    )
    sighted_rows = (
        Sighting.objects.visible_to(user)
        .filter(false_positive=False)
        .filter(in_period("last_seen", period.start, period.end))
        .values_list("value__kind")
        .annotate(values=Count("value_id", distinct=True), n=Sum("count"))
        .order_by()
    )
    sighted = {kind: (values, n) for kind, values, n in sighted_rows}
    ended = Q(valid_until__isnull=False) & in_period("valid_until", period.start, period.end)
    for kind, days in LIFETIME_DAYS.items():
        ended |= Q(valid_until__isnull=True, kind=kind) & in_period(
            "valid_from", period.start - timedelta(days=days), period.end - timedelta(days=days)
        )
    ended |= (
        Q(valid_until__isnull=True)
        & ~Q(kind__in=list(LIFETIME_DAYS))
        & in_period(
            "valid_from",
            period.start - timedelta(days=DEFAULT_LIFETIME_DAYS),
            period.end - timedelta(days=DEFAULT_LIFETIME_DAYS),
        )
    )
    decayed = dict(visible.filter(ended).values_list("kind").annotate(n=Count("*")).order_by())
    kinds = sorted(set(shared) | set(sighted) | set(decayed), key=lambda k: (-shared.get(k, 0), k))
    rows = tuple(
        (
            kind or _("(unknown)"),
            shared.get(kind, 0),
            *sighted.get(kind, (0, 0)),
            decayed.get(kind, 0),
        )
        for kind in kinds
    )
    columns = (
        _("value type"),
        _("indicators shared"),
        _("values sighted"),
        _("sightings"),
        _("indicators decayed"),
    )
    return Figure(
        "indicators", _("Indicators shared, sighted and decayed"), columns, rows, chart="bar"
    )
