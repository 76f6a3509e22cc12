"""Visibility matrix for every exercise read path (querysets, pages, API): the CERT sees
all, an authority the teams of the agencies below it, an agency its own team; a draft
exercise and an undelivered inject are the CERT's alone."""

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.conftest import bearer, sign_in
from bulwark.drills.exercises import services
from bulwark.drills.models import (
    Exercise,
    ExerciseResponse,
    ExerciseScore,
    ExerciseTeam,
    ImprovementItem,
    Inject,
)
from bulwark.drills.tests.test_exercises import Game
from bulwark.drills.tests.world import World

SEES = {
    "analyst": {"Bureau", "Office", "Grid Co"},
    "reviewer": {"Bureau", "Office"},
    "bureau_admin": {"Bureau"},
    "bureau_reporter": {"Bureau"},
    "grid_admin": {"Grid Co"},
    "nobody": set(),
}
ORGS = {"Bureau", "Office", "Grid Co"}


@pytest.fixture
def played(world: World) -> Game:
    game = Game(world)
    game.started()
    expectation = game.first.expectations.order_by("pk")[0]
    for org, who in (
        (world.bureau, world.bureau_reporter),
        (world.office, world.office_admin),
        (world.grid, world.grid_admin),
    ):
        team = game.team(org)
        services.respond(who, expectation, team, text=f"Answer of {org.name}")
        services.score(game.judge, expectation, team, points=50, comment=f"Comment on {org.name}")
    services.end(world.analyst, game.exercise)
    services.write_lessons(world.analyst, game.exercise, lessons="Keep backups offline.")
    services.publish_report(world.analyst, game.exercise)
    for org in (world.bureau, world.office, world.grid):
        services.add_item(
            world.analyst,
            game.exercise,
            organisation=org,
            title=f"Item of {org.name}",
            due_on=timezone.localdate(),
        )
    game.draft = services.create_exercise(  # type: ignore[attr-defined]
        world.analyst,
        organisations=[world.bureau, world.office, world.grid],
        title="Secret draft",
        kind="tabletop",
        scope="national",
        role="held",
        scenario_en="Not yet.",
        planned_start=timezone.now(),
    )
    return game


@pytest.mark.parametrize("who", list(SEES))
def test_querysets(world: World, played: Game, who: str) -> None:
    user = getattr(world, who)
    expected = SEES[who]
    exercises = set(Exercise.objects.visible_to(user).values_list("title", flat=True))
    assert exercises == ({"Ransomware at the grid"} if expected else set()) | (
        {"Secret draft"} if who == "analyst" else set()
    )
    teams = ExerciseTeam.objects.visible_to(user).filter(exercise=played.exercise)
    assert {t.organisation.name for t in teams} == expected
    assert {r.team.organisation.name for r in ExerciseResponse.objects.visible_to(user)} == expected
    assert {s.team.organisation.name for s in ExerciseScore.objects.visible_to(user)} == expected
    assert {i.organisation.name for i in ImprovementItem.objects.visible_to(user)} == expected
    injects = set(Inject.objects.visible_to(user).values_list("title", flat=True))
    # The second inject was never delivered: only the CERT sees it.
    assert injects == (
        {"Ransom note", "Press call"}
        if who == "analyst"
        else {"Ransom note"}
        if expected
        else set()
    )


@pytest.mark.parametrize("who", list(SEES))
def test_pages(world: World, played: Game, client: Client, who: str) -> None:
    sign_in(client, getattr(world, who))
    expected = SEES[who]
    pk = played.exercise.pk
    listing = client.get("/drills/exercises/").content.decode()
    assert ("Ransomware at the grid" in listing) == bool(expected)
    assert ("Secret draft" in listing) == (who == "analyst")
    draft = client.get(f"/drills/exercises/{played.draft.pk}/")  # type: ignore[attr-defined]
    assert draft.status_code == (200 if who == "analyst" else 404)
    pages = [
        f"/drills/exercises/{pk}/",
        f"/drills/exercises/{pk}/timeline/",
        f"/drills/exercises/{pk}/report/",
    ]
    if not expected:
        for url in pages:
            assert client.get(url).status_code == 404, url
        return
    detail, timeline, report = (client.get(u).content.decode() for u in pages)
    assert ("Press call" in detail) == (who == "analyst")
    for name in ORGS:
        shown = name in expected
        assert (f'data-organisation="{name}"' in detail) == shown, name
        assert (f"Answer of {name}" in timeline) == shown, name
        assert (f"Comment on {name}" in timeline) == shown, name
        assert (f'data-organisation="{name}"' in report) == shown, name
        assert (f"Item of {name}" in report) == shown, name
    assert "Keep backups offline." in report  # published: every team reads the lessons


@pytest.mark.parametrize("who", list(SEES))
def test_api(world: World, played: Game, client: Client, who: str) -> None:
    headers: dict[str, Any] = bearer(getattr(world, who), ["drills:read"], within_role=True)
    expected = SEES[who]
    pk = played.exercise.pk
    listing = client.get("/api/v1/drills/exercises/", **headers).json()["results"]
    titles = {x["title"] for x in listing}
    assert ("Ransomware at the grid" in titles) == bool(expected)
    assert ("Secret draft" in titles) == (who == "analyst")
    detail = client.get(f"/api/v1/drills/exercises/{pk}/", **headers)
    assert detail.status_code == (200 if expected else 404)
    injects = client.get(f"/api/v1/drills/exercises/{pk}/injects/", **headers)
    if expected:
        titles = {i["title"] for i in injects.json()}
        assert ("Press call" in titles) == (who == "analyst")
    else:
        assert injects.status_code == 404
    all_injects = client.get("/api/v1/drills/injects/", **headers).json()["results"]
    assert ("Press call" in {i["title"] for i in all_injects}) == (who == "analyst")
    for path in ("responses", "scores"):
        rows = client.get(f"/api/v1/drills/{path}/", **headers).json()["results"]
        assert {r["organisation_name"] for r in rows} == expected, path
    items = client.get("/api/v1/drills/items/", **headers).json()["results"]
    assert {i["organisation_name"] for i in items} == expected
