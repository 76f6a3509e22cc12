"""A batch delivered to a foreign CERT over TAXII keeps each event's fields: read back
from the CERT's server (medallion) and through the exchange's own STIX reader, every
event comes out with its addresses, ports, protocols, classification (identifier too)
and malware name. The bundle passes the OASIS validator."""

import io
import json
from typing import Any

import stix2  # type: ignore[import-untyped]
from stix2validator import ValidationOptions, validate_string  # type: ignore[import-untyped]

from bulwark.exchange import services
from bulwark.exchange.engine import formats
from bulwark.exchange.engine.formats.base import Context
from bulwark.exchange.engine.formats.stix import EVENT_EXTENSION
from bulwark.exchange.models import Event, RecipientSettings
from bulwark.exchange.taxii_client import _id
from bulwark.exchange.tests.conftest import TaxiiServer
from bulwark.exchange.tests.test_notify import Inbox, routed, smtp  # noqa: F401
from bulwark.exchange.tests.test_taxii_delivery import jpcert_by_taxii, server_bundle  # noqa: F401

# Events in JPCERT/CC's country (192.0.2.0/24 is JP in the test constituency).
EVENTS = [
    {
        "feed.name": "Sinkhole",
        "feed.provider": "Shadowserver",
        "classification.taxonomy": "malicious-code",
        "classification.type": "infected-system",
        "classification.identifier": "mirai-c2-beacon",
        "malware.name": "mirai",
        "source.ip": "192.0.2.10",
        "source.port": 51234,
        "destination.ip": "203.0.113.80",
        "destination.port": 23,
        "protocol.transport": "tcp",
        "protocol.application": "telnet",
        "source.asn": 64512,
        "time.source": "2026-11-20T01:00:00+00:00",
    },
    {
        "feed.name": "Sinkhole",
        "classification.taxonomy": "malicious-code",
        "classification.type": "infected-system",
        "classification.identifier": "emotet-loader",
        "malware.name": "emotet",
        "source.ip": "192.0.2.11",
        "destination.port": 8080,
        "protocol.transport": "tcp",
        "time.source": "2026-11-20T02:00:00+00:00",
    },
    {
        "feed.name": "Honeypot",
        "classification.taxonomy": "intrusion-attempts",
        "classification.type": "brute-force",
        "classification.identifier": "ssh-bruteforce",
        "source.ip": "192.0.2.12",
        "source.port": 40022,
        "destination.port": 22,
        "protocol.transport": "tcp",
        "protocol.application": "ssh",
        "time.source": "2026-11-20T03:00:00+00:00",
    },
]
CARRIED = [
    "source.ip", "source.port", "destination.ip", "destination.port", "protocol.transport",
    "protocol.application", "classification.taxonomy", "classification.type",
    "classification.identifier", "malware.name", "feed.name", "feed.provider", "source.asn",
]  # fmt: skip


def test_event_fields_survive_a_taxii_delivery(
    jpcert_by_taxii: RecipientSettings,  # noqa: F811
    taxii_server: TaxiiServer,
    smtp: Inbox,  # noqa: F811
    routed: Any,  # noqa: F811
) -> None:
    text = "\n".join(json.dumps(e) for e in EVENTS).encode()
    services.ingest(None, io.BytesIO(text), file_name="sinkhole.jsonl")
    jpcert = Event.objects.filter(recipient=routed["JPCERT/CC"])
    sent = {e.event_id.hex: e for e in jpcert}
    assert len(sent) == 4  # these three and the Shadowserver sample's ddos-amplifier one
    services.queue_notices()
    assert services.send_due_notices()["failed"] == 0
    assert len(taxii_server.statuses) == 3  # the ddos batch, infected-system, brute-force

    bundle = server_bundle(taxii_server)
    body = json.dumps(bundle)
    result = validate_string(body, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]
    stix2.parse(body, allow_custom=False)
    kinds = {o["type"] for o in bundle["objects"]}
    assert {"network-traffic", "malware", "sighting", "observed-data"} <= kinds
    assert {o["name"] for o in bundle["objects"] if o["type"] == "malware"} == {"mirai", "emotet"}

    # What the foreign CERT's Bulwark reads out of it (the exchange's STIX reader).
    items = list(formats.parse("stix", io.BytesIO(body.encode()), Context()))
    assert all(i.error is None for i in items), [i.error for i in items if i.error]
    by_stix_id = {i.fields["extra.stix_id"]: i.fields for i in items if i.fields}
    compared = 0
    for hex_id, event in sent.items():
        got = by_stix_id[_id("observed-data", "event", hex_id)]
        want = {k: v for k, v in event.fields.items() if k in CARRIED and v not in (None, "")}
        assert {k: got.get(k) for k in want} == want
        compared += len(want)
        observed = next(
            o for o in bundle["objects"] if o["id"] == _id("observed-data", "event", hex_id)
        )
        assert observed["extensions"][EVENT_EXTENSION]["classification_identifier"] == (
            event.identifier
        )
    # fields compared equal over the four events (the Shadowserver sample names its
    # application protocol, as Shadowserver's schema maps it)
    assert compared == 40
