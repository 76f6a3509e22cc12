"""Learners: CSV import with per-row errors, sign-in by password or one-time link, and
the wall between learners and the platform (a learner reaches no platform page and no API
beyond their own training pages); the visibility matrix of every staff read path."""

import re
from typing import Any

import pytest
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.training import services
from bulwark.training.models import Learner, TrainingRecord
from bulwark.training.tests.conftest import World

CSV = (
    "staff_id,name,email,role,unit,groups\n"
    "A-10,Wang Hao,hao@agency-a.gov,security_staff,IT,Team 1\n"
    "A-11,Lee Ann,ann@agency-a.gov,資訊人員,IT,Team 1;Team 2\n"
    "A-12,,blank@agency-a.gov,general,,\n"
    "A-13,Bad Mail,not-an-address,general,,\n"
    "A-14,Bad Role,role@agency-a.gov,astronaut,,\n"
    "A-15,Taken,wei@agency-b.gov,general,,\n"
)


def test_csv_import_keeps_good_rows_and_says_why_each_bad_one_failed(world: World) -> None:
    result = services.import_learners(world.agency_admin, world.agency, CSV)
    assert (result.created, result.updated) == (2, 0)
    assert [line for line, _ in result.errors] == [4, 5, 6, 7]
    reasons = " | ".join(reason for _, reason in result.errors)
    assert "required" in reasons and "not an e-mail" in reasons and "Unknown role" in reasons
    assert "belongs to another learner" in reasons
    ann = Learner.objects.get(staff_id="A-11")
    assert ann.role == "it_staff" and {g.name for g in ann.groups.all()} == {"Team 1", "Team 2"}
    again = services.import_learners(world.agency_admin, world.agency, CSV)
    assert (again.created, again.updated) == (0, 2)


def test_another_agency_cannot_import_into_this_one(world: World) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.import_learners(world.sibling_admin, world.agency, CSV)
    with pytest.raises(services.TrainingError, match="Missing columns"):
        services.import_learners(world.agency_admin, world.agency, "who,what\n1,2\n")


def test_the_import_page_shows_each_row_error(world: World, client: Client) -> None:
    sign_in(client, world.agency_admin)
    response = client.post(
        "/training/learners/", {"organisation": world.agency.pk, "csv": CSV, "kind": "learners"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Line 5" in page and "not-an-address" in page


def test_password_sign_in_reaches_only_the_learner_pages(world: World, client: Client) -> None:
    response = client.post(
        "/training/learn/sign-in/", {"email": "mei@agency-a.gov", "password": "learner-pass-123"}
    )
    assert response.status_code == 302 and response["Location"] == "/training/learn/"
    home = client.get("/training/learn/")
    assert home.status_code == 200 and "Lin Mei" in home.content.decode()
    # The platform does not know this visitor: every staff page asks for a platform sign-in.
    for path in ("/", "/incidents/", "/training/", "/training/learners/",
                 "/training/compliance/", "/organisations/"):  # fmt: skip
        response = client.get(path)
        assert response.status_code in (302, 403), path
        assert response.get("Location", "").startswith("/accounts/login/"), path
    for path in ("/api/v1/training/learners/", "/api/v1/training/records/",
                 "/api/v1/incidents/"):  # fmt: skip
        assert client.get(path).status_code in (401, 403), path


def test_a_wrong_password_and_a_deactivated_learner_are_refused(world: World) -> None:
    client = Client()
    bad = client.post("/training/learn/sign-in/", {"email": "mei@agency-a.gov", "password": "x"})
    assert bad.status_code == 400
    services.deactivate_learner(world.agency_admin, world.learner)
    gone = client.post(
        "/training/learn/sign-in/", {"email": "mei@agency-a.gov", "password": "learner-pass-123"}
    )
    assert gone.status_code == 400


def test_a_sign_in_link_works_once(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from bulwark.conftest import run_queued_tasks

    with django_capture_on_commit_callbacks(execute=True):
        url = services.issue_sign_in_link(world.agency_admin, world.learner, "http://testserver/")
    run_queued_tasks()
    assert url in mailoutbox[-1].body
    path = re.sub(r"^http://testserver", "", url)
    client = Client()
    assert client.get(path).status_code == 200  # a mail scanner's GET uses nothing up
    assert client.post(path).status_code == 302
    assert client.get("/training/learn/").status_code == 200
    assert Client().post(path).status_code == 400  # used


def test_a_password_change_ends_other_sessions(world: World) -> None:
    first, second = Client(), Client()
    for c in (first, second):
        c.post("/training/learn/sign-in/",
               {"email": "mei@agency-a.gov", "password": "learner-pass-123"})  # fmt: skip
    first.post("/training/learn/", {"password": "a-new-long-password"})
    assert first.get("/training/learn/").status_code == 200
    assert second.get("/training/learn/").status_code == 302


def test_a_learner_sees_only_their_own_courses_and_certificates(world: World) -> None:
    services.enrol(world.sibling_admin, world.course, world.sibling, everyone=True)
    client = Client()
    client.post("/training/learn/sign-in/",
                {"email": "mei@agency-a.gov", "password": "learner-pass-123"})  # fmt: skip
    # Not enrolled: the course is not theirs.
    assert client.get("/training/learn/courses/awareness/").status_code == 404
    services.enrol(world.agency_admin, world.course, world.agency, everyone=True)
    assert client.get("/training/learn/courses/awareness/").status_code == 200
    # Someone else's attempt and certificate are not found.
    other = services.start_attempt(world.other_learner, world.exam)
    assert client.get(f"/training/learn/attempts/{other.pk}/").status_code == 404
    saved = client.post(f"/training/learn/attempts/{other.pk}/answer/",
                        {"question": other.question_ids[0], "chosen": ["a"], "revision": 1},
                        content_type="application/json")  # fmt: skip
    assert saved.status_code == 404


# --- The visibility matrix of the staff read paths --------------------------------------------

# who -> which learners they see (by name)
EXPECTED = {
    "analyst": {"Lin Mei", "Chen Wei"},
    "authority_admin": {"Lin Mei", "Chen Wei"},
    "agency_admin": {"Lin Mei"},
    "sibling_admin": {"Chen Wei"},
    "stranger_admin": set(),
}


@pytest.fixture
def recorded(world: World) -> World:
    from datetime import date
    from decimal import Decimal

    for learner in (world.learner, world.other_learner):
        services.add_record(learner, completed_on=date(2026, 5, 1), hours=Decimal(3),
                            kind="general", title="Course", source="manual")  # fmt: skip
    return world


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_visibility_of_learners_records_and_compliance(recorded: World, who: str) -> None:
    user = getattr(recorded, who)
    names = {learner.name: learner for learner in Learner.objects.all()}
    expected_ids = {names[n].pk for n in EXPECTED[who]}
    # querysets
    assert set(Learner.objects.visible_to(user).values_list("pk", flat=True)) == expected_ids
    assert set(TrainingRecord.objects.visible_to(user).values_list("learner_id", flat=True)) == (
        expected_ids
    )
    # pages
    client = sign_in(Client(), user)
    page = client.get("/training/learners/").content.decode()
    for name, learner in names.items():
        assert (name in page) is (learner.pk in expected_ids), (who, name)
    compliance = client.get("/training/compliance/?year=2026").content.decode()
    for org in (recorded.agency, recorded.sibling):
        shows = any(names[n].organisation_id == org.pk for n in EXPECTED[who])
        assert (org.name in compliance) is shows, (who, org.name)
    # API
    headers = bearer(user, ["training:read"])
    api = Client()
    listed = api.get("/api/v1/training/learners/", **headers).json()["results"]
    assert {row["id"] for row in listed} == expected_ids
    records = api.get("/api/v1/training/records/", **headers).json()["results"]
    assert {row["learner"] for row in records} == expected_ids
    statements = api.get("/api/v1/training/records/xapi/", **headers).json()["statements"]
    emails = {s["actor"]["mbox"].removeprefix("mailto:") for s in statements}
    assert emails == {names[n].email for n in EXPECTED[who]}
    report = api.get("/api/v1/training/compliance/?year=2026", **headers).json()
    assert {row["organisation"] for row in report["by_organisation"]} == {
        names[n].organisation_id for n in EXPECTED[who]
    }
    # another agency's per-person compliance is not found
    if who in ("sibling_admin", "stranger_admin"):
        denied = api.get(
            f"/api/v1/training/compliance/?organisation={recorded.agency.pk}", **headers
        )
        assert denied.status_code == 404
