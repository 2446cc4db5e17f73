"""A running engine freezes each second's objects, within a memory bound (issue 18).

The one young collection left at 2,000 busy stations walked every object made since
the last freeze and still alive (40-46 ms): each second the engine freezes what it
made (:func:`fleetsim.transport.heap.freeze_second`). Frozen cyclic garbage would stay
until the run ends, so a sampled second is collected young first, and if two samples
in a row find cycles the engine stops freezing and counts the fault
``gc_freeze_stopped``. A real
engine against the ack server over loopback, every second sampled;
``gc.get_objects()`` lists what the collector still walks (not the frozen).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest

import fleetsim.transport.heap as heap
from fleetsim.bench.ack_server import serve_ack
from fleetsim.drivers.registry import plan_fleet
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario import build_fleet, parse_scenario
from fleetsim.station import STATION_CLASSES, Clock, StationConfig
from fleetsim.transport import Engine, EngineOptions

N = 10


class Fleet:
    """``N`` 1.6 stations on the ack server, their per-second gauges as an event."""

    def __init__(self, url: str) -> None:
        s = parse_scenario({"stations": {"count": N, "versions": {"1.6": 1}}})
        specs = build_fleet(s)
        plans = plan_fleet(s, specs, horizon_s=7200)
        clock = Clock.start(epoch=None, factor=1.0, wall_timestamps=False,
                            monotonic=time.monotonic(), unix=time.time())
        self.rec = Recorder()
        cfg = StationConfig(meter_interval_s=60, heartbeat_interval_s=60, call_timeout_wall_s=2)
        sts = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=self.rec, config=cfg)
               for sp, pl in zip(specs, plans, strict=True)]
        self.seconds: asyncio.Queue[dict[str, float]] = asyncio.Queue()
        self.engine = Engine(sts, [f"{url}/{sp.station_id}" for sp in specs], recorder=self.rec,
                             on_progress=self.seconds.put_nowait,
                             options=EngineOptions(connect_rate_per_s=1000, stop_grace_s=2))
        self.stop = asyncio.Event()

    async def second(self) -> dict[str, float]:
        """The next interval the engine emits (its freeze came just before)."""
        return await asyncio.wait_for(self.seconds.get(), 10)

    async def booted(self) -> None:
        while (await self.second())["booted"] < N:
            pass
        await self.second()  # the all-booted settle has happened and a second since


def walked(objs: list[Any]) -> int:
    """How many of ``objs`` the collector still walks (not frozen)."""
    ids = {id(o) for o in objs}
    return sum(1 for o in gc.get_objects() if id(o) in ids)


async def with_fleet(check: Any) -> Recorder:
    server = await serve_ack()
    port = server.sockets[0].getsockname()[1]
    fleet = Fleet(f"ws://127.0.0.1:{port}")
    run = asyncio.get_running_loop().create_task(fleet.engine.run(60, fleet.stop))
    try:
        await asyncio.wait_for(fleet.booted(), 20)
        await asyncio.wait_for(check(fleet), 30)
    finally:
        fleet.stop.set()
        await asyncio.wait_for(run, 20)
        server.close()
    return fleet.rec


@pytest.fixture(autouse=True)
def every_second_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "SAMPLE_EVERY", 1)


async def test_each_seconds_objects_leave_the_collectors_walks() -> None:
    async def check(fleet: Fleet) -> None:
        made = [[i] for i in range(1000)]  # alive, made between two seconds
        assert walked(made) == len(made)
        await fleet.second()
        assert walked(made) == 0  # frozen: no young collection walks them
        once: list[Any] = []
        once.append(once)  # one cycle (a schema compiled at first use): sampled, freed ...
        del once
        for _ in range(4):
            await fleet.second()  # ... and no reason to stop

    rec = await with_fleet(check)
    assert "gc_freeze_stopped" not in rec.faults
    assert gc.get_freeze_count() == 0  # the run's end unfroze everything


async def test_cyclic_garbage_made_steadily_stops_the_freezing() -> None:
    async def check(fleet: Fleet) -> None:
        async def leak() -> None:  # what an unfound reference cycle in the engine would do
            while True:
                cycle: list[Any] = []
                cycle.append(cycle)
                await asyncio.sleep(0.05)

        leaking = asyncio.get_running_loop().create_task(leak())
        try:
            while "gc_freeze_stopped" not in fleet.rec.faults:
                await fleet.second()
        finally:
            leaking.cancel()
        made = [[i] for i in range(1000)]
        await fleet.second()
        await fleet.second()
        assert walked(made) == len(made)  # no longer frozen: the collector may free cycles

    rec = await with_fleet(check)
    assert rec.faults["gc_freeze_stopped"] == 1  # counted once, not once a second


async def test_the_sample_collects_a_window_after_the_freeze() -> None:
    """A sampled second's young collection comes :data:`SAMPLE_WINDOW_S` after its
    freeze, well before the next second's: it walks a tenth of a second's objects,
    not the whole second's (which it did at the next freeze, 9-21 ms at 2,000 busy
    stations)."""
    young: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 0:
            young.append(time.monotonic())

    async def check(fleet: Fleet) -> None:
        cut = time.monotonic()  # fleet.second() returned at the cut, just after the freeze
        await fleet.second()
        assert any(cut + heap.SAMPLE_WINDOW_S <= t < cut + 0.5 for t in young), (cut, young)

    gc.callbacks.append(on_gc)
    try:
        await with_fleet(check)
    finally:
        gc.callbacks.remove(on_gc)
