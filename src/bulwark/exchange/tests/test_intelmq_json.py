"""IntelMQ event JSON (issue 19): every harmonised field kept, unknown ones under extra.
with their JSON types, against IntelMQ's harmonization.conf and events IntelMQ made."""

import io
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from bulwark.exchange.engine import fields as harmonised
from bulwark.exchange.engine.event import TYPE_ALIASES, normalise
from bulwark.exchange.engine.formats import detect, intelmq
from bulwark.exchange.engine.formats.base import Context

CORPUS = Path(__file__).resolve().parent / "corpus"
OBSERVED = {"time.observation": "2026-12-07T00:00:00+00:00"}


@cache
def intelmq_events() -> list[dict[str, Any]]:
    """The events IntelMQ's Shadowserver parser made (extra flattened to extra.*), but
    the 3 of sandbox_dns that name no address (Bulwark refuses those: nothing to route)."""
    cases = orjson.loads((CORPUS / "shadowserver" / "intelmq-current.json").read_bytes())["cases"]
    return [
        r["event"] for name, case in cases.items() for r in case["events"] if name != "sandbox_dns"
    ]


def read(data: bytes, **ctx: Any) -> list[dict[str, Any]]:
    items = list(intelmq.parse(io.BytesIO(data), Context(**ctx)))
    assert all(i.error is None for i in items), [i.error for i in items if i.error]
    return [normalise(i.fields or {}, OBSERVED) for i in items]


def test_our_field_table_is_intelmqs_harmonisation() -> None:
    conf = orjson.loads((CORPUS / "intelmq" / "harmonization.conf").read_bytes())
    assert {k: v["type"] for k, v in conf["event"].items()} == harmonised.FIELD_TYPES
    assert len(harmonised.FIELD_TYPES) == 82


def nested(event: dict[str, Any]) -> dict[str, Any]:
    """IntelMQ's hierarchical output: {"source": {"ip": ...}, "extra": {...}}."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key.startswith("extra."):
            out.setdefault("extra", {})[key[6:]] = value
            continue
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def extra_object(event: dict[str, Any]) -> dict[str, Any]:
    """Flat names, `extra` as one JSON object (IntelMQ's internal message form)."""
    out = {k: v for k, v in event.items() if not k.startswith("extra.")}
    extras = {k[6:]: v for k, v in event.items() if k.startswith("extra.")}
    if extras:
        out["extra"] = orjson.dumps(extras).decode()  # IntelMQ keeps it as JSON text
    return out


@pytest.mark.parametrize("spelling", ["flat", "nested", "extra-object"])
def test_every_field_of_intelmqs_own_events_is_kept(spelling: str) -> None:
    events = intelmq_events()
    shape = {"flat": dict, "nested": nested, "extra-object": extra_object}[spelling]
    data = b"".join(orjson.dumps(shape(e)) + b"\n" for e in events)
    assert detect("events.json", data[:8192]) == "intelmq"
    read_back = read(data)
    assert len(read_back) == len(events) == 737
    dropped, changed = [], []
    compared = 0
    for sent, got in zip(events, read_back, strict=True):
        for key, value in sent.items():
            if value == "" or key.startswith("feed."):
                continue  # empty values are not kept; the feed is named on intake
            compared += 1
            if key not in got:
                dropped.append(key)
            elif key == "classification.type" and TYPE_ALIASES.get(value) == got[key]:
                continue  # IntelMQ's older type names become RSIT's (docs/exchange.md)
            elif got[key] != value or type(got[key]) is not type(value):
                changed.append((key, value, got[key]))
    assert dropped == [] and changed == []
    assert compared > 15_000
    fields = {k for e in read_back for k in e}
    for key in (
        "source.geolocation.city", "source.geolocation.region", "source.reverse_dns",
        "source.local_hostname", "malware.hash.md5",
        "destination.reverse_dns", "source.network", "source.account",
    ):  # fmt: skip
        assert key in fields, key


def test_unknown_fields_keep_their_json_types() -> None:
    line = orjson.dumps(
        {
            "source.ip": "198.18.0.1",
            "classification.type": "c2-server",
            "source.geolocation.latitude": 25.03,
            "source.tor_node": False,
            "vendor_score": 7,
            "extra": {"ports": [22, 80], "ratio": 0.5, "seen": {"first": "2026-11-01"}},
            "raw": "aGVsbG8=",
            "__type": "Event",
        }
    )
    (event,) = read(line + b"\n")
    assert event["source.geolocation.latitude"] == 25.03
    assert event["source.tor_node"] is False
    assert event["extra.vendor_score"] == 7
    assert event["extra.ports"] == [22, 80] and event["extra.ratio"] == 0.5
    assert event["extra.seen"] == {"first": "2026-11-01"}
    assert "raw" not in event and "extra.raw" not in event  # the line itself is kept


def test_intelmqs_json_parser_test_data() -> None:
    for name, addresses in [
        ("json-parser-data.json", ["127.0.0.1", "127.0.0.2"]),
        ("json-parser-data2.json", ["127.0.0.2"]),
    ]:
        data = (CORPUS / "intelmq" / name).read_bytes()
        assert detect(name, data) == "intelmq"
        events = read(data, feed="Test feed")
        assert [e["source.ip"] for e in events] == addresses
        assert {e["classification.type"] for e in events} == {"c2-server"}
        assert {e["classification.taxonomy"] for e in events} == {"malicious-code"}
        assert {e["feed.name"] for e in events} == {"Test feed"}
