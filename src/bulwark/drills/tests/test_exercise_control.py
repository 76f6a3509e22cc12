"""Session 31's exercise work: injects edited and deleted until delivered (services,
pages, API; a delivered inject immutable, said clearly), the timeline exported as CSV
and PDF (each reader their own part), per-team player lists (e-mail, in-app notices and
visibility follow them), outside evaluators of international exercises (who see that
exercise only, and score it), and the timeline's folding layout."""

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from bulwark.conftest import bearer, run_queued_tasks, sign_in
from bulwark.core.models import AuditEntry, Notification
from bulwark.core.tests.pdftext import pdf_text
from bulwark.drills.exercises import services
from bulwark.drills.models import (
    Campaign,
    Exercise,
    ExerciseResponse,
    ExerciseScore,
    ExerciseTeam,
    ImprovementItem,
    Inject,
)
from bulwark.drills.tests.conftest import Inbox
from bulwark.drills.tests.test_exercises import Game
from bulwark.drills.tests.world import World
from bulwark.incidents.models import Incident


@pytest.fixture
def game(world: World) -> Game:
    return Game(world)


# --- 1. editing and deleting injects until they are delivered -------------------------


def test_an_inject_changes_until_it_is_delivered(world: World, game: Game) -> None:
    services.update_inject(
        world.analyst, game.second, title="Press call (TV)", body_en="A TV crew calls.",
        offset_minutes=45, channel=Inject.Channel.EMAIL,
        expectations=[("manual", "Hold a press line", 20), ("detection", "Spot the leak", 5)],
    )  # fmt: skip
    second = Inject.objects.get(pk=game.second.pk)
    assert (second.title, second.offset_minutes, second.channel) == ("Press call (TV)", 45, "email")
    assert [e.description for e in second.expectations.order_by("pk")] == [
        "Hold a press line",
        "Spot the leak",
    ]
    entry = AuditEntry.objects.get(action="drill.inject_updated")
    assert entry.changes["offset_minutes"] == [30, 45]
    with pytest.raises(PermissionDenied):
        services.update_inject(game.judge, second, title="x", body_en="x", offset_minutes=1)
    with pytest.raises(ValidationError, match="Between"):
        services.update_inject(world.analyst, second, title="x", body_en="x", offset_minutes=-1)
    with pytest.raises(ValidationError, match="1-1000 points"):
        services.update_inject(
            world.analyst, second, title="x", body_en="x", offset_minutes=1,
            expectations=[("manual", "x", 0)],
        )  # fmt: skip
    # Delivered (offset 0 at the start): immutable, and the refusal says why.
    game.started()
    for call in (
        lambda: services.update_inject(
            world.analyst, game.first, title="x", body_en="x", offset_minutes=0
        ),
        lambda: services.delete_inject(world.analyst, game.first),
    ):
        with pytest.raises(ValidationError, match="delivered inject cannot be changed"):
            call()
    assert Inject.objects.get(pk=game.first.pk).title == "Ransom note"
    services.delete_inject(world.analyst, second)
    assert not Inject.objects.filter(pk=second.pk).exists()
    assert AuditEntry.objects.get(action="drill.inject_deleted").changes["title"] == (
        "Press call (TV)"
    )


def test_editing_on_the_pages(world: World, game: Game, client: Client) -> None:
    base = f"/drills/exercises/{game.exercise.pk}"
    sign_in(client, world.analyst)
    form = client.get(f"{base}/injects/{game.second.pk}/edit/")
    assert form.status_code == 200
    html = form.content.decode()
    assert 'value="Press call"' in html and 'value="Answer the press"' in html
    bad = client.post(f"{base}/injects/{game.second.pk}/edit/", {"title": "", "body_en": "x"})
    assert bad.status_code == 400 and "This field is required." in bad.content.decode()
    done = client.post(
        f"{base}/injects/{game.second.pk}/edit/",
        {"title": "Press call (radio)", "offset_minutes": "40", "channel": "in_app",
         "body_en": "A radio host calls.", "kind_1": "manual", "expect_1": "Brief the host",
         "points_1": "30"},
        follow=True,
    )  # fmt: skip
    page = done.content.decode()
    assert "Inject saved." in page and "Press call (radio)" in page and "Brief the host" in page
    assert "Answer the press" not in page
    game.started()
    detail = client.get(f"{base}/").content.decode()
    assert "Delivered: this inject can no longer be changed or deleted." in detail
    assert f"/injects/{game.first.pk}/edit/" not in detail
    assert f"/injects/{game.second.pk}/edit/" in detail
    locked = client.get(f"{base}/injects/{game.first.pk}/edit/").content.decode()
    assert "a delivered inject cannot be changed or deleted" in locked
    assert 'id="save-inject"' not in locked
    refused = client.post(f"{base}/injects/{game.first.pk}/delete/", follow=True)
    assert "a delivered inject cannot be changed" in refused.content.decode()
    assert Inject.objects.filter(pk=game.first.pk).exists()
    gone = client.post(f"{base}/injects/{game.second.pk}/delete/", follow=True)
    assert "Inject deleted." in gone.content.decode()
    assert not Inject.objects.filter(pk=game.second.pk).exists()
    # A player never reaches the edit page or deletes (the evaluator is refused too).
    sign_in(client, world.bureau_admin)
    assert client.get(f"{base}/injects/{game.first.pk}/edit/").status_code == 403
    assert client.post(f"{base}/injects/{game.first.pk}/delete/").status_code == 403
    sign_in(client, game.judge)
    assert client.get(f"{base}/injects/{game.first.pk}/edit/").status_code == 403


def test_editing_over_the_api(world: World, game: Game, client: Client) -> None:
    cert = bearer(world.analyst, ["drills:read", "drills:write"], within_role=True)
    url = f"/api/v1/drills/injects/{game.second.pk}/"
    patched = client.patch(url, {"offset_minutes": 50}, content_type="application/json", **cert)
    assert patched.status_code == 200, patched.content
    assert patched.json()["offset_minutes"] == 50 and patched.json()["title"] == "Press call"
    assert [e["description"] for e in patched.json()["expectations"]] == ["Answer the press"]
    put = client.put(
        url,
        {"title": "Press call", "body_en": "Two journalists.", "offset_minutes": 20,
         "expectations": [{"kind": "manual", "description": "One spokesperson", "points": 40}]},
        content_type="application/json", **cert,
    )  # fmt: skip
    assert put.status_code == 200 and put.json()["expectations"][0]["points"] == 40
    junk = client.patch(url, {"offset_minutes": "soon"}, content_type="application/json", **cert)
    assert junk.status_code == 400
    game.started()
    first = f"/api/v1/drills/injects/{game.first.pk}/"
    frozen = client.patch(first, {"title": "x"}, content_type="application/json", **cert)
    assert frozen.status_code == 400
    assert "a delivered inject cannot be changed" in frozen.json()["detail"]
    assert client.delete(first, **cert).status_code == 400
    player = bearer(world.bureau_admin, ["drills:read", "drills:write"], within_role=True)
    assert client.delete(first, **player).status_code == 403
    assert client.delete(url, **cert).status_code == 204
    assert not Inject.objects.filter(pk=game.second.pk).exists()


# --- 2. the timeline exported ----------------------------------------------------------


@pytest.fixture
def played(world: World, game: Game) -> Game:
    game.started()
    manual = game.first.expectations.order_by("pk")[0]
    for org, who in ((world.bureau, world.bureau_reporter), (world.grid, world.grid_admin)):
        services.respond(who, manual, game.team(org), text=f"=HYPERLINK(1) by {org.name}")
        services.score(game.judge, manual, game.team(org), points=60, comment=f"Ok {org.name}")
    return game


# Who downloads which teams' part of the timeline.
EXPORTS = {
    "analyst": {"Bureau", "Office", "Grid Co"},
    "judge": {"Bureau", "Office", "Grid Co"},
    "reviewer": {"Bureau", "Office"},
    "bureau_reporter": {"Bureau"},
    "grid_admin": {"Grid Co"},
    "nobody": None,
}


def _who(world: World, game: Game, who: str) -> Any:
    return game.judge if who == "judge" else getattr(world, who)


@pytest.mark.parametrize("who", list(EXPORTS))
def test_csv_export_each_their_part(world: World, played: Game, client: Client, who: str) -> None:
    sign_in(client, _who(world, played, who))
    reply = client.get(f"/drills/exercises/{played.exercise.pk}/timeline.csv")
    if EXPORTS[who] is None:
        assert reply.status_code == 404
        return
    assert reply.status_code == 200 and reply["Content-Type"].startswith("text/csv")
    text = b"".join(reply.streaming_content).decode()  # type: ignore[attr-defined]
    assert text.startswith("\ufeffMinutes after the start,Inject,")
    for org in ("Bureau", "Office", "Grid Co"):
        assert (f",{org}," in text) == (org in EXPORTS[who]), org
    if "Bureau" in EXPORTS[who]:
        assert "'=HYPERLINK(1) by Bureau" in text  # shown as text, never run
        assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    # The undelivered inject is the CERT's alone.
    assert ("Press call" in text) == (who in ("analyst", "judge"))


def test_csv_of_a_draft_is_the_certs(world: World, game: Game, client: Client) -> None:
    sign_in(client, world.bureau_admin)
    assert client.get(f"/drills/exercises/{game.exercise.pk}/timeline.csv").status_code == 404
    assert client.get(f"/drills/exercises/{game.exercise.pk}/timeline.pdf").status_code == 404


@pytest.mark.parametrize("who", ["analyst", "bureau_reporter", "nobody"])
def test_pdf_export_in_both_languages(world: World, played: Game, client: Client, who: str) -> None:
    sign_in(client, _who(world, played, who))
    url = f"/drills/exercises/{played.exercise.pk}/timeline.pdf"
    english = client.get(url + "?lang=en")
    if EXPORTS[who] is None:
        assert english.status_code == 404
        return
    assert english.status_code == 200 and english["Content-Type"] == "application/pdf"
    assert english["Cache-Control"] == "private, no-store"
    text = pdf_text(english.content)
    assert "Exercise timeline: Ransomware at the grid" in text and "Ransom note" in text
    assert "by Bureau" in text
    assert ("by Grid Co" in text) == (who == "analyst")
    assert ("Press call" in text) == (who == "analyst")
    chinese = pdf_text(client.get(url + "?lang=zh-Hant").content)
    assert "演練時間軸" in chinese and "Ransom note" in chinese
    bad = client.get(url + "?lang=fr")
    assert bad.status_code == 400 and "use en or zh-Hant" in bad.content.decode()


# --- 3. per-team player lists ----------------------------------------------------------


def test_named_players_alone_are_told_see_and_respond(
    world: World, game: Game, smtp: Inbox, django_capture_on_commit_callbacks: Any
) -> None:
    bureau = game.team(world.bureau)
    with pytest.raises(ValidationError, match="not a member of Bureau"):
        services.set_players(world.analyst, bureau, [world.grid_admin])
    with pytest.raises(PermissionDenied):
        services.set_players(world.bureau_admin, bureau, [world.bureau_reporter])
    services.set_players(world.analyst, bureau, [world.bureau_reporter])
    assert AuditEntry.objects.filter(action="drill.exercise_players").exists()
    with django_capture_on_commit_callbacks(execute=True):
        game.started()
    told = set(
        Notification.objects.filter(kind="exercise_inject").values_list("user__username", flat=True)
    )
    # The Bureau names one player; the other teams keep the default (all members).
    assert told == {"bureau-reporter", "office-admin", "grid-admin"}
    run_queued_tasks()
    assert set(smtp.messages[0].rcpt_tos) == {
        "bureau-reporter@example.org",
        "office-admin@example.org",
        "grid-admin@example.org",
    }
    # The Bureau's admin, left off the list, sees none of its team's injects and may not
    # answer; the named player does; the Ministry (above the Bureau) still oversees.
    assert not Inject.objects.visible_to(world.bureau_admin).exists()
    assert Inject.objects.visible_to(world.bureau_reporter).count() == 1
    assert Inject.objects.visible_to(world.reviewer).count() == 1
    manual = game.first.expectations.order_by("pk")[0]
    with pytest.raises(PermissionDenied):
        services.respond(world.bureau_admin, manual, bureau, text="Not a player.")
    services.respond(world.bureau_reporter, manual, bureau, text="On it.")
    # Back to the default: every member again.
    services.set_players(world.analyst, bureau, [])
    assert Inject.objects.visible_to(world.bureau_admin).count() == 1


def test_players_on_the_page(world: World, game: Game, client: Client) -> None:
    bureau = game.team(world.bureau)
    base = f"/drills/exercises/{game.exercise.pk}"
    sign_in(client, world.analyst)
    page = client.get(f"{base}/").content.decode()
    assert 'id="players"' in page and f"team-{bureau.pk}-players" in page
    done = client.post(
        f"{base}/teams/{bureau.pk}/players/",
        {f"team-{bureau.pk}-players": [world.bureau_reporter.pk]},
        follow=True,
    )
    assert "Players saved." in done.content.decode()
    assert list(bureau.players.all()) == [world.bureau_reporter]
    wrong = client.post(
        f"{base}/teams/{bureau.pk}/players/",
        {f"team-{bureau.pk}-players": [world.grid_admin.pk]},
        follow=True,
    )
    assert wrong.status_code == 200 and "Select a valid choice" in wrong.content.decode()
    game.started()
    sign_in(client, world.bureau_admin)
    assert "Ransom note" not in client.get(f"{base}/").content.decode()
    assert client.post(f"{base}/teams/{bureau.pk}/players/", {}).status_code == 403
    sign_in(client, world.bureau_reporter)
    assert "Ransom note" in client.get(f"{base}/").content.decode()


# --- 4. outside evaluators of international exercises ----------------------------------


@pytest.fixture
def foreign(world: World) -> Any:
    org = world._org("JPCERT", "foreign_cert")
    return world._person("jp-evaluator", org, "reporter")


def test_outside_evaluators_only_for_international_exercises(
    world: World, game: Game, foreign: Any
) -> None:
    with pytest.raises(ValidationError, match="international exercises only"):
        services.set_evaluators(world.analyst, game.exercise, [foreign])
    with pytest.raises(ValidationError, match="no organisation"):
        Exercise.objects.filter(pk=game.exercise.pk).update(scope="international")
        services.set_evaluators(world.analyst, game.exercise, [world.nobody])
    services.set_evaluators(world.analyst, game.exercise, [game.judge, foreign])
    assert set(Exercise.objects.get(pk=game.exercise.pk).evaluators.all()) == {
        game.judge,
        foreign,
    }
    with pytest.raises(PermissionDenied):
        services.set_evaluators(foreign, game.exercise, [foreign])


class Other:
    """Another exercise (one inject at the start, to every team) by the same CERT."""

    def __init__(self, world: World, title: str, scope: str = "national") -> None:
        self.exercise = services.create_exercise(
            world.analyst, organisations=[world.bureau], title=title, kind="tabletop",
            scope=scope, role="held", scenario_en="x", planned_start=timezone.now(),
        )  # fmt: skip
        self.first = services.add_inject(
            world.analyst, self.exercise, title=f"Inject of {title}", body_en="x",
            offset_minutes=0, expectations=[("manual", "Do it", 10)],
        )  # fmt: skip
        self.bureau = ExerciseTeam.objects.get(exercise=self.exercise)


@pytest.fixture
def international(world: World, foreign: Any) -> Game:
    """The exercise run internationally with JPCERT's evaluator; another exercise, a
    draft the evaluator is named on, an improvement item and a drill campaign."""
    game = Game(world, scope="international", title="Cross-border ransomware")
    services.set_evaluators(world.analyst, game.exercise, [game.judge, foreign])
    game.other = Other(world, "Someone else's exercise")  # type: ignore[attr-defined]
    services.start(world.analyst, game.other.exercise)  # type: ignore[attr-defined]
    game.draft = Other(world, "Draft with JPCERT", "international")  # type: ignore[attr-defined]
    services.set_evaluators(world.analyst, game.draft.exercise, [foreign])  # type: ignore[attr-defined]
    game.started()
    manual = game.first.expectations.order_by("pk")[0]
    services.respond(world.bureau_reporter, manual, game.team(world.bureau), text="Bureau answer")
    world.launched()
    return game


def test_an_outside_evaluator_sees_that_exercise_only(
    world: World, international: Game, foreign: Any
) -> None:
    game = international
    assert set(Exercise.objects.visible_to(foreign).values_list("title", flat=True)) == {
        "Cross-border ransomware"
    }
    # Delivered injects only (the second is not yet), every team, their responses.
    assert set(Inject.objects.visible_to(foreign).values_list("title", flat=True)) == {
        "Ransom note"
    }
    assert set(Inject.objects.visible_to(foreign).values_list("exercise_id", flat=True)) == {
        game.exercise.pk
    }
    teams = ExerciseTeam.objects.visible_to(foreign)
    assert {t.exercise_id for t in teams} == {game.exercise.pk} and teams.count() == 3
    assert [r.text for r in ExerciseResponse.objects.visible_to(foreign)] == ["Bureau answer"]
    # Nothing of other apps or of the rest of drills.
    assert not ImprovementItem.objects.visible_to(foreign).exists()
    assert not Campaign.objects.visible_to(foreign).exists()
    assert not Incident.objects.visible_to(foreign).exists()
    # It scores, and its score is seen; it runs nothing.
    manual = game.first.expectations.order_by("pk")[0]
    services.score(foreign, manual, game.team(world.bureau), points=70, comment="JP view")
    assert ExerciseScore.objects.visible_to(foreign).get().comment == "JP view"
    for call in (
        lambda: services.deliver(foreign, game.second),
        lambda: services.end(foreign, game.exercise),
        lambda: services.delete_inject(foreign, game.second),
    ):
        with pytest.raises(PermissionDenied):
            call()
    other = game.other.first.expectations.get()  # type: ignore[attr-defined]
    with pytest.raises(PermissionDenied):
        services.score(foreign, other, game.other.bureau, points=1)  # type: ignore[attr-defined]


def test_an_outside_evaluator_on_the_pages_and_api(
    world: World, international: Game, foreign: Any, client: Client
) -> None:
    game = international
    base = f"/drills/exercises/{game.exercise.pk}"
    sign_in(client, foreign)
    listing = client.get("/drills/exercises/").content.decode()
    assert "Cross-border ransomware" in listing
    assert "Someone else" not in listing and "Draft with JPCERT" not in listing
    for pk in (game.other.exercise.pk, game.draft.exercise.pk):  # type: ignore[attr-defined]
        assert client.get(f"/drills/exercises/{pk}/timeline/").status_code == 404
    timeline = client.get(f"{base}/timeline/").content.decode()
    assert "Bureau answer" in timeline and "Press call" not in timeline
    manual = game.first.expectations.order_by("pk")[0]
    bureau = game.team(world.bureau)
    scored = client.post(f"{base}/score/{manual.pk}/{bureau.pk}/", {"score": "40"}, follow=True)
    assert "Score saved." in scored.content.decode()
    assert client.get(f"{base}/timeline.csv").status_code == 200
    assert client.post(f"{base}/end/").status_code == 403
    assert client.get("/drills/").status_code in (200, 302, 403)
    assert "Password expiry" not in client.get("/drills/").content.decode()
    api = bearer(foreign, ["drills:read"], within_role=True)
    titles = {x["title"] for x in client.get("/api/v1/drills/exercises/", **api).json()["results"]}
    assert titles == {"Cross-border ransomware"}
    rows = client.get("/api/v1/drills/responses/", **api).json()["results"]
    assert [r["text"] for r in rows] == ["Bureau answer"]
    assert client.get("/api/v1/drills/items/", **api).json()["results"] == []


def test_evaluators_on_the_page(world: World, international: Game, foreign: Any,
                                client: Client) -> None:  # fmt: skip
    base = f"/drills/exercises/{international.exercise.pk}"
    sign_in(client, world.analyst)
    page = client.get(f"{base}/").content.decode()
    assert 'id="evaluators-form"' in page and "jp-evaluator" in page
    done = client.post(f"{base}/evaluators/", {"evaluators": [foreign.pk]}, follow=True)
    assert "Evaluators saved." in done.content.decode()
    assert list(Exercise.objects.get(pk=international.exercise.pk).evaluators.all()) == [foreign]


# --- 5. the timeline folds what needs no attention -------------------------------------


def test_timeline_folds_done_injects(world: World, played: Game, client: Client) -> None:
    sign_in(client, world.analyst)
    html = client.get(f"/drills/exercises/{played.exercise.pk}/timeline/").content.decode()
    # The first inject has an unscored cell (Office's): open; the second is not due: folded.
    first, second = played.first.pk, played.second.pk
    assert f'<details id="fold-{first}" open>' in html
    assert f'<details id="fold-{second}">' in html
    # Folded or not, the control team's Deliver button stays in view (outside the fold).
    assert html.index(f'id="fold-{second}"') < html.index(f"/injects/{second}/deliver/")
    assert html.index("</details>", html.index(f'id="fold-{second}"')) < html.index(
        f"/injects/{second}/deliver/"
    )
    assert "2/6 answered, 2/6 scored" in html
