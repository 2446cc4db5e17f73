"""The engine over real WebSockets on 127.0.0.1, against servers that behave and that don't."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from fleetsim.bench.ack_server import canned_result, serve_ack
from fleetsim.drivers.registry import plan_fleet
from fleetsim.exceptions import CsmsUnreachable
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario import build_fleet, parse_scenario
from fleetsim.station import STATION_CLASSES, Clock, StationConfig
from fleetsim.transport import Engine, EngineOptions, EngineReport

SUBPROTOCOLS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_fleet(url: str, n: int, duration_s: float, *, factor: float = 600.0,
                    **options: Any) -> tuple[EngineReport, Recorder, list[dict[str, Any]]]:
    s = parse_scenario({"stations": {"count": n, "connectors": 2,
                                     "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}}})
    specs = build_fleet(s)
    plans = plan_fleet(s, specs, horizon_s=duration_s * factor + 3600)
    clock = Clock.start(epoch=None, factor=factor, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    rec = Recorder()
    cfg = StationConfig(meter_interval_s=60, heartbeat_interval_s=60, call_timeout_wall_s=2,
                        interval_factor=factor)  # a chatty fleet, asked for
    stations = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec, config=cfg)
                for sp, pl in zip(specs, plans, strict=True)]
    sessions: list[dict[str, Any]] = []
    engine = Engine(stations, [f"{url}/{sp.station_id}" for sp in specs], recorder=rec,
                    on_sessions=sessions.extend,
                    options=EngineOptions(**{"connect_rate_per_s": 1000, "connect_timeout_s": 2,
                                             "backoff_base_s": 0.05, "backoff_cap_s": 0.2,
                                             "stop_grace_s": 2, **options}))
    report = await asyncio.wait_for(engine.run(duration_s), duration_s + 20)
    return report, rec, sessions


def accounted(rec: Recorder) -> None:
    for key, a in rec.actions.items():
        assert a.sent == a.answered + sum(a.errors.values()) + sum(a.retried.values()), key


async def test_mixed_fleet_against_ack_server() -> None:
    server = await serve_ack()
    port = server.sockets[0].getsockname()[1]
    try:
        report, rec, sessions = await run_fleet(f"ws://127.0.0.1:{port}", 60, 3.0)
    finally:
        server.close()
    assert report.connected_max == 60 and report.booted == 60
    boots = [rec.actions[f"{v}/BootNotification"].answered for v in ("1.6", "2.0.1", "2.1")]
    assert sum(boots) == 60 and min(boots) >= 18  # every station booted once, all versions
    for v in ("1.6", "2.0.1", "2.1"):
        assert rec.actions[f"{v}/Heartbeat"].answered > 0
    assert rec.actions["2.0.1/TransactionEvent"].answered > 0
    assert rec.actions["1.6/StartTransaction"].answered > 0
    accounted(rec)
    assert sessions and all(s["energy_kwh"] >= 0 for s in sessions)
    assert not rec.faults


async def test_unreachable_csms_is_a_clear_error_not_a_hang() -> None:
    port = free_port()  # nothing listens here
    t0 = time.monotonic()
    with pytest.raises(CsmsUnreachable, match=rf"127.0.0.1:{port}.*connection refused"):
        await run_fleet(f"ws://127.0.0.1:{port}", 30, 30.0)
    assert time.monotonic() - t0 < 10


async def misbehaving(handler: Callable[[ServerConnection], Awaitable[None]]) -> Any:
    return await serve(handler, "127.0.0.1", 0, subprotocols=SUBPROTOCOLS)  # type: ignore[arg-type]


async def test_server_that_closes_sockets_is_counted_and_stations_reconnect() -> None:
    boots = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal boots
        async for raw in ws:
            msg = orjson.loads(raw)
            await ws.send(orjson.dumps([3, msg[1], canned_result(ws.subprotocol or "", msg[2])])
                          .decode())
            if msg[2] == "BootNotification":
                boots += 1
                if boots <= 10:
                    await ws.close()  # the first boots of the fleet: the socket goes away
                    return

    server = await misbehaving(handler)
    port = server.sockets[0].getsockname()[1]
    try:
        report, rec, _ = await run_fleet(f"ws://127.0.0.1:{port}", 10, 2.0)
    finally:
        server.close()
    assert rec.faults["connection_lost"] >= 10
    assert report.booted == 10 and boots >= 20  # everyone came back and booted again
    accounted(rec)


async def test_callerrors_and_garbage_are_counted() -> None:
    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[2] == "BootNotification":
                await ws.send(orjson.dumps([3, msg[1], canned_result("ocpp1.6", msg[2])]).decode())
                await ws.send("this is not json")
                await ws.send('[3,"never-asked",{}]')
                await ws.send('[2,"c1","NoSuchAction",{}]')
            else:
                await ws.send(orjson.dumps([4, msg[1], "InternalError", "nope", {}]).decode())

    server = await misbehaving(handler)
    port = server.sockets[0].getsockname()[1]
    try:
        _, rec, _ = await run_fleet(f"ws://127.0.0.1:{port}", 6, 1.5)
    finally:
        server.close()
    assert rec.faults["received_malformed_json"] == 6
    assert rec.faults["unexpected_result"] == 6
    assert rec.faults["unsupported_call"] == 6
    errors = sum(a.errors["CALLERROR:InternalError"] for a in rec.actions.values())
    assert errors > 0
    accounted(rec)


async def test_server_that_stops_answering_times_calls_out() -> None:
    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[2] == "BootNotification":
                await ws.send(orjson.dumps([3, msg[1], canned_result("ocpp1.6", msg[2])]).decode())
            # everything else: silence

    server = await misbehaving(handler)
    port = server.sockets[0].getsockname()[1]
    try:
        _, rec, _ = await run_fleet(f"ws://127.0.0.1:{port}", 4, 3.0)
    finally:
        server.close()
    timeouts = sum(a.errors["timeout"] for a in rec.actions.values())
    assert timeouts >= 4
    accounted(rec)



async def test_sessions_wait_for_their_transaction_id_before_being_written() -> None:
    """A 1.6 session that ends before StartTransaction is answered keeps its id in sessions.csv."""
    from fleetsim.scenario.model import OcppVersion
    from fleetsim.station.connector import Transaction
    from tests.station.harness import make

    st = make(OcppVersion.V16)
    handed: list[object] = []
    engine = Engine([st], ["ws://127.0.0.1:1/x"], recorder=st.rec, options=EngineOptions(),
                    on_sessions=lambda rows: handed.extend(getattr(r["tx"], "id", None)
                                                           for r in rows))
    tx = Transaction(None, 0, 0.0)
    st.finished_sessions.append({"station_id": "T000001", "tx": tx})
    engine.drain_sessions()
    assert handed == []  # the id is not known yet: the row waits
    tx.id = 42
    engine.drain_sessions()
    assert handed == [42]
    st.finished_sessions.append({"station_id": "T000001", "tx": Transaction(None, 0, 0.0)})
    engine.drain_sessions(final=True)  # at the end everything goes out, known or not
    assert handed == [42, None]
