"""An indicator as reported and the same value in an agency's log are one value (issue 21):
the engine's sighting refreshes the indicator the store holds, instead of creating a
second value that nobody shares."""

from datetime import UTC, datetime, timedelta
from importlib import import_module

import orjson
from django.apps import apps as django_apps

from bulwark.intel import services
from bulwark.intel.models import Indicator, Value
from bulwark.intel.tests.conftest import Community, indicator
from bulwark.monitoring import services as monitoring
from bulwark.monitoring.engine import FORMATS, Snapshot, match_buffer
from bulwark.monitoring.indicator_sources import platform_indicators


def _seen_in_logs(community: Community, record: dict[str, object], log: str) -> None:
    """The engine matches one log record against the platform's indicators and the
    monitoring services store its hits, as the stream worker does."""
    snapshot = Snapshot.build(platform_indicators())
    line = orjson.dumps(record) + b"\n"
    result = match_buffer(snapshot, FORMATS[f"zeek-{log}-json"], line)
    assert result.hits, "the engine matched nothing"
    monitoring.record_hits(community.other, [hit.as_dict() for hit in result.hits])


def test_a_sighting_of_the_lower_case_address_refreshes_the_reported_indicator(
    community: Community,
) -> None:
    now = datetime.now(UTC)
    obj = indicator(
        "Phisher@Evil.Example",
        path="email-addr:value",
        valid_from=(now - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    services.ingest_objects(community.sharer, community.community, [obj], raw="")
    assert Indicator.objects.count() == 1
    _seen_in_logs(
        community,
        {"ts": now.timestamp(), "uid": "C1", "id.orig_h": "192.0.2.1", "id.orig_p": 1,
         "id.resp_h": "198.51.100.2", "id.resp_p": 25, "mailfrom": "phisher@evil.example"},
        "smtp",
    )  # fmt: skip
    value = Value.objects.get(kind="email")  # one value, not a second one for the log's
    assert value.value == "phisher@evil.example"
    assert value.sighting_count == 1 and value.last_sighted_at is not None


def test_a_url_seen_with_default_port_and_escapes_refreshes_the_indicator(
    community: Community,
) -> None:
    obj = indicator(
        "http://Evil.Example/kit/%7Eadmin/login.php",
        path="url:value",
        valid_from=(datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    services.ingest_objects(community.sharer, community.community, [obj], raw="")
    _seen_in_logs(
        community,
        {"ts": datetime.now(UTC).timestamp(), "uid": "C2", "id.orig_h": "192.0.2.1",
         "id.orig_p": 1, "id.resp_h": "198.51.100.2", "id.resp_p": 80,
         "host": "Evil.Example:80", "uri": "/kit/./~admin/login.php"},
        "http",
    )  # fmt: skip
    value = Value.objects.get(kind="url")
    assert value.value == "http://evil.example/kit/~admin/login.php"
    assert value.sighting_count == 1


def test_the_migration_merges_values_that_become_equal(community: Community) -> None:
    """A value stored in the old form (`Phisher@...`, kept case) is merged into the one the
    engine's sightings went to: both objects still carry it, no sighting is lost."""
    migration = import_module("bulwark.intel.migrations.0007_s28h1_renormalise")
    now = datetime.now(UTC)
    first = indicator("phisher@evil.example", path="email-addr:value")
    second = indicator("old@evil.example", path="email-addr:value")
    services.ingest_objects(community.sharer, community.community, [first, second], raw="")
    services.record_sighting("phisher@evil.example", community.other, 2, now, now, "log")
    services.record_sighting("old@evil.example", community.other, 3, now, now, "log")
    Value.objects.filter(value="old@evil.example").update(value="Phisher@evil.example")
    url = Value.objects.create(kind="url", value="http://evil.example:80/a/./%7Eb")
    domain = Value.objects.create(kind="domain", value="evil.example")

    migration.renormalise(django_apps, None)

    value = Value.objects.get(kind="email")
    assert value.value == "phisher@evil.example"
    assert value.provenance.count() == 2 and value.sightings.count() == 2
    assert value.sighting_count == 5  # 2 + 3
    assert Value.objects.get(pk=url.pk).value == "http://evil.example/a/~b"
    assert Value.objects.get(pk=domain.pk).value == "evil.example"
