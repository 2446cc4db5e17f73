"""Stations handed to a running engine in one batch connect spread over the time given,
and stations stopped together close spread over the stop spread.

Locust dispatches a spawn rate's worth of stations once a second. Connected in one
burst, 300 stations a second reached the CSMS at the same instant every second (at
100,000 stations its connect p50 read 47 ms, spread 1.5 ms) and each engine's loop
stalled for 20–70 ms on the burst, so the run was judged invalid. Stopped together,
16,000 idle stations closed in one pass and stalled the loop 1.8 s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from fleetsim.bench.ack_server import canned_result
from fleetsim.drivers.registry import plan_fleet
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario import build_fleet, parse_scenario
from fleetsim.station import STATION_CLASSES, Clock, StationConfig
from fleetsim.transport import Engine, EngineOptions


async def fleet_on(handed: int, spread_s: float, stop_last: int = 0, *,
                   stop_all_over: float | None = None,
                   closed: list[float] | None = None) -> tuple[list[float], Recorder, int]:
    """Hand ``handed`` stations to an engine with an empty fleet in one batch; stop the
    last ``stop_last`` of them at once. Returns the times the server saw each upgrade,
    the recorder and how many stations booted. ``stop_all_over``: then stop them all
    with that stop spread; ``closed`` gets the times their connections ended."""
    opened: list[float] = []
    all_in = asyncio.Event()
    want = handed - stop_last

    async def handler(ws: ServerConnection) -> None:
        opened.append(time.monotonic())
        if len(opened) >= want:
            all_in.set()
        async for msg in ws:
            m = orjson.loads(msg)
            await ws.send(orjson.dumps([3, m[1], canned_result(ws.subprotocol or "", m[2])])
                          .decode())
        if closed is not None:
            closed.append(time.monotonic())

    server = await serve(handler, "127.0.0.1", 0, ping_interval=None,
                         subprotocols=[Subprotocol("ocpp1.6")])
    port = server.sockets[0].getsockname()[1]
    s = parse_scenario({"stations": {"count": handed, "versions": {"1.6": 1}}})
    specs = build_fleet(s)
    clock = Clock.start(epoch=None, factor=1.0, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    rec = Recorder()
    cfg = StationConfig(heartbeat_interval_s=3600)
    stations = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec, config=cfg)
                for sp, pl in zip(specs, plan_fleet(s, specs, horizon_s=60), strict=True)]
    engine = Engine([], [], recorder=rec,
                    options=EngineOptions(connect_rate_per_s=1000, stop_grace_s=1,
                                          stop_spread_s=stop_all_over or 0.0))
    stop = asyncio.Event()
    booted = 0

    async def drive() -> None:
        nonlocal booted
        runners = engine.add_stations(
            stations, [f"ws://127.0.0.1:{port}/{sp.station_id}" for sp in specs],
            spread_s=spread_s)
        if stop_last:
            await engine.stop_stations(runners[-stop_last:])
        await asyncio.wait_for(all_in.wait(), 30)
        while sum(r.station.boots > 0 for r in engine.runners) < want:
            await asyncio.sleep(0.02)  # the boots' answers are on their way
        booted = sum(r.station.boots > 0 for r in engine.runners)
        if stop_all_over is not None:
            await engine.stop_stations(list(engine.runners))
        stop.set()

    task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(drive())
    try:
        await asyncio.wait_for(engine.run(60, stop), 90)
        await task
    finally:
        server.close()
    return opened, rec, booted


async def test_a_batch_connects_spread_over_the_time_given() -> None:
    n, spread = 10, 1.0
    opened, rec, booted = await fleet_on(n, spread)
    assert booted == n and len(opened) == n
    # station k of n connects k/n of the way in: the last no sooner than 0.9 s after the first
    assert max(opened) - min(opened) >= spread * (n - 1) / n - 0.01
    assert not rec.faults


async def test_stations_stopped_before_their_turn_never_connect() -> None:
    opened, rec, booted = await fleet_on(10, 2.0, stop_last=5)
    assert booted == 5 and len(opened) == 5  # the other five never reached the CSMS
    assert not rec.faults


async def test_stations_stopped_together_close_spread_over_the_stop_spread() -> None:
    closed: list[float] = []
    n, spread = 10, 1.0
    _opened, rec, booted = await fleet_on(n, 0.0, stop_all_over=spread, closed=closed)
    assert booted == n and len(closed) == n  # every connection closed cleanly
    # station k of n closes at k/n of the spread, not all in the first pass
    assert max(closed) - min(closed) >= spread * (n - 1) / n - 0.05
    assert not rec.faults
