"""The engine's gauges are kept from the stations that ran, not by walking the fleet.

Each second :meth:`Engine.gauges` counts again only the stations touched since the
last call; these tests check, at every second of runs with sessions, losses,
reconnects and departures, that the kept totals equal a count over every station.
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
from fleetsim.transport.gauges import NO_SHARE, STATES, CpuRate, share

KEYS = ("booted", "plugged", "charging", "power_kw", "sessions_arrived", "offline_queued",
        *(f"stations_{s}" for s in STATES))


def walked(engine: Engine) -> dict[str, float]:
    """The gauges by a count over every station."""
    t = [sum(col) for col in zip(NO_SHARE, *(share(r) for r in engine.runners), strict=True)]
    return {"booted": t[0], "sessions_arrived": t[1], "plugged": t[2], "charging": t[3],
            "power_kw": round(t[4] / 1e6, 3), "offline_queued": t[5],
            **{f"stations_{s}": t[6 + i] for i, s in enumerate(STATES)}}


async def run(n: int, seconds: float, handler: Any, *, remove: int = 0,
              factor: float = 600.0) -> list[dict[str, Any]]:
    server = await serve(handler, "127.0.0.1", 0, ping_interval=None,
                         subprotocols=[Subprotocol(p) for p in ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")])
    port = server.sockets[0].getsockname()[1]
    s = parse_scenario({"stations": {"count": n, "connectors": 2,
                                     "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}},
                        "drivers": {"model": "uniform",
                                    "overrides": {"uniform": {"sessions_per_day": 200,
                                                              "dwell_h": [0.05, 0.2]}}}})
    specs = build_fleet(s)
    plans = plan_fleet(s, specs, horizon_s=seconds * factor + 3600)
    clock = Clock.start(epoch=None, factor=factor, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    cfg = StationConfig(meter_interval_s=60, heartbeat_interval_s=60, call_timeout_wall_s=2,
                        interval_factor=factor)
    stations = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=Recorder(), config=cfg)
                for sp, pl in zip(specs, plans, strict=True)]
    seen: list[dict[str, Any]] = []
    engine: Engine

    def check(g: dict[str, float]) -> None:
        seen.append({"kept": {k: g[k] for k in KEYS}, "walked": walked(engine)})

    try:
        engine = Engine(stations, [f"ws://127.0.0.1:{port}/{sp.station_id}" for sp in specs],
                        recorder=Recorder(), on_progress=check,
                        options=EngineOptions(connect_rate_per_s=1000, connect_timeout_s=2,
                                              backoff_base_s=0.8, backoff_cap_s=1.2,
                                              stop_grace_s=1, interval_s=0.25))
        task = asyncio.get_running_loop().create_task(engine.run(seconds))
        if remove:
            await asyncio.sleep(seconds / 2)
            await engine.stop_stations(engine.runners[:remove])
        await asyncio.wait_for(task, seconds + 20)
    finally:
        server.close()
    return seen


def acks(close_every: int = 0) -> Any:
    calls = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal calls
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[0] != 2:
                continue
            calls += 1
            await ws.send(orjson.dumps([3, msg[1], canned_result(ws.subprotocol or "", msg[2])])
                          .decode())
            if close_every and calls % close_every == 0:
                # the CSMS drops a station now and then, cleanly or not: offline, reconnect
                if calls % (2 * close_every):
                    await ws.close()
                else:  # later, silently: no frame, only the loss tells the station
                    await asyncio.sleep(0.6)
                    ws.transport.abort()
                return

    return handler


async def test_kept_gauges_equal_a_count_of_every_station_through_sessions() -> None:
    seen = await run(30, 4.0, acks(close_every=25))
    assert len(seen) >= 8
    for x in seen:
        assert x["kept"] == x["walked"], x
    assert max(x["kept"]["charging"] for x in seen) > 0  # cars came, charged and left
    assert max(x["kept"]["booted"] for x in seen) > 20


async def test_a_station_that_lost_its_link_counts_offline_before_it_runs_again() -> None:
    # real time: no session timer wakes a station between its loss and its reconnect
    seen = await run(30, 4.0, acks(close_every=25), factor=1.0)
    for x in seen:
        assert x["kept"] == x["walked"], x
    assert max(x["kept"]["stations_offline"] for x in seen) > 0


async def test_stations_that_leave_take_their_share_with_them() -> None:
    seen = await run(30, 4.0, acks(), remove=10)
    for x in seen:
        assert x["kept"] == x["walked"], x
    assert seen[-1]["kept"]["booted"] <= 20 < max(x["kept"]["booted"] for x in seen)


def test_cpu_rate_of_a_few_milliseconds_is_a_rate_not_a_tick() -> None:
    """Intervals a few ms apart (a loop catching up after a stall) read their real CPU
    share: at 10 ms ticks a 5 ms span read 0 % or 200 % and more (a stop's "1555.8 %")."""
    rate = CpuRate()
    end = time.monotonic() + 0.005
    while time.monotonic() < end:  # 5 ms of this process's CPU, if the box lets it run
        pass
    pct = rate.read()
    assert 20 < pct <= 101, pct
