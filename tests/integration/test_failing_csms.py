"""A real station under a failing CSMS (issue #12, items 4 and 5), over real WebSockets.

- A transaction message the CSMS refuses waits for its retry, but the station does not
  freeze: Heartbeats keep flowing meanwhile.
- A BootNotification that times out (answered late) or gets a CALLERROR is sent again;
  the station boots, the late answer is counted, and the recovery is measured.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from fleetsim.bench.ack_server import canned_result
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from tests.integration.fleet import Fleet, sess, wait_for

SUBPROTOCOLS: Any = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
TX = {OcppVersion.V16: "StartTransaction", OcppVersion.V201: "TransactionEvent"}


def _is_tx(action: str) -> bool:
    return action in ("StartTransaction", "StopTransaction", "TransactionEvent", "MeterValues")


@pytest.mark.parametrize("v", [OcppVersion.V16, OcppVersion.V201])
async def test_a_refused_transaction_message_does_not_stop_heartbeats(v: OcppVersion) -> None:
    log: list[tuple[float, str]] = []  # (arrival [monotonic s], action)

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = orjson.loads(raw)
            log.append((time.monotonic(), msg[2]))
            if msg[2] == TX[v]:  # the first transaction message is refused, every time
                await ws.send(orjson.dumps([4, msg[1], "InternalError", "db down", {}]).decode())
            else:
                await ws.send(orjson.dumps([3, msg[1], canned_result(ws.subprotocol or "",
                                                                     msg[2])]).decode())

    # factor 60 with compressed scenario intervals: heartbeat 6 s → 0.1 s wall; the retry
    # interval is TransactionMessageRetryInterval, wall seconds always: 1 s x attempt
    cfg = StationConfig(heartbeat_interval_s=6, meter_interval_s=6000, tx_message_attempts=3,
                        tx_retry_interval_s=1, call_timeout_wall_s=3, interval_factor=60)
    async with serve(handler, "127.0.0.1", 0, subprotocols=SUBPROTOCOLS) as server:
        port = server.sockets[0].getsockname()[1]
        fleet = Fleet(f"ws://127.0.0.1:{port}", [v], lambda i: (sess(12, 6000),),
                      factor=60, config=cfg).start()
        await wait_for(lambda: sum(a == TX[v] for _, a in log) >= 2, 10, "the first retry")
        await fleet.finish()
    tries = [t for t, a in log if a == TX[v]]
    assert tries[1] - tries[0] == pytest.approx(1.0, abs=0.3)
    # while the refused message waited for its retry, the station kept beating ...
    beats = [t for t, a in log if a == "Heartbeat" and tries[0] < t < tries[1]]
    assert len(beats) >= 4, log
    # ... and sent no other transaction message ahead of it (order kept)
    assert not [a for t, a in log if tries[0] < t < tries[1] and _is_tx(a) and a != TX[v]]
    st = fleet.rec.actions[f"{v.value}/{TX[v]}"]
    assert st.retried["CALLERROR:InternalError"] >= 1 and st.first >= 1


@pytest.mark.parametrize("failure", ["late", "callerror"])
async def test_a_failed_boot_is_retried_and_the_station_boots(failure: str) -> None:
    boots = 0

    async def late(ws: ServerConnection, frame: str) -> None:
        await asyncio.sleep(0.8)  # after the station's 0.4 s call timeout
        await ws.send(frame)

    async def handler(ws: ServerConnection) -> None:
        nonlocal boots
        tasks = set()
        async for raw in ws:
            msg = orjson.loads(raw)
            frame = orjson.dumps([3, msg[1], canned_result(ws.subprotocol or "", msg[2])])
            if msg[2] == "BootNotification":
                boots += 1
                if boots == 1 and failure == "late":
                    task = asyncio.create_task(late(ws, frame.decode()))
                    tasks.add(task)
                    continue
                if boots == 1:
                    frame = orjson.dumps([4, msg[1], "InternalError", "starting up", {}])
            await ws.send(frame.decode())

    # the boot retry without an interval from the CSMS: 0.5 s (wall seconds always)
    cfg = StationConfig(heartbeat_interval_s=600, call_timeout_wall_s=0.4,
                        boot_retry_default_s=0.5)
    async with serve(handler, "127.0.0.1", 0, subprotocols=SUBPROTOCOLS) as server:
        port = server.sockets[0].getsockname()[1]
        fleet = Fleet(f"ws://127.0.0.1:{port}", [OcppVersion.V201], factor=60,
                      config=cfg).start()
        st = fleet.stations[0]
        await wait_for(lambda: st.booted, 10, "the station to boot")
        if failure == "late":
            boot = fleet.rec.actions["2.0.1/BootNotification"]
            await wait_for(lambda: boot.late == 1, 5, "the late answer")
        await fleet.finish()
    rec = fleet.rec
    boot = rec.actions["2.0.1/BootNotification"]
    assert boots == 2 and boot.sent == 2 and boot.answered == 1
    kind = "timeout" if failure == "late" else "CALLERROR:InternalError"
    assert boot.errors[kind] == 1
    assert not rec.faults.get("unexpected_result")  # a late answer is no protocol fault
    if failure == "late":
        assert boot.censored == 1 and boot.service.max_ms() >= 400  # at least the timeout
    # recovery: from the first BootNotification to Accepted, at the second one
    assert rec.boot_attempts == {"2": 1}
    assert rec.boot.max_ms() >= 500 if failure == "callerror" else rec.boot.max_ms() >= 900
