"""Sightings keep indicators alive; false positives and age lower their score."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from bulwark.intel import decay, selectors, services
from bulwark.intel.models import Indicator, Sighting, Value
from bulwark.intel.tests.conftest import Community, indicator

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_score_decays_with_age_per_type_and_expires() -> None:
    def at(kind: str, days: float, **kw: object) -> decay.Score:
        now = T0 + timedelta(days=days)
        args = dict(kind=kind, confidence=80, valid_from=T0, valid_until=None,
                    last_sighted_at=None, false_positives=0, now=now)  # fmt: skip
        args.update(kw)
        return decay.score(**args)  # type: ignore[arg-type]

    assert at("ipv4", 0).value == 80
    assert at("ipv4", 15).value == pytest.approx(60.0)  # 80 x (1 - 0.5^2)
    assert at("ipv4", 30).value == 0 and at("ipv4", 30).decayed
    assert at("sha256", 30).value > 79  # hashes live a year
    assert at("ipv4", 29, last_sighted_at=T0 + timedelta(days=28)).value > 79
    assert at("ipv4", 1, false_positives=1).value == pytest.approx(at("ipv4", 1).value / 2, 0.01)
    assert at("ipv4", 1, valid_until=T0 + timedelta(hours=1)).expired
    assert at("ipv4", 0, confidence=None).base == decay.DEFAULT_CONFIDENCE


def test_sightings_refresh_and_false_positives_lower_the_score(community: Community) -> None:
    now = datetime.now(UTC)
    obj = indicator(
        "192.0.2.77",
        valid_from=(now - timedelta(days=27)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        confidence=70,
    )
    services.ingest_objects(community.sharer, community.community, [obj], raw="")
    ind = Indicator.objects.get()
    before = selectors.indicator_score(ind)
    assert before.value < 20
    assert ("ipv4", "192.0.2.77") not in {r[:2] for r in selectors.detection_values()}
    services.record_sighting(
        "192.0.2.77",
        community.other,
        3,
        now - timedelta(hours=2),
        now,
        "firewall",
        actor=community.other_user,
    )
    refreshed = selectors.indicator_score(ind)
    assert refreshed.value > 65 and not refreshed.decayed
    assert ("ipv4", "192.0.2.77") in {r[:2] for r in selectors.detection_values()}
    services.record_sighting(
        "192.0.2.77", community.authority, 1, now, now, "sandbox", false_positive=True
    )
    services.record_sighting(
        "192.0.2.77", community.authority, 1, now, now, "sandbox", false_positive=True
    )
    lowered = selectors.indicator_score(ind)
    assert lowered.value == pytest.approx(refreshed.value / 4, abs=0.5)
    assert lowered.decayed
    value = Value.objects.get(value="192.0.2.77")
    assert (value.sighting_count, value.false_positive_count) == (3, 2)
    # decayed values leave the detection feed unless asked for
    assert ("ipv4", "192.0.2.77") not in {r[:2] for r in selectors.detection_values()}
    assert ("ipv4", "192.0.2.77") in {
        r[:2] for r in selectors.detection_values(include_decayed=True)
    }


def test_sightings_are_reported_for_your_own_organisation_and_seen_by_it(
    community: Community,
) -> None:
    now = datetime.now(UTC)
    with pytest.raises(PermissionDenied):
        services.record_sighting(
            "evil.example", community.authority, 1, now, now, "dns", actor=community.other_user
        )
    with pytest.raises(ValueError):
        services.record_sighting("evil.example", community.other, 0, now, now, "dns")
    services.record_sighting(
        "Evil.EXAMPLE", community.other, 1, now, now, "dns", actor=community.other_user
    )
    assert Value.objects.get().value == "evil.example"
    assert Sighting.objects.visible_to(community.other_user).count() == 1
    assert Sighting.objects.visible_to(community.sharer).count() == 0
    assert Sighting.objects.visible_to(community.analyst).count() == 1
