"""An exercise inject's life in a real Chromium: the control team corrects an inject
before it is delivered, starts the exercise and delivers the inject from the live
timeline (then the page says it can no longer be changed), the agency's player reads it
and answers for their team, the control team sees the response, scores it and
downloads the timeline as CSV and PDF.

Needs Debian's `chromium`; skipped without it unless BULWARK_REQUIRE_BROWSER=1."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from bulwark.drills.exercises import services
from bulwark.drills.models import ExerciseResponse, ExerciseScore, Inject
from bulwark.drills.tests.test_browser_journey import people, press, sign_in  # noqa: F401
from bulwark.drills.tests.world import World

pytestmark = pytest.mark.browser


def test_control_team_delivers_an_inject_and_scores_the_response(
    new_page: Callable[[], Any],
    live_server: Any,
    people: World,  # noqa: F811
) -> None:
    base = live_server.url
    exercise = services.create_exercise(
        people.analyst, organisations=[people.bureau, people.grid], title="Grid blackout",
        kind="tabletop", scope="national", role="held", planned_start=timezone.now(),
        scenario_en="A **blackout** after a cyber-attack.",
    )  # fmt: skip
    inject = services.add_inject(
        people.analyst, exercise, title="SCADA alrm", offset_minutes=30,
        body_en="The SCADA console raises 20 alarms.",
        expectations=[("manual", "Tell the CERT what you see", 50)],
    )  # fmt: skip
    # 0. Before delivery the control team corrects the inject's title, text and points.
    cert = sign_in(new_page(), base, people.analyst)
    cert.goto(f"{base}/drills/exercises/")
    cert.click("text=Grid blackout")
    with cert.expect_navigation():
        cert.locator('section[data-inject="SCADA alrm"] a.edit-inject').click()
    cert.fill("#id_title", "SCADA alarm")
    cert.fill("#id_body_en", "The SCADA console raises 200 alarms.")
    cert.fill("#id_points_1", "100")
    press(cert, "Save the inject")
    assert "Inject saved." in cert.locator("ul.messages").inner_text()
    corrected = Inject.objects.get(pk=inject.pk)
    assert corrected.title == "SCADA alarm" and corrected.expectations.get().points == 100
    # 1. The control team starts the exercise and delivers the inject from the timeline.
    press(cert, "Start the exercise")
    assert cert.locator("#exercise-state").inner_text() == "Running"
    cert.click("#tab-timeline")
    with cert.expect_navigation():
        cert.locator('[data-inject="SCADA alarm"] button.deliver').click()
    assert Inject.objects.get(pk=inject.pk).delivered_by == people.analyst
    cert.click("#tab-injects")
    section = cert.locator('section[data-inject="SCADA alarm"]')
    assert "can no longer be changed" in section.locator(".locked").inner_text()
    assert section.locator("a.edit-inject").count() == 0
    cert.click("#tab-timeline")

    # 2. The Bureau's player reads the inject and answers for the Bureau's team.
    player = sign_in(new_page(), base, people.bureau_admin)
    player.goto(f"{base}/drills/exercises/{exercise.pk}/")
    assert player.locator("#scenario strong").inner_text() == "blackout"
    section = player.locator('section[data-inject="SCADA alarm"]')
    section.locator("textarea").fill("200 alarms on feeder 7; operators on manual control.")
    press(player, "Send the response")
    assert ExerciseResponse.objects.get().team.organisation == people.bureau

    # 3. The control team sees the response come in and scores it.
    cert.reload()
    cell = cert.locator('tr.cell[data-organisation="Bureau"]')
    assert "feeder 7" in cell.locator("td.response").inner_text()
    cell.locator('input[name="score"]').fill("85")
    cell.locator('input[name="comment"]').fill("Clear and quick.")
    with cert.expect_navigation():
        cell.get_by_role("button", name="Save the score").click()
    assert cert.locator('tr.cell[data-organisation="Bureau"] [data-score="85"]').count() == 1
    assert ExerciseScore.objects.get().score == 85
    assert (
        cert.locator('#team-scores tr[data-organisation="Bureau"] td[data-percent]').inner_text()
        == "85.0 %"
    )
    # 4. The control team downloads the timeline; the player gets their team's part.
    with cert.expect_download() as csv_file:
        cert.click("#export-csv")
    text = Path(csv_file.value.path()).read_text(encoding="utf-8-sig")
    assert "feeder 7" in text and "Grid Co" in text
    with cert.expect_download() as pdf_file:
        cert.click("#export-pdf-zh")
    assert Path(pdf_file.value.path()).read_bytes()[:4] == b"%PDF"
    player.goto(f"{base}/drills/exercises/{exercise.pk}/timeline/")
    with player.expect_download() as mine:
        player.click("#export-csv")
    text = Path(mine.value.path()).read_text(encoding="utf-8-sig")
    assert "Bureau" in text and "Grid Co" not in text
