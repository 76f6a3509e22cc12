"""The statistics pages' drill figures (issue 22): campaigns with their human rates,
exercises, and the agencies' statutory drill compliance, counted live as each reader may
see them (an agency its own, an authority its agencies, the CERT all), by the same drills
selectors as the annual report's "Drills & exercises" section."""

from typing import Any

from django.test import Client
from django.utils import translation

from bulwark.analytics import figures, periods
from bulwark.analytics.tests.test_report_activities import YEAR, facts
from bulwark.analytics.tests.test_report_activities import World as ReportWorld
from bulwark.analytics.tests.test_report_activities import world as world
from bulwark.conftest import bearer, sign_in


def figure(key: str, user: Any) -> Any:
    with translation.override("en"):
        return figures.compute(key, user, periods.year(YEAR))


def test_campaign_figures_follow_what_each_reader_may_see(world: ReportWorld) -> None:
    # The CERT: the campaign over its three agencies (Alice of four people clicked).
    (row,) = figure("drill_campaigns", world.analyst).rows
    assert row[0].startswith("Invoice lure") and row[1:6] == (4, 25.0, 25.0, 0.0, 3)
    # Bureau sees its own two people; the ministry its two agencies; Grid Co its one.
    assert figure("drill_campaigns", world.bureau_admin).rows[0][1:6] == (2, 50.0, 50.0, 0.0, 1)
    assert figure("drill_campaigns", world.reviewer).rows[0][1:6] == (3, 33.3, 33.3, 0.0, 2)
    assert figure("drill_campaigns", world.grid_admin).rows[0][1:6] == (1, 0.0, 0.0, 0.0, 1)
    # Someone of no organisation sees no campaign at all.
    assert figure("drill_campaigns", world.nobody).rows == ()
    # The same counting as the annual report's section (one selector for both).
    assert facts(world.bureau_admin)["drills"]["Human click rate"] == "50.0 %"


def test_drill_compliance_counts_only_the_reader_s_agencies(world: ReportWorld) -> None:
    cert = figure("drill_compliance", world.analyst)
    # Bureau and Grid Co owe two social-engineering drills and one response drill a year.
    assert sum(sum(row[1:]) for row in cert.rows) == 6 and "due in the period: 2" in cert.note
    bureau = figure("drill_compliance", world.bureau_admin)
    assert sum(sum(row[1:]) for row in bureau.rows) == 3 and "due in the period: 1" in bureau.note
    assert sum(sum(row[1:]) for row in figure("drill_compliance", world.office_admin).rows) == 0


def test_exercise_figures_are_in_the_period(world: ReportWorld) -> None:
    from bulwark.drills.tests.test_exercises import Game

    assert figure("drill_exercises", world.analyst).total == 0
    Game(world).started()  # tabletop, national, teams of Bureau, Office and Grid Co
    held = figure("drill_exercises", world.analyst)
    assert ("Tabletop, National", 1, 0) in held.rows and "Agencies with a team: 3" in held.note
    assert "Agencies with a team: 1" in figure("drill_exercises", world.bureau_admin).note
    assert figure("drill_exercises", world.nobody).total == 0
    with translation.override("en"):
        other_year = figures.compute("drill_exercises", world.analyst, periods.year(YEAR - 1))
    assert other_year.total == 0


def test_the_drills_tab_and_api_show_only_the_reader_s_figures(
    world: ReportWorld, client: Client
) -> None:
    sign_in(client, world.bureau_admin)
    page = client.get(f"/stats/?group=drills&period={YEAR}").content.decode()
    assert "Social-engineering campaigns" in page and "Invoice lure" in page
    assert "Agencies&#x27; statutory drills" in page or "Agencies' statutory drills" in page
    token = bearer(world.grid_admin, ["stats:read"], within_role=True)
    data = client.get(f"/api/v1/stats/drill_campaigns/?period={YEAR}", **token).json()
    assert [row[1:6] for row in data["rows"]] == [[1, 0.0, 0.0, 0.0, 1]]
