"""The demo history: every figure of the annual report has data in each of the two full
years before this one (so year-on-year and forecasts mean something), in the source
report's proportions, and loading the demo again adds nothing."""

from datetime import timedelta
from typing import Any

from django.db.models import Count, F, Sum
from django.utils import timezone

from bulwark.advisories.models import Advisory, Target
from bulwark.analytics import demo, figures, periods
from bulwark.constituency import demo as constituency_demo
from bulwark.constituency.models import User
from bulwark.exchange.models import Event, EventNotice, NotificationReply, Report
from bulwark.incidents.models import Incident, IncidentCount, Referral
from bulwark.intel import demo as intel_demo
from bulwark.intel.models import StixObject


def _counts() -> dict[str, int]:
    return {
        "incidents": Incident.objects.count(),
        "referrals": Referral.objects.count(),
        "reports": Report.objects.count(),
        "events": Event.objects.count(),
        "notifications": EventNotice.objects.count(),
        "replies": NotificationReply.objects.count(),
        "stix": StixObject.objects.count(),
        "advisories": Advisory.objects.count(),
        "targets": Target.objects.count(),
    }


def test_history_fills_every_figure_for_two_years_and_loads_once(
    db: Any, settings: Any, tmp_path: Any
) -> None:
    """One load (about ten seconds), then every property the demo promises."""
    settings.MEDIA_ROOT = str(tmp_path)  # the raw reports are written here
    constituency_demo.load()
    intel_demo.load()  # the community collection the shared items go to
    made = demo.load()
    assert all(n > 0 for n in made.values()), made
    year = timezone.now().year
    for y in (year - 2, year - 1):
        _report_proportions(y)
    _five_figures_and_year_on_year(year - 1)
    _clocks_met_and_late_nothing_in_the_future()
    _seasonal_and_growing(year - 1)

    before = _counts()
    assert demo.load() == dict.fromkeys(made, 0)
    assert _counts() == before


def _report_proportions(year: int) -> None:
    agencies = Incident.objects.filter(
        reported_at__year=year, organisation__kind="government_agency", is_drill=False
    )
    assert agencies.count() > 150
    assert agencies.filter(rsit_class="intrusions").count() > agencies.count() / 2
    levels = dict(agencies.values_list("level").annotate(n=Count("id")).order_by())
    assert levels.get(1, 0) + levels.get(2, 0) > 0.8 * agencies.count()

    foreign = Event.objects.exclude(report__foreign_ticket="").filter(time_observation__year=year)
    assert foreign.count() > 400
    infected = foreign.filter(classification_type="infected-system").count()
    assert 0.45 < infected / foreign.count() < 0.62

    shared = StixObject.objects.filter(date_added__year=year, category__isnull=False)
    assert shared.count() > 2000
    top = shared.values_list("category__code").annotate(n=Count("id")).order_by("-n")[0]
    assert top[0] == "early-warning"
    assert shared.values("tlp").distinct().count() >= 3

    sent = Advisory.objects.filter(status="sent", sent_at__year=year)
    assert sent.count() > 200
    targets = Target.objects.filter(advisory__in=sent)
    assert targets.filter(acknowledged_at__isnull=False).count() > targets.count() / 2
    assert targets.exclude(action="").exists()

    abroad = EventNotice.objects.filter(
        recipient__kind="foreign_cert", sent_at__year=year, status="sent"
    )
    assert abroad.values("recipient").distinct().count() >= 8
    assert abroad.aggregate(n=Sum("event_count"))["n"] > 1500


def _five_figures_and_year_on_year(year: int) -> None:
    duty = User.objects.get(username="duty")
    last_year = periods.year(year)
    for figure in figures.five_figures(duty, last_year):
        assert figure.rows, figure.key
        assert sum(row[1] for row in figure.rows) > 0, figure.key
    indicators = figures.compute("indicators", duty, last_year)
    assert sum(row[3] for row in indicators.rows) > 0  # shared values were sighted
    by_level = figures.compute("incidents_by_level", duty, last_year)
    # Levels 1 and 2 have the year before to compare with.
    assert [row[3] > 0 for row in by_level.rows[:2]] == [True, True]


def _clocks_met_and_late_nothing_in_the_future() -> None:
    now = timezone.now()
    mine = Incident.objects.filter(description__startswith=demo.MARKER)
    on_time = mine.filter(reported_at__lte=F("aware_at") + timedelta(hours=1)).count()
    late = mine.filter(reported_at__gt=F("aware_at") + timedelta(hours=1)).count()
    assert on_time > 4 * late > 0
    assert mine.filter(recovered_at__gt=F("aware_at") + timedelta(hours=72)).exists()
    assert mine.filter(is_drill=True).exists()
    assert Referral.objects.filter(incident__in=mine).exists()
    for field in ("reported_at", "reviewed_at", "recovered_at", "final_report_at", "closed_at"):
        assert not mine.filter(**{f"{field}__gt": now}).exists(), field
    # A closed case has its final report; the counts the triggers keep agree.
    assert not mine.filter(status="closed", final_reports__isnull=True).exists()
    assert IncidentCount.objects.aggregate(n=Sum("n"))["n"] == Incident.objects.count()
    # The notifier has nothing left to send from the history.
    assert not Event.objects.filter(
        notification__isnull=True, recipient__isnull=False, report__file_name__startswith="history-"
    ).exists()


def _seasonal_and_growing(year: int) -> None:
    shared = StixObject.objects.filter(category__isnull=False)
    february = shared.filter(date_added__year=year, date_added__month=2).count()
    october = shared.filter(date_added__year=year, date_added__month=10).count()
    assert february < october
    this, before = (shared.filter(date_added__year=y).count() for y in (year, year - 1))
    assert this > before
