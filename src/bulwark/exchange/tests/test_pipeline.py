"""Batches and back-pressure: the parser never runs more than the queue size ahead."""

import threading
import time
from collections.abc import Iterator

import pytest

from bulwark.constituency.networks import Claim
from bulwark.exchange.engine.formats.base import Item
from bulwark.exchange.engine.pipeline import bounded, prepare
from bulwark.exchange.engine.router import Router


def test_bounded_queue_holds_the_producer_back() -> None:
    produced = []

    def source() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    stream = bounded(source(), maxsize=3)
    assert next(stream) == 0
    time.sleep(0.3)  # the consumer is slow: the producer must wait, not run ahead
    assert len(produced) <= 1 + 3 + 1
    assert list(stream) == list(range(1, 100))


def test_producer_errors_reach_the_consumer_and_closing_stops_the_producer() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("broken input")

    with pytest.raises(ValueError, match="broken input"):
        list(bounded(failing()))

    def endless() -> Iterator[int]:
        i = 0
        while True:
            i += 1
            yield i

    before = threading.active_count()
    stream = bounded(endless(), maxsize=2)
    next(stream)
    stream.close()
    time.sleep(0.2)
    assert threading.active_count() <= before


def test_prepare_makes_batches_of_routed_events_and_keeps_rejects() -> None:
    router = Router([Claim("cidr", "198.18.0.0/15", 1)])
    items = [Item(n, f"line {n}", {"source.ip": f"198.18.0.{n}"}) for n in range(1, 6)]
    items.insert(2, Item(99, "bad", {"source.ip": "nope"}))
    items.append(Item(100, "worse", error="broken CSV"))
    batches = list(prepare(items, router, observed_at="2026-11-20T00:00:00+00:00", batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    events = [p for b in batches for p in b.events]
    assert [p.number for p in events] == [1, 2, 3, 4, 5]
    assert all(p.route.recipient == 1 for p in events)
    rejected = [i for b in batches for i in b.rejected]
    assert [(i.number, i.error) for i in rejected] == [
        (99, "'nope' is not an IPv4 or IPv6 address"),
        (100, "broken CSV"),
    ]
    assert events[0].event["time.observation"] == "2026-11-20T00:00:00+00:00"
