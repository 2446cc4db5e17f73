"""A failed or dropped connection is freed by reference counting (issue 18).

websockets' parser is a generator whose frame holds the protocol that holds it, and a
dropped link keeps its EOFError, whose traceback holds that frame: every lost
connection was cyclic garbage, and once the fleet's connections had been frozen
(``gc.freeze`` each second) it stayed until the run ended. So did every refused connect
(the exception's frames hold it and the station's connection) and every refused upgrade
(websockets' response and its ``InvalidStatus`` refer to each other). Real connections
over loopback, the collector off.
"""

from __future__ import annotations

import asyncio
import gc
import http
import weakref
from collections.abc import Awaitable, Callable

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from fleetsim.scenario.model import OcppVersion
from fleetsim.transport import Engine, EngineOptions
from fleetsim.transport.connection import StationConnection
from tests.station.harness import make
from tests.transport.test_engine import free_port

# what a failed connect left as cyclic garbage (the stdlib selector loop's own transport
# and socket cycles are not ours: the engine runs on uvloop)
OURS = {"StationConnection", "ClientProtocol", "InvalidStatus", "Response", "Headers",
        "ConnectionRefusedError", "frame", "traceback"}


async def test_a_dropped_connection_leaves_no_cycle() -> None:
    async def drop(ws: ServerConnection) -> None:
        ws.transport.abort()  # no close frame: the station reads an unexpected EOF

    server = await serve(drop, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")])
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[str] = loop.create_future()
    st = make(OcppVersion.V16)
    gc.collect()
    gc.disable()
    try:
        held = [StationConnection(st, f"ws://127.0.0.1:{port}/T000001", "ocpp1.6", loop=loop,
                                  on_open=lambda: None, after_io=lambda: None,
                                  on_lost=lambda why: lost.set_result(why))]
        await loop.create_connection(lambda: held[0], "127.0.0.1", port)
        assert await asyncio.wait_for(lost, 10)
        proto = weakref.ref(held[0].ws)
        held.clear()
        await asyncio.sleep(0)  # the transport lets go of its protocol
        assert proto() is None  # freed at once, no collection ran
    finally:
        gc.enable()
        server.close()


async def cyclic_garbage(attempt: Callable[[], Awaitable[None]]) -> list[str]:
    """The types of ours that ``attempt`` left for the cyclic collector."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.disable()
    try:
        await attempt()
        gc.collect()
        return sorted({type(o).__qualname__ for o in gc.garbage} & OURS)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def one_station(url: str) -> Engine:
    st = make(OcppVersion.V16)
    return Engine([st], [f"{url}/T000001"], recorder=st.rec, options=EngineOptions())


async def test_a_refused_connect_leaves_no_cycle() -> None:
    engine = one_station(f"ws://127.0.0.1:{free_port()}")  # nothing listens there
    runner = engine.runners[0]

    async def refused() -> None:
        for _ in range(3):
            await runner.connect()
        assert engine.rec.faults["connection_refused"] == 3

    try:
        assert await cyclic_garbage(refused) == []
    finally:
        engine.stopping = True  # the retry it scheduled does nothing


async def test_a_refused_upgrade_leaves_no_cycle() -> None:
    server = await serve(lambda ws: asyncio.sleep(0), "127.0.0.1", 0,
                         process_request=lambda conn, _req: conn.respond(
                             http.HTTPStatus.SERVICE_UNAVAILABLE, "busy\n"))
    engine = one_station(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    runner = engine.runners[0]

    async def refused() -> None:
        for n in range(1, 4):
            await runner.connect()
            while engine.rec.faults["http_503"] < n or (runner.conn is not None
                                                        and runner.conn.transport is not None):
                await asyncio.sleep(0.005)  # until the refusal is read and the socket closed

    try:
        assert await asyncio.wait_for(cyclic_garbage(refused), 10) == []
    finally:
        engine.stopping = True
        server.close()


@pytest.mark.parametrize(("server_does", "why"), [
    ("fin", "connection_lost"),  # TCP closed without a close frame: 1006, not a violation
    ("bad_opcode", "protocol_violation"),
])
async def test_how_a_lost_connection_is_named(server_does: str, why: str) -> None:
    async def handler(ws: ServerConnection) -> None:
        if server_does == "bad_opcode":
            ws.transport.write(b"\x83\x00")  # opcode 3 is reserved
        ws.transport.close()

    server = await serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")])
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[str] = loop.create_future()
    try:
        conn = StationConnection(make(OcppVersion.V16), f"ws://127.0.0.1:{port}/T000001",
                                 "ocpp1.6", loop=loop, on_open=lambda: None,
                                 after_io=lambda: None, on_lost=lost.set_result)
        await loop.create_connection(lambda: conn, "127.0.0.1", port)
        assert await asyncio.wait_for(lost, 10) == why
    finally:
        server.close()
