"""Storing batches: two workers racing for the same events store each event once, on
PostgreSQL inside the window between the look for stored events and the COPY."""

import threading
from typing import Any

import pytest
from django.db import connection

from bulwark.exchange import store
from bulwark.exchange.engine.formats.base import Item
from bulwark.exchange.engine.pipeline import Batch, prepare
from bulwark.exchange.engine.router import Router
from bulwark.exchange.models import Event, Report

OBSERVED = "2026-11-20T00:00:00+00:00"


def _batch(numbers: range) -> Batch:
    items = [
        Item(n, f"line {n}", {"source.ip": f"198.18.0.{n}", "classification.type": "scanner"})
        for n in numbers
    ]
    return next(prepare(items, Router([]), observed_at=OBSERVED, batch_size=100))


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_stored_some_of_the_events_first_wins_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = Report.objects.create(sha256="a" * 64, size=1, source="file")
    second = Report.objects.create(sha256="b" * 64, size=1, source="file")
    results: dict[str, Any] = {}

    def other_worker() -> None:
        try:
            results["second"] = store.store_batch(second.pk, _batch(range(4, 8)))
        finally:
            connection.close()  # this thread's own connection

    if connection.vendor == "postgresql":
        # The other worker commits events 4-7 after this one looked and before its COPY.
        look = store._stored

        def look_then_let_the_other_worker_in(keys: list[str]) -> dict[str, tuple[int, int]]:
            found = look(keys)
            monkeypatch.setattr(store, "_stored", look)  # once
            worker = threading.Thread(target=other_worker)
            worker.start()
            worker.join()
            return found

        monkeypatch.setattr(store, "_stored", look_then_let_the_other_worker_in)
    else:  # SQLite lets one writer in at a time: the other worker simply comes first
        other_worker()
    counts = store.store_batch(first.pk, _batch(range(1, 11)))

    assert (results["second"].events, results["second"].duplicates) == (4, 0)
    assert (counts.read, counts.events, counts.duplicates) == (10, 6, 4)
    owner = dict(Event.objects.values_list("record_no", "report_id"))
    assert owner == {n: second.pk if 4 <= n <= 7 else first.pk for n in range(1, 11)}
    # Running the first worker's batch again is a replay: nothing new, nothing lost.
    again = store.store_batch(first.pk, _batch(range(1, 11)))
    assert (again.events, again.duplicates) == (6, 4)
    assert Event.objects.count() == 10


@pytest.mark.django_db
def test_stored_events_read_back_exactly_as_normalised() -> None:
    """Fields that columns hold are left out of `data` and put back: every sample format
    and the awkward values (IPv6, a long or numeric identifier, a long provider, no
    time at source, escapes) read back exactly as `normalise` made them."""
    from bulwark.exchange import demo
    from bulwark.exchange.engine import formats
    from bulwark.exchange.engine.formats.base import Context

    report = Report.objects.create(sha256="c" * 64, size=1, source="file")
    items = []
    for name in sorted(p.name for p in demo.SAMPLES.iterdir() if p.is_file()):
        with (demo.SAMPLES / name).open("rb") as stream:
            fmt = formats.detect(name, stream.read(8192))
            stream.seek(0)
            items += [i for i in formats.parse(fmt, stream, Context(file_name=name)) if i.fields]
    items += [
        Item(0, "", {"source.ip": "2001:DB8::0:1", "classification.type": "scanner",
                     "classification.identifier": "x" * 150, "feed.provider": "p" * 250}),
        Item(0, "", {"source.fqdn": "Evil.Example.ORG.", "classification.identifier": 7,
                     "classification.type": "phishing", "feed.name": "tab\tand\\slash"}),
        Item(0, "", {"destination.ip": "198.51.100.7", "destination.port": "443",
                     "source.asn": "AS64500", "time.source": "2026-11-20 01:02:03 UTC"}),
    ]  # fmt: skip
    for number, item in enumerate(items, start=1):
        item.number = number
    assert len(items) > 20
    batch = next(prepare(items, Router([]), observed_at=OBSERVED, batch_size=1000))
    assert {i.number for i in batch.rejected} < {i.number for i in items[:-3]}  # samples' bad lines
    expected: dict[int, dict[str, Any]] = {}
    seen: set[str] = set()
    for prepared in batch.events:  # the first of equal events is the one stored
        if prepared.dedupe_key not in seen:
            seen.add(prepared.dedupe_key)
            expected[prepared.number] = prepared.event
    counts = store.store_batch(report.pk, batch)
    stored = {e.record_no: e.fields for e in Event.objects.filter(report=report)}
    assert counts.events == len(stored) == len(expected) > 20
    assert {len(items) - 2, len(items) - 1, len(items)} <= set(stored)
    for number, fields in stored.items():
        assert fields == expected[number], number
    # The columns left out of `data` are really left out.
    data = Event.objects.filter(report=report).values_list("data", flat=True)
    assert not any(
        '"time.observation"' in text or '"feed.name":"shadowserver' in text for text in data
    )
