"""Who sees which exchange data: organisation x role x object type (x read path, as the
pages and API are added they join the matrix in test_web and test_api)."""

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from bulwark.constituency.models import User
from bulwark.exchange import demo, services
from bulwark.exchange.models import (
    ColumnMapping,
    CountryNetwork,
    Event,
    Quarantined,
    Report,
    Rule,
)

SHADOW = "2026-11-20-scan_ntp-taiwan-geo.csv"


@pytest.fixture
def ingested(constituency: Any) -> Any:
    for name in (SHADOW, "xarf-login-attack-from-jpcert.eml"):
        with (demo.SAMPLES / name).open("rb") as stream:
            services.ingest(None, stream, file_name=name)
    Rule.objects.create(action="suppress", classification_type="spam")
    ColumnMapping.objects.create(name="m", columns={"source.ip": "ip"})
    return constituency


EVENTS_SEEN = {
    # user: the addresses of the events they see
    "analyst": "all",
    "reporter": {"198.18.12.7", "198.18.200.9", "2001:db8:3::53"},  # Taipower
    "orgadmin": {"198.18.12.7", "198.18.200.9", "2001:db8:3::53"},  # Taipower
    "cpc": {"198.18.17.5"},
    "reviewer": set(),  # the ministry's own events only, not its agencies'
    "jpcert": {"192.0.2.44"},  # a foreign CERT sees what was routed to it
}


@pytest.mark.parametrize("username", sorted(EVENTS_SEEN))
def test_events_visible_to(ingested: Any, username: str) -> None:
    user = User.objects.get(username=username)
    seen = set(Event.objects.visible_to(user).values_list("source_ip", flat=True))
    expected = EVENTS_SEEN[username]
    if expected == "all":
        assert seen == set(Event.objects.values_list("source_ip", flat=True))
        assert len(seen) == 10 and None not in seen
    else:
        assert seen == expected


@pytest.mark.parametrize("model", [Report, Quarantined, Rule, CountryNetwork, ColumnMapping])
@pytest.mark.parametrize("username", sorted(EVENTS_SEEN))
def test_raw_reports_quarantine_and_rules_are_for_cert_staff(
    ingested: Any, model: Any, username: str
) -> None:
    user = User.objects.get(username=username)
    total = model.objects.count()
    assert total > 0
    assert model.objects.visible_to(user).count() == (total if username == "analyst" else 0)


def test_anonymous_and_inactive_see_nothing(ingested: Any) -> None:
    assert Event.objects.visible_to(AnonymousUser()).count() == 0
    assert Event.objects.visible_to(None).count() == 0
    reporter = User.objects.get(username="reporter")
    reporter.is_active = False
    reporter.save()
    assert Event.objects.visible_to(User.objects.get(username="reporter")).count() == 0
