"""Hours compliance: the table of people, roles and records with the standing expected
per person and per agency (level B rules, DOMAIN.md section 7)."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from bulwark.training import selectors, services
from bulwark.training.engine.hours import Standing, assess, load_profile
from bulwark.training.tests.conftest import World

THIS = timezone.localdate().year
LAST = THIS - 1

# role, records [(year, kind, hours)], standing for THIS year, standing for LAST year
TABLE: list[tuple[str, str, list[tuple[int, str, str]], Standing, Standing]] = [
    ("sec-met", "security_staff", [(THIS, "professional", "12")], Standing.MET, Standing.MISSED),
    ("sec-general-does-not-count", "security_staff",
     [(THIS, "professional", "6"), (THIS, "general", "10")], Standing.BEHIND, Standing.MISSED),
    ("sec-last-year", "security_staff", [(LAST, "professional", "12.5")], Standing.BEHIND,
     Standing.MET),
    ("it-two-year-rule", "it_staff", [(LAST, "professional", "3"), (THIS, "general", "3")],
     Standing.MET, Standing.MISSED),
    ("it-no-general", "it_staff", [(THIS, "professional", "3")], Standing.BEHIND, Standing.MISSED),
    ("it-split-hours", "it_staff",
     [(THIS, "professional", "1.5"), (THIS, "professional", "1.5"), (THIS, "general", "3")],
     Standing.MET, Standing.MISSED),
    ("user-met", "general", [(THIS, "general", "3")], Standing.MET, Standing.MISSED),
    ("user-professional-is-not-general", "general", [(THIS, "professional", "8")],
     Standing.BEHIND, Standing.MISSED),
    ("supervisor-short", "supervisor", [(THIS, "general", "2.5")], Standing.BEHIND,
     Standing.MISSED),
    ("supervisor-nothing", "supervisor", [], Standing.BEHIND, Standing.MISSED),
    # 2.3 + 0.7 is 2.9999999999999996 as floats (SQLite's sums): still 3 hours
    ("it-tenths-over-two-years", "it_staff",
     [(LAST, "professional", "2.3"), (THIS, "professional", "0.7"), (THIS, "general", "3")],
     Standing.MET, Standing.MISSED),
]  # fmt: skip


def test_the_level_b_rules_are_data() -> None:
    profile = load_profile("tw")
    assert [(r.kind, r.hours, r.years) for r in profile.requirements("B", "security_staff")] == [
        ("professional", Decimal(12), 1)
    ]
    assert [(r.kind, r.hours, r.years) for r in profile.requirements("B", "it_staff")] == [
        ("professional", Decimal(3), 2), ("general", Decimal(3), 1)
    ]  # fmt: skip
    assert profile.requirements("Z", "general") == ()
    assert assess((), {}, THIS, THIS).standing == Standing.NO_RULE


@pytest.fixture
def staffed(world: World) -> World:
    for number, (name, role, records, _now, _before) in enumerate(TABLE):
        learner = services.add_learner(
            world.agency_admin, world.agency, staff_id=f"T{number}", name=name,
            email=f"{name}@agency-a.gov", role=role,
        )  # fmt: skip
        for index, (year, kind, hours) in enumerate(records):
            services.add_record(learner, completed_on=date(year, 6, 1), hours=Decimal(hours),
                                kind=kind, title="Course", source="import",
                                external_id=f"{name}-{index}")  # fmt: skip
    return world


@pytest.mark.parametrize("year_index", [0, 1])
def test_each_person_has_the_standing_of_the_table(staffed: World, year_index: int) -> None:
    year = THIS if year_index == 0 else LAST
    report = selectors.compliance(staffed.agency_admin, year, staffed.agency)
    names = {p.learner_id: p for p in report.people}
    from bulwark.training.models import Learner

    got = {Learner.objects.get(pk=pk).name: str(p.assessment.standing) for pk, p in names.items()}
    for name, _role, _records, now, before in TABLE:
        assert got[name] == str(now if year_index == 0 else before), name
    # the agency's own learner (no records, "general") is behind this year too
    assert got["Lin Mei"] == ("behind" if year_index == 0 else "missed")


def test_agency_and_role_summaries(staffed: World) -> None:
    report = selectors.compliance(staffed.agency_admin, THIS, staffed.agency)
    met = sum(1 for row in TABLE if row[3] == Standing.MET)
    assert report.by_org[staffed.agency.pk].counts["met"] == met
    assert report.overall.counts["behind"] == len(TABLE) + 1 - met
    assert report.by_role["it_staff"].counts["met"] == 3
    assert report.by_role["it_staff"].counts["behind"] == 1
    missing = {
        p.learner_id: p.assessment.missing for p in report.people
        if p.assessment.standing == Standing.BEHIND
    }  # fmt: skip
    assert Decimal("0.5") in [m.get("general") for m in missing.values()]  # supervisor-short


def test_importing_the_same_record_twice_counts_once(staffed: World) -> None:
    text = "email,title,date,hours,kind,id\nuser-met@agency-a.gov,Extra,2026-03-01,2,general,X1\n"
    first = services.import_records(staffed.agency_admin, staffed.agency, text)
    second = services.import_records(staffed.agency_admin, staffed.agency, text)
    assert (first.created, second.created, second.skipped) == (1, 0, 1)


def test_a_record_import_reports_each_bad_row(staffed: World) -> None:
    text = (
        "email,title,date,hours,kind,id\n"
        "nobody@x.gov,A,2026-01-01,1,general,1\n"
        "user-met@agency-a.gov,B,yesterday,1,general,2\n"
        "user-met@agency-a.gov,C,2026-01-01,lots,general,3\n"
        "user-met@agency-a.gov,D,2026-01-01,1,fun,4\n"
        "user-met@agency-a.gov,E,2026/01/02,1.5,通識,5\n"
    )
    result = services.import_records(staffed.agency_admin, staffed.agency, text)
    assert result.created == 1
    assert [line for line, _reason in result.errors] == [2, 3, 4, 5]
    assert "not a date" in result.errors[1][1] and "neither general" in result.errors[3][1]


def test_a_record_import_without_the_needed_columns_is_refused(world: World) -> None:
    with pytest.raises(services.TrainingError, match="Missing columns"):
        services.import_records(world.agency_admin, world.agency, "name,when\nx,y\n")


def test_reminders_go_to_those_behind(staffed: World, mailoutbox: Any) -> None:
    from django.core.exceptions import PermissionDenied

    late = selectors.behind(staffed.agency_admin, staffed.agency, THIS)
    assert {learner.name for learner in late} >= {"supervisor-nothing", "it-no-general"}
    assert "user-met" not in {learner.name for learner in late}
    with pytest.raises(PermissionDenied):
        services.send_reminders(staffed.sibling_admin, staffed.agency, THIS, late)
    assert services.send_reminders(staffed.agency_admin, staffed.agency, THIS, late) == len(late)


@pytest.mark.parametrize("year_offset", [0, 1])
def test_the_counted_views_agree_with_each_persons_standing(
    staffed: World, year_offset: int
) -> None:
    """The authority's and the CERT's views count in the database; an agency's view
    assesses each person: both give the same numbers."""
    services.add_learner(staffed.sibling_admin, staffed.sibling, staff_id="S9", name="Sib",
                         email="sib@b.gov", role="security_staff")  # fmt: skip
    services.set_agency_level(staffed.analyst, staffed.sibling, "D")  # no rule at level D
    year = THIS - year_offset
    counted = selectors.compliance(staffed.analyst, year)
    for org in (staffed.agency, staffed.sibling):
        each = selectors.compliance(staffed.analyst, year, org)
        assert dict(counted.by_org[org.pk].counts) == dict(each.by_org[org.pk].counts), org
    assert counted.by_org[staffed.sibling.pk].counts["no_rule"] == 2
    assert counted.overall.counts["met"] == sum(
        1 for row in TABLE if (row[3] if year_offset == 0 else row[4]) == Standing.MET
    )


def test_the_people_list_is_ordered_and_cut_by_the_database(staffed: World) -> None:
    """The database orders an agency's people (short first, then no requirement, then
    met) and reads one page at a time; each person's standing, assessed again in Python
    from the same totals, agrees with that order and with the counts."""
    report = selectors.compliance(staffed.agency_admin, THIS, staffed.agency)
    everyone = list(report.people)
    counts = report.by_org[staffed.agency.pk].counts
    assert len(report.people) == len(everyone) == sum(counts.values()) == len(TABLE) + 1
    rank = {"behind": 0, "missed": 0, "no_rule": 1, "met": 2}
    ranks = [rank[str(p.assessment.standing)] for p in everyone]
    assert ranks == sorted(ranks)
    assert sum(1 for p in everyone if p.assessment.standing == Standing.MET) == counts["met"]
    assert [p.learner_id for p in report.people[3:6]] == [p.learner_id for p in everyone[3:6]]
    assert report.people[-1].learner_id == everyone[-1].learner_id
