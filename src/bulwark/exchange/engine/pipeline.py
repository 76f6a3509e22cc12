"""Batches through parse -> normalise -> id -> route, with bounded queues between stages.

`prepare` turns parser items into `Batch`es; `bounded` runs a stage in a thread behind a
queue of fixed size, so a slow store holds the parser back (back-pressure) instead of
letting parsed events pile up in memory.
"""

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bulwark.exchange.engine.event import Event, Invalid, keys, normalise
from bulwark.exchange.engine.formats.base import Item
from bulwark.exchange.engine.router import Route, Router

T = TypeVar("T")
DEFAULT_BATCH = 5000  # events per transaction (2,000: 10 % slower on PostgreSQL)
DEFAULT_WINDOW = 24 * 3600


@dataclass(slots=True)
class Prepared:
    number: int
    event: Event
    event_id: str
    dedupe_key: str
    route: Route


@dataclass
class Batch:
    events: list[Prepared] = field(default_factory=list)
    rejected: list[Item] = field(default_factory=list)  # item.error says why
    # What the store made of the events ahead of time (in the parser's thread), if it did.
    encoded: Any = None

    def __len__(self) -> int:
        return len(self.events) + len(self.rejected)


def prepare(
    items: Iterable[Item],
    router: Router,
    *,
    observed_at: str,
    defaults: dict[str, Any] | None = None,
    window_seconds: int = DEFAULT_WINDOW,
    batch_size: int = DEFAULT_BATCH,
) -> Iterator[Batch]:
    batch = Batch()
    route = router.route
    fixed = {"time.observation": observed_at, **(defaults or {})}
    for item in items:
        if item.fields is None:
            batch.rejected.append(item)
        else:
            try:
                event = normalise(item.fields, fixed)
            except Invalid as exc:
                item.error = str(exc)
                batch.rejected.append(item)
            else:
                ident, dedupe = keys(event, window_seconds)
                batch.events.append(Prepared(item.number, event, ident, dedupe, route(event)))
        if len(batch) >= batch_size:
            yield batch
            batch = Batch()
    if len(batch):
        yield batch


_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def bounded(source: Iterable[T], maxsize: int = 4) -> Iterator[T]:
    """Iterate `source` in a worker thread, at most `maxsize` items ahead of the consumer.
    An exception in the source is raised in the consumer; closing the iterator early
    stops the worker."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def produce() -> None:
        try:
            for value in source:
                while not stop.is_set():
                    try:
                        buffer.put(value, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer, re-raised there
            buffer.put(_Failure(exc))

    worker = threading.Thread(target=produce, name="exchange-parse", daemon=True)
    worker.start()
    try:
        while True:
            value = buffer.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.exc
            yield value
    finally:
        stop.set()
        while worker.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                worker.join(0.05)
