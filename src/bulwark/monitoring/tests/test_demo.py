"""The demo shows sightings and alerts from the bundled agency logs."""

import pytest

from bulwark.constituency import demo as constituency_demo
from bulwark.monitoring import demo
from bulwark.monitoring.models import Alert, LogSighting


@pytest.mark.django_db
def test_demo_loads_sightings_and_alerts_once() -> None:
    constituency_demo.load()
    demo.load()
    indicators = set(LogSighting.objects.values_list("indicator", flat=True))
    assert {"update-check.bad.example", "c2-relay.evil.example", "203.0.113.0/25"} <= indicators
    assert "http://files.bad.example/payload/inv0ice.exe" in indicators  # from the proxy log
    assert "198.51.100.23" in indicators
    alerts = Alert.objects.count()
    assert alerts >= 5
    counts = sorted(LogSighting.objects.values_list("count", flat=True))
    demo.load()
    assert sorted(LogSighting.objects.values_list("count", flat=True)) == counts
    assert Alert.objects.count() == alerts
