"""The bulk helpers pause the cyclic collector only for their block and lose nothing."""

import gc
import weakref

import orjson
import pytest

from bulwark.core import bulk


def test_loads_parses_and_restores_the_collector() -> None:
    assert gc.isenabled()
    assert bulk.loads(b'{"objects": [{"id": 1}, {"id": 2}]}') == {"objects": [{"id": 1}, {"id": 2}]}
    assert gc.isenabled()


def test_broken_json_raises_and_restores_the_collector() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        bulk.loads(b'{"objects": [')
    assert gc.isenabled()


def test_pause_nests_and_keeps_a_disabled_collector_disabled() -> None:
    with bulk.collector_paused():
        assert not gc.isenabled()
        with bulk.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block does not restart it early
    assert gc.isenabled()
    gc.disable()
    try:
        with bulk.collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had paused it keeps it paused
    finally:
        gc.enable()


def test_cycles_made_while_paused_are_collected_afterwards() -> None:
    class Node:
        other: "Node"

    with bulk.collector_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # a cycle: only the collector frees it
    gc.collect()
    assert gone() is None
