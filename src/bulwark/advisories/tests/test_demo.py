from typing import Any

from django.utils import timezone

from bulwark.advisories import demo
from bulwark.advisories.models import Advisory
from bulwark.advisories.public import public_advisories
from bulwark.constituency import demo as constituency_demo


def test_demo_covers_every_tracking_state_and_is_idempotent(db: Any) -> None:
    constituency_demo.load()
    assert demo.load() == 8
    assert demo.load() == 0
    assert public_advisories().count() == 3
    now = timezone.now()
    states = {
        t.state(now)
        for a in Advisory.objects.filter(status="sent")
        for t in a.targets.select_related("advisory")
    }
    assert {"unread", "read", "acknowledged", "acted", "overdue"} <= states
    inventory = Advisory.objects.get(title__contains="agencies that run it")
    # 9.3.1 and 9.1 are affected; CPC runs the fixed 9.4.2.
    assert set(inventory.targets.values_list("organisation__name", flat=True)) == {
        "Taiwan Power Company (demo)",
        "Centers for Disease Control",
    }
    assert set(Advisory.objects.values_list("status", flat=True)) == {"sent", "draft", "pending"}
