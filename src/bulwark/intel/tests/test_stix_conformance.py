"""Every STIX bundle the demo data exports passes the OASIS validator (stix2-validator,
pinned) with no error, and parses with stix2: each incident's bundle, each collection as
TAXII serves it (objects of the CERT's view, as one bundle), the detection export, and
each notification's batch as a foreign CERT's TAXII delivery. The counts are recorded in
docs/conformance.md; the tests' own bundles are validated where they are made
(incidents/tests/test_interchange_stix.py, intel/tests/test_exports_pages.py,
exchange/tests/test_taxii_delivery.py and test_taxii_roundtrip.py)."""

import json
from typing import Any

import orjson
import pytest
import stix2  # type: ignore[import-untyped]
from django.test import Client
from stix2validator import ValidationOptions, validate_string  # type: ignore[import-untyped]

from bulwark.constituency import demo as constituency_demo
from bulwark.constituency.models import User
from bulwark.core import stixtime
from bulwark.exchange import demo as exchange_demo
from bulwark.exchange import notify, taxii_client
from bulwark.exchange import services as exchange_services
from bulwark.exchange.models import EventNotice
from bulwark.incidents import demo as incidents_demo
from bulwark.incidents.interchange import incident_to_stix
from bulwark.incidents.models import Incident
from bulwark.intel import demo as intel_demo
from bulwark.intel.models import Collection, StixObject
from bulwark.intel.tests.conftest import token


def problems(bundle: dict[str, Any] | str) -> list[str]:
    text = bundle if isinstance(bundle, str) else json.dumps(bundle)
    result = validate_string(text, ValidationOptions(version="2.1"))
    found = [str(e) for e in result.errors]
    parsed = json.loads(text)
    custom = any(o.get("type") == "impact" for o in parsed.get("objects", []))
    stix2.parse(text, allow_custom=custom)  # raises on what the library refuses
    return found


@pytest.fixture
def demo(db: Any) -> None:
    constituency_demo.load()
    incidents_demo.load()
    intel_demo.load()
    exchange_demo.load()


def test_every_bundle_the_demo_exports_validates(demo: None, client: Client) -> None:
    checked: dict[str, int] = {}
    refused: dict[str, list[str]] = {}

    def check(kind: str, name: str, bundle: dict[str, Any] | str) -> None:
        checked[kind] = checked.get(kind, 0) + 1
        errors = problems(bundle)
        if errors:
            refused[f"{kind} {name}"] = errors

    with_impacts = 0
    for incident in Incident.objects.order_by("pk"):
        bundle = incident_to_stix(incident)
        with_impacts += any(o["type"] == "impact" for o in bundle["objects"])
        check("incident", incident.reference, bundle)

    for collection in Collection.objects.order_by("pk"):
        raws = StixObject.objects.filter(collection=collection, is_latest=True).order_by("pk")
        objects = [orjson.loads(r) for r in raws.values_list("raw", flat=True)]
        if objects:  # an empty collection has no bundle to serve
            bundle = {
                "type": "bundle",
                "id": "bundle--6b7b0c4e-7a43-4a55-9d6c-1f0e2d3c4b5a",
                "objects": objects,
            }
            check("collection", collection.title, bundle)

    secret = token(User.objects.get(username="analyst"), ["intel:read"])
    answer = client.get("/intel/exports/stix/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert answer.status_code == 200
    check("export", "analyst", answer.content.decode())
    check("export", "anonymous", client.get("/intel/exports/stix/").content.decode())

    # Every batch of the demo (its load gathers them) as a TAXII delivery would send it.
    exchange_services.queue_notices()
    for notification in EventNotice.objects.order_by("pk"):
        events = list(notification.events.order_by("pk"))
        description = notify.summary_text(
            notification, notification.recipient, events, attachments=False
        )
        bundle = orjson.loads(
            taxii_client.build_bundle(notification, events, description).serialize()
        )
        stixtime.comparable(bundle["objects"])  # as deliver() sends them
        check("delivery", notification.ticket, bundle)

    assert refused == {}
    # What the demo holds today; a change in the demo shows here (and in the record).
    assert checked == {"incident": 11, "collection": 2, "export": 2, "delivery": 7}
    # The bundles with impact objects: each failed the validator before their per-category
    # sub-extensions were left out.
    assert with_impacts == 10
