"""Every dashboard number equals a count made independently from the generated rows, and
every viewer's cells add up to the records that viewer can list."""

import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from bulwark.advisories.models import Advisory, Target
from bulwark.analytics import figures, periods
from bulwark.analytics.categories import event_category, incident_category
from bulwark.analytics.tests.dataset import Dataset, build, local_year
from bulwark.exchange.models import Event, EventNotice
from bulwark.incidents.clocks import add_months
from bulwark.incidents.models import Incident
from bulwark.intel.models import StixObject

YEAR = 2025


@pytest.fixture
def data(db: Any) -> Dataset:
    return build()


def rows(figure: figures.Figure) -> dict[str, Any]:
    return {row[0]: row[1] for row in figure.rows}


def agency_incidents(data: Dataset, year: int, drills: bool = False) -> list[Incident]:
    return [
        i
        for i in data.incidents
        if local_year(i.reported_at) == year
        and (drills or not i.is_drill)
        and i.organisation.kind in ("government_agency", "authority")
    ]


@pytest.mark.parametrize("drills", [False, True])
def test_the_five_figures_equal_independent_counts_for_the_cert(
    data: Dataset, drills: bool
) -> None:
    period = periods.year(YEAR)
    got = {f.key: f for f in figures.five_figures(data.duty, period, drills=drills)}
    assert list(got) == list(figures.FIVE)

    expected = Counter(
        incident_category(i.rsit_class) for i in agency_incidents(data, YEAR, drills)
    )
    assert rows(got["incidents_by_category"]) == dict(expected)
    assert sum(expected.values()) > 20

    foreign = Counter(
        event_category(e.classification_type)
        for e in data.events
        if data.foreign_ticket[e.report_id] and local_year(e.time_observation) == YEAR
    )
    assert rows(got["foreign_reports_by_category"]) == dict(foreign)
    assert "Other" in foreign  # an unknown classification type is counted, as "Other"

    shared = Counter(
        (o.category.name if o.category else "Uncategorised")
        for o in data.items
        if o.is_latest
        and o.status == "published"
        and o.type != "identity"
        and o.tlp != 4  # TLP:RED reaches named people only, not the whole CERT
        and local_year(o.date_added) == YEAR
    )
    assert rows(got["isac_sharing_by_category"]) == dict(shared)

    advisories = Counter(
        a.category.name for a in data.advisories if a.sent_at and local_year(a.sent_at) == YEAR
    )
    assert rows(got["advisories_by_category"]) == dict(advisories)

    to_certs: Counter[str] = Counter()
    for n in data.notifications:
        if n.recipient.kind == "foreign_cert" and n.sent_at and local_year(n.sent_at) == YEAR:
            to_certs[f"{n.recipient.name} ({n.recipient.country})"] += n.event_count
    assert rows(got["shared_with_foreign_certs"]) == dict(to_certs)

    # Shares add up to 100 % (rounding aside) and the largest category comes first.
    for figure in got.values():
        if figure.rows:
            assert abs(sum(row[2] for row in figure.rows) - 100) < 0.5
            assert figure.rows[0][1] == max(row[1] for row in figure.rows)


def test_a_period_is_local_time(data: Dataset) -> None:
    """00:30 on 1 January in Taipei is still 31 December in UTC: it counts in the new year."""
    incident = data.incidents[0]
    Incident.objects.filter(pk=incident.pk).update(
        reported_at=datetime(2024, 12, 31, 16, 30, tzinfo=UTC),
        organisation=data.agencies[0],
        is_drill=False,
        rsit_class="test",
    )
    jan = figures.compute("incidents_by_category", data.duty, periods.parse("2025-01"))
    dec = figures.compute("incidents_by_category", data.duty, periods.parse("2024-12"))
    assert rows(jan).get("Test") == 1
    assert "Test" not in rows(dec)


def visible_totals(user: Any, period: periods.Period) -> dict[str, int]:
    """What `user` can list, counted the way each app's list pages count."""
    window = {"gte": period.start, "lt": period.end}

    def during(field: str) -> dict[str, Any]:
        return {f"{field}__{op}": value for op, value in window.items()}

    incidents = Incident.objects.visible_to(user).filter(is_drill=False, **during("reported_at"))
    to_certs = EventNotice.objects.visible_to(user).filter(
        recipient__kind="foreign_cert", sent_at__isnull=False, **during("sent_at")
    )
    return {
        "incidents": incidents.count(),
        "incidents_by_category": incidents.filter(
            organisation__kind__in=["government_agency", "authority"]
        ).count(),
        "foreign_reports_by_category": Event.objects.visible_to(user)
        .exclude(report__foreign_ticket="")
        .filter(**during("time_observation"))
        .count(),
        "isac_sharing_by_category": StixObject.objects.visible_to(user)
        .filter(is_latest=True, status="published", **during("date_added"))
        .exclude(
            type__in=["identity", "marking-definition", "relationship", "extension-definition"]
        )
        .count(),
        "advisories_by_category": Advisory.objects.visible_to(user)
        .filter(status="sent", **during("sent_at"))
        .count(),
        "shared_with_foreign_certs": sum(to_certs.values_list("event_count", flat=True)),
        "advisory_response": Target.objects.visible_to(user)
        .filter(advisory__status="sent", **during("advisory__sent_at"))
        .count(),
    }


INCIDENT_TOTAL_KEYS = (
    "incidents_by_level",
    "incidents_by_sector",
    "incidents_by_agency_type",
    "timeliness_by_agency",
    "timeliness_by_authority",
    "timeliness_by_sector",
    "timeliness_by_all",
)
ROLES = ("duty", "reviewer", "reporter", "other_reporter", "foreign_member", "outsider")


@pytest.mark.parametrize("role", ROLES)
def test_every_viewers_cells_add_up_to_what_that_viewer_can_list(data: Dataset, role: str) -> None:
    user = data.users[role]
    for year in (2024, 2025):
        period = periods.year(year)
        totals = visible_totals(user, period)
        for key in (*figures.FIVE, "advisory_response"):
            figure = figures.compute(key, user, period)
            assert sum(row[1] for row in figure.rows) == totals[key], (role, year, key)
        for key in INCIDENT_TOTAL_KEYS:
            figure = figures.compute(key, user, period)
            assert sum(row[1] for row in figure.rows) == totals["incidents"], (role, year, key)
        monthly = figures.compute("incidents_by_month", user, period)
        all_row = [r for r in monthly.rows if r[0] == "All incidents"]
        assert (sum(all_row[0][1:]) if all_row else 0) == totals["incidents"]
        level_rows = [r for r in monthly.rows if r[0] != "All incidents"]
        assert sum(sum(r[1:]) for r in level_rows) == totals["incidents"]


def test_viewers_see_different_numbers(data: Dataset) -> None:
    """The matrix above is not trivially satisfied: the roles really see different rows."""
    period = periods.year(YEAR)
    cert, authority, agency, outsider = (
        visible_totals(data.users[r], period) for r in ("duty", "reviewer", "reporter", "outsider")
    )
    assert cert["incidents"] > authority["incidents"] > agency["incidents"] > 0
    assert outsider["incidents"] == 0 and outsider["shared_with_foreign_certs"] == 0
    assert cert["shared_with_foreign_certs"] > 0 and agency["shared_with_foreign_certs"] == 0
    member = visible_totals(data.foreign_member, period)
    assert 0 < member["shared_with_foreign_certs"] < cert["shared_with_foreign_certs"]


def test_incident_breakdown_compares_with_the_year_before(data: Dataset) -> None:
    figure = figures.compute("incidents_by_level", data.duty, periods.year(YEAR))
    assert figure.columns[1] == "2025" and figure.columns[3] == "2024"
    now = Counter(
        i.level for i in data.incidents if local_year(i.reported_at) == 2025 and not i.is_drill
    )
    before = Counter(
        i.level for i in data.incidents if local_year(i.reported_at) == 2024 and not i.is_drill
    )
    for label, n, _share, previous, change, *_rest in figure.rows:
        level = int(label.split()[-1])
        assert (n, previous) == (now[level], before[level])
        if before[level]:
            assert change == round(100 * (now[level] - before[level]) / before[level], 1)

    quarter = figures.compute("incidents_by_level", data.duty, periods.parse("2025-Q2"))
    # a quarter compares with the quarter before and with the same quarter a year earlier
    assert quarter.columns[1] == "2025-Q2" and quarter.columns[3] == "2025-Q1"
    assert quarter.columns[5] == "2024-Q2"


def test_timeliness_equals_the_statutory_rules_applied_by_hand(data: Dataset) -> None:
    now = timezone.now()
    cases = [i for i in data.incidents if local_year(i.reported_at) == YEAR and not i.is_drill]
    review_hours = {1: 8, 2: 8, 3: 2, 4: 2}
    recovery_hours = {1: 72, 2: 72, 3: 36, 4: 36}

    def share(ok: int, due: int) -> float | None:
        return round(100 * ok / due, 1) if due else None

    reported = share(
        sum(i.reported_at - i.aware_at <= timedelta(hours=1) for i in cases), len(cases)
    )
    reviewed = share(
        sum(
            bool(
                i.reviewed_at
                and i.reviewed_at - i.reported_at <= timedelta(hours=review_hours[i.level])
            )
            for i in cases
        ),
        len(cases),
    )
    recovered = share(
        sum(
            bool(
                i.recovered_at
                and i.recovered_at - i.aware_at <= timedelta(hours=recovery_hours[i.level])
            )
            for i in cases
        ),
        len(cases),
    )
    final_due = [
        i
        for i in cases
        if i.recovered_at and (i.final_report_at or add_months(i.recovered_at, 1) < now)
    ]
    final = share(
        sum(
            bool(i.final_report_at and i.final_report_at <= add_months(i.recovered_at, 1))
            for i in final_due
            if i.recovered_at
        ),
        len(final_due),
    )
    median_report = round(
        statistics.median((i.reported_at - i.aware_at).total_seconds() for i in cases) / 3600, 1
    )
    recover_times = [(i.recovered_at - i.aware_at).total_seconds() for i in cases if i.recovered_at]

    figure = figures.compute("timeliness_by_all", data.duty, periods.year(YEAR))
    (row,) = figure.rows
    assert row[1] == len(cases)
    assert row[2:6] == (reported, reviewed, recovered, final)
    assert row[6] == median_report
    assert row[8] == round(statistics.median(recover_times) / 3600, 1)
    assert reported is not None and reviewed is not None
    assert 0 < reported < 100 and 0 < reviewed < 100  # the dataset has late cases of each


def test_unknown_figure_and_grouping_are_refused(data: Dataset) -> None:
    with pytest.raises(figures.UnknownFigure):
        figures.compute("passwords", data.duty, periods.year(YEAR))
    with pytest.raises(figures.UnknownFigure):
        figures.timeliness(data.duty, periods.year(YEAR), by="pk; drop table")
