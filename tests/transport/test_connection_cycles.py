"""A dropped connection's protocol is freed by reference counting (issue 18).

websockets' parser is a generator whose frame holds the protocol that holds it, and a
dropped link keeps its EOFError, whose traceback holds that frame: every lost
connection was cyclic garbage, and once the fleet's connections had been frozen
(``gc.freeze`` after the ramp) it stayed until the run ended. A real connection over
loopback to a server that drops it, the collector off.
"""

from __future__ import annotations

import asyncio
import gc
import weakref

from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from fleetsim.scenario.model import OcppVersion
from fleetsim.transport.connection import StationConnection
from tests.station.harness import make


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
