"""Injected faults on the engine, over real WebSockets on 127.0.0.1.

Same seed → same stations disconnected and same messages dropped; dirty, clean and
pong_timeout disconnects; latency keeps each station's order; duplicates are real
duplicate frames whose second answer the station expects.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from fleetsim.bench.ack_server import canned_result
from fleetsim.drivers.registry import plan_fleet
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario import build_fleet, parse_scenario
from fleetsim.scenario.faults import FaultPlan, parse_faults
from fleetsim.scenario.reconnect import ReconnectConfig
from fleetsim.station import STATION_CLASSES, Clock, StationConfig
from fleetsim.transport import Engine, EngineOptions
from fleetsim.transport.faults import FaultInjector, event_uniforms

SUBPROTOCOLS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]


class Recording:
    """An answering CSMS that records every frame (station, id, action) and close codes."""

    def __init__(self) -> None:
        self.frames: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.close_codes: dict[str, list[int | None]] = defaultdict(list)
        self.boots: dict[str, int] = defaultdict(int)

    async def handler(self, ws: ServerConnection) -> None:
        sid = ws.request.path.rsplit("/", 1)[-1] if ws.request else "?"
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[0] != 2:
                continue
            self.frames[sid].append((msg[1], msg[2]))
            self.boots[sid] += msg[2] == "BootNotification"
            await ws.send(orjson.dumps([3, msg[1], canned_result(ws.subprotocol or "", msg[2])])
                          .decode())
        self.close_codes[sid].append(ws.close_code)


async def run_faulted(faults: list[dict[str, Any]], *, n: int, duration_s: float, seed: int = 5,
                      reconnect: ReconnectConfig | None = None, call_timeout_s: float = 0.3,
                      ) -> tuple[Recorder, FaultInjector, Engine, Recording]:
    rec_server = Recording()
    server = await serve(rec_server.handler, "127.0.0.1", 0,  # type: ignore[arg-type]
                         subprotocols=SUBPROTOCOLS, ping_interval=None)
    port = server.sockets[0].getsockname()[1] if server.sockets else 0
    s = parse_scenario({"seed": seed, "stations": {"count": n, "connectors": 2,
                                                   "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}},
                        "drivers": {"model": "uniform",
                                    "overrides": {"uniform": {"sessions_per_day": 40}}}})
    specs = build_fleet(s)
    factor = 600.0
    plans = plan_fleet(s, specs, horizon_s=duration_s * factor + 3600)
    clock = Clock.start(epoch=None, factor=factor, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    rec = Recorder()
    cfg = StationConfig(meter_interval_s=60, heartbeat_interval_s=60, interval_factor=factor,
                        call_timeout_wall_s=call_timeout_s,
                        reconnect=reconnect or ReconnectConfig())
    stations = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec, config=cfg)
                for sp, pl in zip(specs, plans, strict=True)]
    plan = parse_faults(faults, file="test", embedded=False)
    injector = FaultInjector(plan, seed=seed, clock=clock)
    engine = Engine(stations, [f"ws://127.0.0.1:{port}/{sp.station_id}" for sp in specs],
                    recorder=rec, faults=injector,
                    options=EngineOptions(connect_rate_per_s=1000, connect_timeout_s=2,
                                          backoff_base_s=0.05, backoff_cap_s=0.1, stop_grace_s=1))
    try:
        await asyncio.wait_for(engine.run(duration_s), duration_s + 15)
    finally:
        server.close()
    return rec, injector, engine, rec_server


def test_event_draws_do_not_depend_on_the_fleet_an_engine_holds() -> None:
    small, big = event_uniforms(9, 0, 3, 10), event_uniforms(9, 0, 3, 5000)
    assert (small == big[:10]).all()  # station i draws the same in every engine process
    assert not (event_uniforms(9, 0, 4, 10) == small).all()
    assert FaultPlan().station_side is False


async def test_same_seed_same_stations_disconnected_and_same_messages_dropped() -> None:
    faults = [{"disconnect": {"at": "0.6s", "share": "50%", "mode": "dirty"}},
              {"action": "TransactionEvent", "drop": "30%"},
              {"action": "MeterValues", "drop": "30%"}]
    runs = [await run_faulted(faults, n=40, duration_s=1.6, seed=seed) for seed in (5, 5, 6)]
    hit = [sorted(sid for _, _, sid in inj.disconnected) for _, inj, _, _ in runs]
    assert hit[0] == hit[1] and hit[0] != hit[2]
    assert 8 <= len(hit[0]) <= 32  # about half of 40
    for rec, inj, _, _ in runs:
        assert rec.injected["disconnect_dirty"] == len(inj.disconnected)
        assert not rec.faults.get("connection_lost")  # ours, not the CSMS's
        assert rec.injected["message_dropped"] > 0
        timeouts = sum(a.errors["timeout"] for a in rec.actions.values())
        assert timeouts == 0  # a dropped CALL's wait is interrupted, not a CSMS timeout
        assert rec.injected_summary()["events"][0]["stations"] == len(inj.disconnected)
    # which messages: the n-th TransactionEvent/MeterValues of a station has the same fate
    shapers = [{r.station.station_id: r.shaper for r in eng.runners} for _, _, eng, _ in runs]
    compared = 0
    for sid, a in shapers[0].items():
        b = shapers[1][sid]
        assert a is not None and b is not None
        for action in ("TransactionEvent", "MeterValues"):
            upto = min(a.seen.get(action, 0), b.seen.get(action, 0))
            mine = [d for d in a.dropped if d[0] == action and d[1] <= upto]
            theirs = [d for d in b.dropped if d[0] == action and d[1] <= upto]
            assert mine == theirs, sid
            compared += upto
    assert compared > 100


async def test_pong_timeout_silences_the_link_until_the_stations_ping_drops_it() -> None:
    faults = [{"disconnect": {"at": "0.6s", "share": "100%", "mode": "pong_timeout"}}]
    pings = ReconnectConfig(ping_interval_s=0.2, ping_timeout_s=0.2)
    rec, inj, _, server = await run_faulted(faults, n=6, duration_s=2.0, reconnect=pings)
    assert rec.injected["disconnect_pong_timeout"] == 6
    assert all(server.boots[sid] >= 2 for _, _, sid in inj.disconnected)  # back and booted
    assert not rec.faults.get("ping_timeout") and not rec.faults.get("connection_lost")


async def test_clean_disconnect_sends_close_code_1000_and_stations_come_back() -> None:
    faults = [{"disconnect": {"at": "0.5s", "share": "100%", "mode": "clean"}}]
    rec, inj, _, server = await run_faulted(faults, n=6, duration_s=1.5)
    assert len(inj.disconnected) == 6 == rec.injected["disconnect_clean"]
    assert all(server.close_codes[sid][0] == 1000 for _, _, sid in inj.disconnected)
    assert all(server.boots[sid] >= 2 for _, _, sid in inj.disconnected)


async def test_latency_keeps_order_and_duplicates_are_the_same_frame_twice() -> None:
    faults = [{"latency": {"ms": 120, "jitter_ms": 80}}, {"action": "*", "duplicate": "25%"}]
    rec, _, _, server = await run_faulted(faults, n=9, duration_s=2.0, call_timeout_s=3.0)
    dup = 0
    for frames in server.frames.values():
        # UUID message ids end in the station's 48-bit message count (station/message_ids.py)
        ids = [int(mid.rsplit("-", 1)[-1], 16) for mid, _ in frames]
        assert ids == sorted(ids)  # never overtaken, even with jitter
        dup += len(ids) - len(set(ids))
    # each decision makes a second frame; one still held back when the run closed never left
    assert 0 < rec.injected["message_duplicated"] - 9 <= dup <= rec.injected["message_duplicated"]
    assert not rec.faults.get("unexpected_result")  # the second answers were expected
    assert rec.injected["latency_stations"] == 9
    boot = rec.actions["2.0.1/BootNotification"].service
    assert boot.percentile_ms(1) >= 35.0  # 120 ms ± 80 ms on the way out


@pytest.mark.parametrize("bad", [
    [{"disconnect": {"share": "50%"}}],
    [{"action": "MeterValues"}],
    [{"action": "MeterValues", "drop": "70%", "duplicate": "40%"}],
    [{"latency": {"ms": 10, "jitter_ms": 20}}],
    [{"csms_restart": {"at": "5s"}}],
    [{"explode": {}}],
])
def test_bad_faults_name_their_key(bad: list[dict[str, Any]]) -> None:
    from fleetsim.exceptions import ScenarioError

    with pytest.raises(ScenarioError, match=r"faults\[0\]"):
        parse_faults(bad, file="x.yaml", embedded=False)
