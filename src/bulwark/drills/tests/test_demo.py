from typing import Any

from django.test import Client

from bulwark.conftest import sign_in
from bulwark.constituency import demo as constituency_demo
from bulwark.constituency.models import User
from bulwark.drills import demo, selectors
from bulwark.drills.models import Campaign, ImprovementPlan


def test_demo_has_past_and_running_campaigns_plans_and_every_calendar_state(
    db: Any, client: Client
) -> None:
    constituency_demo.load()
    assert demo.load() == 3
    assert demo.load() == 0
    states = dict(Campaign.objects.values_list("name", "state"))
    assert states == {
        "[demo] H1 mailbox full": "finished",
        "[demo] H2 mailbox full": "finished",
        "[demo] December invoice": "running",
    }
    analyst = User.objects.get(username="analyst")
    h2 = Campaign.objects.get(name="[demo] H2 mailbox full")
    rows = selectors.agency_results(h2, analyst)
    assert {r.passed for r in rows} == {True, False}
    assert all(r.previous is not None and r.automated > 0 for r in rows)
    assert {p.state for p in ImprovementPlan.objects.all()} >= {"closed", "filed", "required"}
    assert {r.state for r in selectors.compliance(analyst)} == {"due", "done", "late", "missing"}
    assert [selectors.score(n).met for n in selectors.notices(analyst)] == [1]
    sign_in(client, User.objects.get(username="orgadmin"))
    page = client.get(f"/drills/{h2.pk}/").content.decode()
    assert 'data-organisation="Taiwan Power Company (demo)"' in page
    assert 'data-organisation="Centers for Disease Control"' not in page
