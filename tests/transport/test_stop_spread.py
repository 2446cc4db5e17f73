"""The end of a run spreads its stops over ``stop_spread_s``; 0 is the stop burst (a fault).

A CSMS records when each end-of-run stop (1.6 StopTransaction / 2.x TransactionEvent
Ended, reason ``Local``) arrives: spread over the window, or all in one instant.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from websockets.asyncio.server import ServerConnection, serve

from fleetsim.bench.ack_server import canned_result
from fleetsim.drivers.registry import plan_fleet
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario import build_fleet, parse_scenario
from fleetsim.station import STATION_CLASSES, Clock, StationConfig
from fleetsim.transport import Engine, EngineOptions
from fleetsim.transport.engine import STOP_SLICE

SUBPROTOCOLS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
N = 40


def _local_stop(action: str, payload: dict[str, object]) -> bool:
    if action == "StopTransaction":
        return payload.get("reason") == "Local"
    info = payload.get("transactionInfo")
    return (action == "TransactionEvent" and payload.get("eventType") == "Ended"
            and isinstance(info, dict) and info.get("stoppedReason") == "Local")


async def _stop_times(spread_s: float) -> list[float]:
    seen: list[float] = []

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[0] != 2:
                continue
            if _local_stop(msg[2], msg[3]):
                seen.append(time.monotonic())
            await ws.send(orjson.dumps([3, msg[1], canned_result(ws.subprotocol or "",
                                                                 msg[2])]).decode())

    s = parse_scenario({"stations": {"count": N, "versions": {"1.6": 1, "2.0.1": 1}},
                        "drivers": {"model": "uniform", "overrides": {"uniform": {
                            "sessions_per_day": 200, "dwell_h": [20, 30]}}}})
    specs = build_fleet(s)
    plans = plan_fleet(s, specs, horizon_s=4 * 600 + 3600)
    clock = Clock.start(epoch=None, factor=600, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    rec = Recorder()
    cfg = StationConfig(meter_interval_s=3600, heartbeat_interval_s=3600, authorize=False)
    stations = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec, config=cfg)
                for sp, pl in zip(specs, plans, strict=True)]
    async with serve(handler, "127.0.0.1", 0, subprotocols=SUBPROTOCOLS) as server:  # type: ignore[arg-type]
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        engine = Engine(stations, [f"{url}/{sp.station_id}" for sp in specs], recorder=rec,
                        options=EngineOptions(connect_rate_per_s=1000, stop_grace_s=5,
                                              stop_spread_s=spread_s))
        await asyncio.wait_for(engine.run(2.0), 30)
    return seen


async def test_the_end_of_a_run_spreads_its_stops() -> None:
    seen = await _stop_times(1.5)
    assert len(seen) >= N // 2  # most stations had a car plugged in at the end
    assert max(seen) - min(seen) >= 0.75  # spread over the window, not one instant


async def test_a_zero_spread_is_the_stop_burst() -> None:
    seen = await _stop_times(0.0)
    assert len(seen) >= N // 2
    assert max(seen) - min(seen) < 0.5


async def test_no_interval_is_emitted_after_the_stop() -> None:
    """The stop's interval is the last: the per-second loop, asleep when the stop came,
    once woke afterwards and wrote into a results folder already closed ("I/O operation
    on closed file" from ``fleetsim run --workers 0``)."""

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = orjson.loads(raw)
            await ws.send(orjson.dumps([3, msg[1], canned_result(ws.subprotocol or "",
                                                                 msg[2])]).decode())

    s = parse_scenario({"stations": {"count": 2, "versions": {"1.6": 1}}})
    specs = build_fleet(s)
    clock = Clock.start(epoch=None, factor=1, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    rec = Recorder()
    stations = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec,
                                            config=StationConfig())
                for sp, pl in zip(specs, plan_fleet(s, specs, horizon_s=60), strict=True)]
    emitted: list[float] = []
    async with serve(handler, "127.0.0.1", 0, subprotocols=SUBPROTOCOLS) as server:  # type: ignore[arg-type]
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        engine = Engine(stations, [f"{url}/{sp.station_id}" for sp in specs], recorder=rec,
                        options=EngineOptions(interval_s=0.3, stop_grace_s=0))
        engine.on_interval = lambda stats: emitted.append(stats.t_s)
        await asyncio.wait_for(engine.run(0.45), 30)  # the stop comes mid-sleep
        last = list(emitted)
        # the monitors end (cancelled at the stop, or by running out): wait for exactly that
        await asyncio.wait_for(asyncio.gather(*engine._monitors, return_exceptions=True), 5)
    assert last
    assert emitted == last  # nothing after the stop's interval


class _Station:
    idle = True

    def stop(self, now: float) -> None:
        pass


class _Runner:
    """What the stop touches of a station: its stop, no connection, its wake-up."""

    def __init__(self) -> None:
        self.station, self.conn = _Station(), None

    def reschedule(self) -> None:
        pass


async def test_a_stop_behind_its_schedule_still_lets_the_loop_turn() -> None:
    """10,000 closes due within 2 s fell behind and ran in one pass: a 1.1 s stall.
    The burst (spread 0) is always behind: it runs STOP_SLICE stations a turn."""
    engine = Engine([], [], recorder=Recorder(), options=EngineOptions())
    turns = 0

    async def probe() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    task = asyncio.get_running_loop().create_task(probe())
    await asyncio.sleep(0)
    before = turns
    await engine._stop_spread([_Runner() for _ in range(1000)], 0.0)  # type: ignore[list-item]
    task.cancel()
    assert turns - before >= 1000 // STOP_SLICE - 1
