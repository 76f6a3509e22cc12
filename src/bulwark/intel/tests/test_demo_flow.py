"""The demo journey: a member pulls its collections with taxii2-client, pushes a bundle, and
sees the pushed indicator correlate with its incident's indicator."""

import importlib
import uuid
from typing import Any

import pytest
from django.apps import apps as django_apps
from taxii2client.v21 import Server, as_pages  # type: ignore[import-untyped]

from bulwark.constituency import demo as constituency_demo
from bulwark.constituency import services as cs
from bulwark.constituency.models import User
from bulwark.incidents.models import Incident
from bulwark.intel import demo, selectors
from bulwark.intel.models import Value


@pytest.mark.django_db(transaction=True)
def test_member_pulls_pushes_and_sees_the_incident_correlation(
    live_server: Any, settings: Any
) -> None:
    settings.SITE_URL = live_server.url  # discovery names the configured address
    # A transactional test before this one may have flushed the sectors that a migration
    # ships as data; put them back the way the migration does (idempotent).
    sectors = importlib.import_module(
        "bulwark.constituency.migrations.0002_critical_infrastructure_sectors"
    )
    sectors.add_sectors(django_apps, None)
    constituency_demo.load()
    demo.load()
    demo.load()  # idempotent
    reporter = User.objects.get(username="reporter")
    _t, secret = cs.create_api_token(
        None, reporter, name="demo", scopes=["intel:read", "intel:write"]
    )
    server = Server(f"{live_server.url}/taxii2/", user="reporter", password=secret)
    titles = {c.title: c for c in server.default.collections}
    assert demo.COMMUNITY in titles and demo.PUBLIC in titles
    assert not any("ISAC" in t for t in titles)  # another member's collection stays hidden
    community = titles[demo.COMMUNITY]
    pulled = [
        o
        for page in as_pages(community.get_objects, per_request=2)
        for o in page.get("objects", [])
    ]
    assert {o["pattern"] for o in pulled} >= {f"[ipv4-addr:value = '{demo.C2_ADDRESS}']"}
    assert all("9999" not in o["pattern"] for o in pulled)  # AMBER from the CERT is not for them
    pushed = {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
        "pattern": f"[domain-name:value = '{demo.C2_DOMAIN.upper()}']", "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }  # fmt: skip
    status = community.add_objects(
        {"objects": [pushed]}, wait_for_completion=True, poll_interval=0.2
    )
    assert status.success_count == 1
    value = Value.objects.get(kind="domain", value=demo.C2_DOMAIN)
    found = selectors.correlate(reporter, value)
    assert [p.stix_object.stix_id for p in found.sources] == [pushed["id"]]
    assert [row.incident.title for row in found.incidents] == [demo.INCIDENT_TITLE]
    # the CERT's C2 address correlates with the same incident
    address = Value.objects.get(kind="ipv4", value=demo.C2_ADDRESS)
    assert selectors.correlate(reporter, address).incidents
    # someone in another organisation sees neither the pending push nor the incident
    isac = User.objects.get(username="isac")
    other = selectors.correlate(isac, value)
    assert other.sources == [] and other.incidents == []
    assert Incident.objects.filter(title=demo.INCIDENT_TITLE).count() == 1
