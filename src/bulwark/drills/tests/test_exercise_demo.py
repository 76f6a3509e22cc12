"""The demo's exercises: one ended with scores, an after-action report and improvement
items in every state, one running with an inject delivered and one to come; an
agency's admin reads its own team's row only."""

from typing import Any

from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.constituency import demo as constituency_demo
from bulwark.constituency.models import User
from bulwark.drills import demo
from bulwark.drills.exercises import selectors
from bulwark.drills.models import Exercise, ImprovementItem, Inject


def test_demo_exercises(db: Any, client: Client) -> None:
    constituency_demo.load()
    demo.load()
    states = dict(Exercise.objects.values_list("title", "state"))
    assert states == {
        "[demo] Ransomware on the grid (tabletop)": "reported",
        "[demo] Phishing to OT (technical)": "running",
    }
    assert {i.state for i in ImprovementItem.objects.all()} == {"open", "in_progress", "done"}
    running = Exercise.objects.get(state="running")
    delivered = Inject.objects.filter(exercise=running).values_list("delivered_at", flat=True)
    assert sorted(d is not None for d in delivered) == [False, True]
    analyst = User.objects.get(username="analyst")
    ended = Exercise.objects.get(state="reported")
    assert all(s.percent is not None for s in selectors.team_scores(ended, analyst))
    year = ended.planned_start.year
    figures = selectors.exercise_figures(analyst, year)
    assert figures["mean_score"] is not None and figures["agencies"] >= 3
    assert figures["held"] >= (2 if timezone.now().year == year else 1)
    sign_in(client, User.objects.get(username="orgadmin"))
    page = client.get(f"/drills/exercises/{ended.pk}/report/").content.decode()
    assert 'data-organisation="Taiwan Power Company (demo)"' in page
    assert 'data-organisation="Centers for Disease Control"' not in page
    assert "Offline backups were untested" in page
