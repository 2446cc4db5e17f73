"""The benchmark sink keeps its garbage collector off the answers' path (issue 18).

With 2,000 busy stations the ack server made ~370 collections a minute, up to 35-56 ms
each, and each held the answers back until they reached the engine in a burst.
:func:`fleetsim.bench.ack_server.hold_heap` freezes the sink's objects while it holds
connections and lets the collector have them back when it holds none.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from types import SimpleNamespace

from fleetsim.bench.ack_server import hold_heap
from fleetsim.transport.heap import YOUNG_THRESHOLD, release_heap


class Cycle:
    def __init__(self) -> None:
        self.me = self


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def test_frozen_while_connected_released_when_idle() -> None:
    threshold = gc.get_threshold()
    server = SimpleNamespace(connections=set())
    task = asyncio.get_running_loop().create_task(hold_heap(server))
    try:
        server.connections.add(object())  # a connection came
        await until(lambda: gc.get_threshold()[0] == YOUNG_THRESHOLD)
        assert gc.get_freeze_count() > 0
        cycle = Cycle()  # a closed connection's garbage, frozen with the second ...
        gone = weakref.ref(cycle)
        del cycle
        frozen = gc.get_freeze_count()
        await until(lambda: gc.get_freeze_count() > frozen)
        gc.collect(0)
        assert gone() is not None
        server.connections.clear()  # ... collected once the sink holds no connection
        await until(lambda: gc.get_threshold() == threshold)
        assert gc.get_freeze_count() == 0
        assert gone() is None
    finally:
        task.cancel()
        release_heap()
