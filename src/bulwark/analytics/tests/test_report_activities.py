"""The annual report's "Drills & exercises", "Audits & findings" and "Training &
competitions" sections: counted live from the apps as the reader sees them (the CERT all,
an agency its own rows: nothing of another agency reaches its report), in the HTML page
and the PDF, in both languages."""

import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bulwark.analytics import periods, report, report_activities
from bulwark.core.tests.pdftext import pdf_text
from bulwark.drills import services as drills
from bulwark.drills.models import DrillEvent, EventKind
from bulwark.drills.tests.world import World as DrillWorld
from bulwark.findings import services as findings
from bulwark.findings.tests.world import nessus
from bulwark.training.services import competitions, learners, records

YEAR = timezone.localdate().year


class World(DrillWorld):
    """The drills world (CERT; Ministry over Bureau and Office; Grid Co in Energy), with
    one campaign held, the statutory drill calendar, an engagement with findings for
    Bureau and for Grid Co, learners with and without their hours, and a competition."""

    def __init__(self) -> None:
        super().__init__()
        campaign = self.launched("Invoice lure")
        for r in campaign.recipients.all():
            drills.record_outcome(r, at=timezone.now() - timedelta(hours=3))
        alice = campaign.recipients.get(email="alice@bureau.example.org")
        assert alice.sent_at is not None
        DrillEvent.objects.create(
            recipient=alice, campaign=campaign, kind=EventKind.CLICKED,
            at=alice.sent_at + timedelta(minutes=5),
        )  # fmt: skip
        drills.roll_up([alice.pk])  # the outcome columns the results read, as a hit keeps them
        drills.finish(self.analyst, campaign)
        for org in (self.bureau, self.grid):
            drills.plan_calendar(self.analyst, org, level="A", year=YEAR)
        today = timezone.localdate()
        bureau_hosts = {"10.1.0.1": [(443, "4001", 3, ""), (22, "4002", 2, "")]}
        grid_hosts = {"10.9.0.1": [(443, "4101", 4, "CVE-2024-3333")]}
        for org, title, hosts in (
            (self.bureau, "Bureau audit", bureau_hosts),
            (self.grid, "Grid Co pentest", grid_hosts),
        ):
            engagement = findings.create_engagement(
                self.analyst, org, kind="pentest", title=title, starts_on=today
            )
            findings.import_scan(self.analyst, engagement, io.BytesIO(nessus(hosts)), "s.nessus")
        met = learners.add_learner(
            self.analyst, self.bureau, staff_id="b-1", name="Bea", email="bea@bureau.example.org",
            role="general",
        )  # fmt: skip
        records.add_record(
            met, completed_on=date(YEAR, 1, 15), hours=Decimal("3"), kind="general",
            title="Awareness", source="manual",
        )  # fmt: skip
        learners.add_learner(
            self.analyst, self.grid, staff_id="g-1", name="Gil", email="gil@grid.example.org",
            role="general",
        )  # fmt: skip
        event = competitions.create_competition(
            self.analyst, self.cert, slug="ctf", name="National CTF",
            starts_at=timezone.now() - timedelta(days=1), ends_at=timezone.now(),
            registration_open=True,
        )  # fmt: skip
        for name, category, org, school in (
            ("Bea", "agency", self.bureau, ""),
            ("Gil", "agency", self.grid, ""),
            ("Sam", "school", None, "High School"),
        ):
            competitions.register_participant(
                event, name=name, email=f"{name.lower()}@example.org", category=category,
                organisation=org, school=school,
            )  # fmt: skip


@pytest.fixture
def world(db: Any) -> World:
    return World()


def facts(user: Any) -> dict[str, dict[str, str]]:
    with translation.override("en"):
        found = report_activities.activities(user, periods.year(YEAR))
    return {key: dict(section.facts) for key, section in found.items()}


def test_the_cert_counts_every_agency(world: World) -> None:
    f = facts(world.analyst)
    assert f["drills"]["Campaigns held"] == "1"
    assert f["drills"]["Agencies taking part"] == "3"
    assert f["drills"]["Messages delivered"] == "4"
    assert f["drills"]["Human click rate"] == "25.0 %"  # Alice, of four people
    assert f["findings"]["Engagements started"] == "2"
    assert f["findings"]["Findings first seen in the year"] == "3"
    assert f["training"]["People with statutory hours"] == "2"
    assert f["training"]["Met their hours"] == "50.0 %"
    assert f["training"]["Competition participants"] == "3"


def test_an_agency_sees_only_its_own(world: World) -> None:
    f = facts(world.bureau_admin)
    assert f["drills"]["Agencies taking part"] == "1"
    assert f["drills"]["Messages delivered"] == "2"
    assert f["drills"]["Human click rate"] == "50.0 %"
    assert f["findings"]["Engagements started"] == "1"
    assert f["findings"]["Findings first seen in the year"] == "2"
    assert f["training"]["People with statutory hours"] == "1"
    assert f["training"]["Met their hours"] == "100.0 %"
    assert f["training"]["Competition participants"] == "1"
    page = report.render_html(world.bureau_admin, YEAR, "en")
    # Nothing of Grid Co (another agency), its sector or its critical finding.
    assert "Grid Co" not in page and "Energy" not in page and "Critical</th>" in page
    assert "Sam" not in page and "High School" not in page
    # The authority above Bureau and Office sees both, not Grid Co.
    authority = facts(world.reviewer)
    assert authority["drills"]["Agencies taking part"] == "2"
    assert authority["findings"]["Findings first seen in the year"] == "2"


def test_the_drill_calendar_and_sector_tables(world: World) -> None:
    with translation.override("en"):
        found = report_activities.activities(world.analyst, periods.year(YEAR))
    tables = {t.key: t for s in found.values() for t in s.tables}
    calendar = tables["drill_calendar"]
    assert calendar.columns == ["Drill", "done", "late", "missing", "due"]
    # Two agencies at level A: each row counts obligations of both.
    due_in_year = sum(int(c) for row in calendar.rows for c in row[1:])
    assert due_in_year > 0 and due_in_year % 2 == 0
    sectors = {row[0]: row for row in tables["findings_by_sector"].rows}
    assert sectors["Energy"][1] == "1"  # Grid Co's critical finding
    assert sectors["—"][-1] == "2"  # Bureau has no sector: one high, one medium
    hours = {row[0]: row for row in tables["hours_by_agency"].rows}
    assert hours["Grid Co"][-1] == "0.0 %" and hours["Bureau"][-1] == "100.0 %"


@pytest.mark.parametrize("lang", ["en", "zh-hant"])
def test_html_and_pdf_carry_the_sections(world: World, lang: str) -> None:
    page = report.render_html(world.analyst, YEAR, lang)
    pdf = pdf_text(report.render_pdf(world.analyst, YEAR, lang))
    with translation.override(lang):
        titles = [_("Drills & exercises"), _("Audits & findings"), _("Training & competitions")]
        heads = [_("Social-engineering campaigns"), _("Findings by sector and severity"),
                 _("Statutory training hours by role")]  # fmt: skip
    if lang != "en":
        assert titles[0] != "Drills & exercises"
    for text in (*titles, *heads):
        assert text in page, text
        assert text in pdf, text
    assert "Invoice lure" in pdf and "National CTF" in pdf


def exercise_table(user: Any) -> Any:
    with translation.override("en"):
        found = report_activities.activities(user, periods.year(YEAR))
    return {t.key: t for t in found["drills"].tables}.get("exercises")


def test_exercises_held_and_taken_part_in(world: World) -> None:
    from bulwark.drills.exercises import services as exercises
    from bulwark.drills.tests.test_exercises import Game

    assert exercise_table(world.analyst) is None  # no exercise: no empty table
    held = Game(world)  # tabletop, national, teams for Bureau, Office and Grid Co
    held.started()
    expectation = held.first.expectations.order_by("pk")[0]
    exercises.score(held.judge, expectation, held.team(world.bureau), points=40)
    exercises.score(held.judge, expectation, held.team(world.grid), points=100)
    exercises.end(world.analyst, held.exercise)
    exercises.add_item(
        world.analyst, held.exercise, organisation=world.grid, title="Patch",
        due_on=timezone.localdate(),
    )  # fmt: skip
    table = exercise_table(world.analyst)
    assert table.rows == [["Tabletop, National", "1", "0"], ["All exercises", "1", "0"]]
    assert "Agencies with a team: 3" in table.note and "Mean score: 70.0 %" in table.note
    assert "1 open" in table.note
    # Bureau's report counts its own team's score and no item of Grid Co's.
    mine = exercise_table(world.bureau_admin)
    assert "Agencies with a team: 1" in mine.note and "Mean score: 40.0 %" in mine.note
    assert "0 open" in mine.note
    page = report.render_html(world.bureau_admin, YEAR, "en")
    assert "Exercises held and taken part in" in page and "Mean score: 40.0 %" in page
