"""Exercises: built by the CERT, run by the control team (injects delivered by hand and
when due, over in-app notices and real SMTP), answered by the agencies' players, scored
by the evaluators, closed with an after-action report whose improvement items are
tracked to closure; every step refused to the wrong person and bad input refused
clearly; the annual report's figures."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from bulwark.conftest import bearer, run_queued_tasks, sign_in
from bulwark.core.models import AuditEntry, Notification
from bulwark.drills import selectors as drill_selectors
from bulwark.drills import tasks
from bulwark.drills.exercises import selectors, services
from bulwark.drills.models import Exercise, ExerciseTeam, ImprovementItem, Inject
from bulwark.drills.tests.conftest import Inbox
from bulwark.drills.tests.world import World


class Game:
    """An exercise for Bureau, Office and Grid Co with two injects."""

    def __init__(self, world: World, **overrides: Any) -> None:
        self.world = world
        self.judge = world._person("judge", world.cert, "analyst")
        fields: dict[str, Any] = {
            "title": "Ransomware at the grid",
            "kind": Exercise.Kind.TABLETOP,
            "scope": Exercise.Scope.NATIONAL,
            "role": Exercise.Role.HELD,
            "scenario_en": "# Scenario\n\nRansomware hits a **substation**. <script>x()</script>",
            "scenario_zh_hant": "# 情境\n\n勒索軟體攻擊變電所。",
            "planned_start": timezone.now(),
        }
        fields.update(overrides)
        self.exercise = services.create_exercise(
            world.analyst,
            organisations=[world.bureau, world.office, world.grid],
            control_team=[world.analyst],
            evaluators=[self.judge],
            **fields,
        )
        self.first = services.add_inject(
            world.analyst,
            self.exercise,
            title="Ransom note",
            offset_minutes=0,
            body_en="A ransom note appears on the **SCADA** console.",
            body_zh_hant="SCADA 主控台出現勒索訊息。",
            channel=Inject.Channel.EMAIL,
            expectations=[
                ("manual", "Notify the CERT within an hour", 100),
                ("detection", "Detect the lateral movement", 50),
            ],
        )
        self.second = services.add_inject(
            world.analyst,
            self.exercise,
            title="Press call",
            offset_minutes=30,
            body_en="A journalist calls.",
            expectations=[("manual", "Answer the press", 10)],
        )

    def team(self, org: Any) -> ExerciseTeam:
        return ExerciseTeam.objects.get(exercise=self.exercise, organisation=org)

    def started(self) -> Exercise:
        self.exercise = services.start(self.world.analyst, self.exercise)
        return self.exercise


@pytest.fixture
def game(world: World) -> Game:
    return Game(world)


def test_a_whole_exercise(
    world: World, game: Game, smtp: Inbox, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SITE_URL = "https://bulwark.example.org"
    manual, detection = game.first.expectations.order_by("pk")
    bureau = game.team(world.bureau)
    # Nothing is delivered before the start, and nobody but the CERT sees the draft.
    assert not Exercise.objects.visible_to(world.bureau_admin).exists()
    with django_capture_on_commit_callbacks(execute=True):
        game.started()
    game.first.refresh_from_db()
    assert game.first.delivered_at == game.exercise.started_at  # offset 0: at the start
    game.second.refresh_from_db()
    assert game.second.delivered_at is None
    # Every player of the three agencies is told in the platform, and by e-mail over SMTP.
    told = set(
        Notification.objects.filter(kind="exercise_inject").values_list("user__username", flat=True)
    )
    assert told == {"bureau-admin", "bureau-reporter", "office-admin", "grid-admin"}
    run_queued_tasks()
    mail = smtp.parsed()
    assert len(mail) == 1
    assert set(smtp.messages[0].rcpt_tos) == {
        "bureau-admin@example.org",
        "bureau-reporter@example.org",
        "office-admin@example.org",
        "grid-admin@example.org",
    }
    text = mail[0].get_body(("plain",)).get_content()
    assert (
        "SCADA" in text
        and f"https://bulwark.example.org/drills/exercises/{game.exercise.pk}/" in text
    )

    # A player answers for their own team, not for another agency's.
    services.respond(world.bureau_reporter, manual, bureau, text="Reported to the CERT at 10:05.")
    with pytest.raises(PermissionDenied):
        services.respond(world.grid_admin, manual, bureau, text="Not my team.")
    with pytest.raises(ValidationError, match="not delivered"):
        services.respond(
            world.bureau_reporter, game.second.expectations.get(), bureau, text="Too early."
        )
    # The evaluator scores; a player may not; a score above the points is refused.
    services.score(game.judge, manual, bureau, points=80, comment="Fast, missed the IOC list.")
    services.score(game.judge, detection, bureau, points=50)
    with pytest.raises(PermissionDenied):
        services.score(world.bureau_admin, manual, bureau, points=100)
    with pytest.raises(ValidationError, match="0 to 50"):
        services.score(game.judge, detection, bureau, points=51)

    # The second inject is delivered by the periodic task once due, exactly once.
    later = game.exercise.started_at + timedelta(minutes=31)
    assert services.deliver_due(later - timedelta(minutes=2)) == 0
    assert services.deliver_due(later) == 1
    assert services.deliver_due(later) == 0
    assert Inject.objects.get(pk=game.second.pk).delivered_by is None
    assert tasks.send_due.call()["injects"] == 0

    scores = {
        s.team.organisation.name: s for s in selectors.team_scores(game.exercise, world.analyst)
    }
    assert (scores["Bureau"].scored, scores["Bureau"].possible, scores["Bureau"].percent) == (
        130,
        150,
        86.7,
    )
    assert scores["Office"].percent is None

    # End, lessons learned, report published, improvement items tracked to closure.
    with pytest.raises(ValidationError):
        services.add_item(
            world.analyst,
            game.exercise,
            organisation=world.bureau,
            title="Too early",
            due_on=timezone.localdate(),
        )
    game.exercise = services.end(world.analyst, game.exercise)
    with pytest.raises(ValidationError, match="lessons"):
        services.publish_report(world.analyst, game.exercise)
    services.write_lessons(
        world.analyst, game.exercise, lessons="## Lessons\n\n- Keep offline backups."
    )
    services.publish_report(world.analyst, game.exercise)
    assert Notification.objects.filter(kind="exercise_report", user=world.bureau_admin).exists()
    item = services.add_item(
        world.analyst,
        game.exercise,
        organisation=world.bureau,
        title="Offline backups",
        owner=world.bureau_reporter,
        due_on=timezone.localdate() + timedelta(days=60),
    )
    with pytest.raises(ValidationError, match="agency's people"):
        services.add_item(
            world.analyst,
            game.exercise,
            organisation=world.bureau,
            title="x",
            owner=world.grid_admin,
            due_on=timezone.localdate(),
        )
    services.update_item(world.bureau_reporter, item, state="in_progress", note="Tapes ordered.")
    with pytest.raises(PermissionDenied):
        services.update_item(world.office_admin, item, state="done")
    item = services.update_item(world.bureau_admin, item, state="done")
    assert item.done_at is not None and item.note == "Tapes ordered."
    actions = list(
        AuditEntry.objects.filter(action__startswith="drill.").values_list("action", flat=True)
    )
    for expected in (
        "drill.exercise_created",
        "drill.inject_added",
        "drill.exercise_started",
        "drill.inject_delivered",
        "drill.exercise_response",
        "drill.exercise_scored",
        "drill.exercise_ended",
        "drill.exercise_lessons",
        "drill.exercise_reported",
        "drill.improvement_item_added",
        "drill.improvement_item_updated",
    ):
        assert expected in actions, expected


def test_only_cert_staff_run_and_judge(world: World, game: Game) -> None:
    with pytest.raises(ValidationError, match="not CERT staff"):
        services.create_exercise(
            world.analyst,
            organisations=[world.bureau],
            control_team=[world.bureau_admin],
            title="x",
            kind="tabletop",
            scope="national",
            role="held",
            scenario_en="x",
            planned_start=timezone.now(),
        )
    with pytest.raises(PermissionDenied):
        services.start(world.bureau_admin, game.exercise)
    with pytest.raises(PermissionDenied):
        services.start(game.judge, game.exercise)  # an evaluator, not in the control team
    with pytest.raises(ValidationError, match="Between"):
        services.add_inject(
            world.analyst, game.exercise, title="x", body_en="x", offset_minutes=10**6
        )


def test_the_pages_of_a_run(world: World, game: Game, client: Client) -> None:
    """The control team's timeline, a player's response form, an evaluator's score, bad
    input answered with a message, never a 500; Markdown rendered without its script."""
    game.started()
    manual = game.first.expectations.order_by("pk").first()
    assert manual is not None
    bureau = game.team(world.bureau)
    sign_in(client, world.bureau_reporter)
    page = client.get(f"/drills/exercises/{game.exercise.pk}/").content.decode()
    assert "<strong>substation</strong>" in page and "<script>x()" not in page
    assert "Ransom note" in page and "Press call" not in page  # not delivered yet
    reply = client.post(
        f"/drills/exercises/{game.exercise.pk}/respond/{manual.pk}/{bureau.pk}/",
        {"text": "Called the CERT."},
        follow=True,
    )
    assert "Response sent." in reply.content.decode()
    other = game.team(world.grid)
    assert (
        client.post(
            f"/drills/exercises/{game.exercise.pk}/respond/{manual.pk}/{other.pk}/", {"text": "x"}
        ).status_code
        == 404
    )  # another agency's team is not even found
    assert client.post(f"/drills/exercises/{game.exercise.pk}/start/").status_code == 403
    sign_in(client, game.judge)
    timeline = client.get(f"/drills/exercises/{game.exercise.pk}/timeline/")
    assert timeline["Refresh"] == "30"
    assert "Called the CERT." in timeline.content.decode()
    bad = client.post(
        f"/drills/exercises/{game.exercise.pk}/score/{manual.pk}/{bureau.pk}/",
        {"score": "500"},
        follow=True,
    )
    assert bad.status_code == 200 and "A score from 0 to 100." in bad.content.decode()
    junk = client.post(
        f"/drills/exercises/{game.exercise.pk}/score/{manual.pk}/{bureau.pk}/",
        {"score": "lots"},
        follow=True,
    )
    assert junk.status_code == 200 and "whole-number score" in junk.content.decode()
    client.post(
        f"/drills/exercises/{game.exercise.pk}/score/{manual.pk}/{bureau.pk}/",
        {"score": "90", "comment": "Good"},
    )
    row = client.get(f"/drills/exercises/{game.exercise.pk}/timeline/").content.decode()
    assert 'data-score="90"' in row
    sign_in(client, world.analyst)
    client.post(f"/drills/exercises/{game.exercise.pk}/injects/{game.second.pk}/deliver/")
    assert Inject.objects.get(pk=game.second.pk).delivered_by == world.analyst
    again = client.post(
        f"/drills/exercises/{game.exercise.pk}/injects/{game.second.pk}/deliver/", follow=True
    )
    assert "already delivered" in again.content.decode()
    noise = client.post(
        f"/drills/exercises/{game.exercise.pk}/injects/", {"title": ""}, follow=True
    )
    assert noise.status_code == 200 and "required" in noise.content.decode()


def test_creating_on_the_page(world: World, client: Client) -> None:
    sign_in(client, world.analyst)
    assert client.post("/drills/exercises/new/", {"title": ""}).status_code == 400
    done = client.post(
        "/drills/exercises/new/",
        {
            "title": "APCERT Drill 2026",
            "kind": "technical",
            "scope": "international",
            "role": "took_part",
            "organiser": "APCERT",
            "scenario_en": "Coordinated DDoS.",
            "planned_start": "2026-08-20T09:00",
            "organisations": [world.bureau.pk],
        },
    )
    exercise = Exercise.objects.get(title="APCERT Drill 2026")
    assert done.status_code == 302
    assert list(exercise.control_team.all()) == [world.analyst]
    sign_in(client, world.bureau_admin)
    assert client.get("/drills/exercises/new/").status_code == 403


def test_api_flow_and_bad_input(world: World, game: Game, client: Client) -> None:
    game.started()
    manual = game.first.expectations.order_by("pk").first()
    assert manual is not None
    bureau = game.team(world.bureau)
    player = bearer(world.bureau_reporter, ["drills:read", "drills:write"], within_role=True)
    url = f"/api/v1/drills/exercises/{game.exercise.pk}"
    assert (
        client.post(
            f"{url}/respond/", {"expectation": "x"}, content_type="application/json", **player
        ).status_code
        == 400
    )
    made = client.post(
        f"{url}/respond/",
        {"expectation": manual.pk, "team": bureau.pk, "text": "On it."},
        content_type="application/json",
        **player,
    )
    assert made.status_code == 201 and made.json()["organisation_name"] == "Bureau"
    judge = bearer(game.judge, ["drills:read", "drills:write"], within_role=True)
    over = client.post(
        f"{url}/score/",
        {"expectation": manual.pk, "team": bureau.pk, "score": 101},
        content_type="application/json",
        **judge,
    )
    assert over.status_code == 400 and "0 to 100" in over.json()["detail"]
    ok = client.post(
        f"{url}/score/",
        {"expectation": manual.pk, "team": bureau.pk, "score": 70},
        content_type="application/json",
        **judge,
    )
    assert ok.status_code == 201
    assert client.post(f"{url}/start/", **player).status_code == 403
    delivered = client.post(
        f"/api/v1/drills/injects/{game.second.pk}/deliver/",
        **bearer(world.analyst, ["drills:write"], within_role=True),
    )
    assert delivered.status_code == 200 and delivered.json()["delivered_at"]


def test_figures_for_the_annual_report(world: World) -> None:
    year = timezone.now().year
    held = Game(world)
    held.started()
    services.score(
        held.judge, held.first.expectations.order_by("pk")[0], held.team(world.bureau), points=60
    )
    services.score(
        held.judge, held.first.expectations.order_by("pk")[0], held.team(world.grid), points=100
    )
    services.end(world.analyst, held.exercise)
    services.add_item(
        world.analyst,
        held.exercise,
        organisation=world.grid,
        title="Patch",
        due_on=timezone.localdate(),
    )
    services.add_item(
        world.analyst,
        held.exercise,
        organisation=world.bureau,
        title="Train",
        due_on=timezone.localdate(),
    )
    apcert = services.create_exercise(
        world.analyst,
        organisations=[world.office],
        title="APCERT Drill",
        kind="technical",
        scope="international",
        role="took_part",
        organiser="APCERT",
        scenario_en="DDoS",
        planned_start=timezone.now(),
    )
    services.start(world.analyst, apcert)
    services.create_exercise(  # a draft counts for nobody
        world.analyst,
        organisations=[world.office],
        title="Later",
        kind="tabletop",
        scope="national",
        role="held",
        scenario_en="x",
        planned_start=timezone.now(),
    )
    everything = drill_selectors.exercise_figures(world.analyst, year)
    assert everything["held"] == 1 and everything["took_part"] == 1
    assert everything["by_kind_and_scope"]["held"]["tabletop_national"] == 1
    assert everything["by_kind_and_scope"]["took_part"]["technical_international"] == 1
    assert everything["agencies"] == 3
    assert everything["mean_score"] == 80.0  # 160 of 200 points
    assert everything["items"] == {"open": 2, "in_progress": 0, "done": 0}
    grid = selectors.exercise_figures(world.grid_admin, year)
    assert (grid["held"], grid["took_part"], grid["agencies"], grid["mean_score"]) == (
        1,
        0,
        1,
        100.0,
    )
    assert grid["items"]["open"] == 1
    assert selectors.exercise_figures(world.nobody, year)["held"] == 0
    assert selectors.exercise_figures(world.analyst, year - 1)["held"] == 0
    assert ImprovementItem.objects.count() == 2
