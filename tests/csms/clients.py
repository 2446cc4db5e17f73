"""Test stations: the ``ocpp`` library's own ChargePoint over real websockets, and raw frames.

Everything waits with a timeout; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import ocpp.v16
import ocpp.v21
import ocpp.v201
import orjson
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from fleetsim.csms import CsmsConfig, CsmsServer, serve
from fleetsim.csms.versions import OcppVersion

TIMEOUT_S = 5.0
T = TypeVar("T")

CHARGE_POINTS: dict[OcppVersion, Any] = {
    OcppVersion.V16: ocpp.v16.ChargePoint,
    OcppVersion.V201: ocpp.v201.ChargePoint,
    OcppVersion.V21: ocpp.v21.ChargePoint,
}
CALLS: dict[OcppVersion, Any] = {
    OcppVersion.V16: ocpp.v16.call,
    OcppVersion.V201: ocpp.v201.call,
    OcppVersion.V21: ocpp.v21.call,
}
V2 = (OcppVersion.V201, OcppVersion.V21)


def run(coro: Awaitable[T], timeout_s: float = 20.0) -> T:
    """Run a test coroutine on a fresh event loop, failing after ``timeout_s``."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout_s)

    return asyncio.run(bounded())


def run_with_csms(
    scenario: Callable[[CsmsServer], Awaitable[T]], config: CsmsConfig | None = None
) -> T:
    """Start an in-process CSMS, run ``scenario(server)``, close the CSMS (ledger flushed)."""

    async def main() -> T:
        async with await serve(config or CsmsConfig()) as server:
            return await scenario(server)

    return run(main())


@contextlib.asynccontextmanager
async def ocpp_station(url: str, station_id: str, version: OcppVersion) -> AsyncIterator[Any]:
    """An ``ocpp`` ChargePoint connected as ``station_id``, its receive loop running."""
    async with websockets.connect(
        f"{url}/{station_id}",
        subprotocols=[Subprotocol(version.subprotocol)],
        open_timeout=TIMEOUT_S,
    ) as ws:
        cp = CHARGE_POINTS[version](station_id, ws, response_timeout=TIMEOUT_S)
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await task


class RawStation:
    """A station that sends hand-made frames, to test what the library would refuse to send."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def call(self, action: str, payload: Any, unique_id: str | None = None) -> list[Any]:
        """Send a CALL and return the decoded reply frame."""
        unique_id = unique_id or f"m{next(self._ids)}"
        await self.send([2, unique_id, action, payload])
        reply = await self.recv()
        assert reply[1] == unique_id, reply
        return reply

    async def send(self, frame: Any) -> None:
        await self.ws.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())

    async def recv(self) -> list[Any]:
        reply: list[Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
        return reply


@contextlib.asynccontextmanager
async def raw_station(url: str, station_id: str, version: OcppVersion) -> AsyncIterator[RawStation]:
    """A :class:`RawStation` connected as ``station_id``."""
    async with websockets.connect(
        f"{url}/{station_id}",
        subprotocols=[Subprotocol(version.subprotocol)],
        open_timeout=TIMEOUT_S,
    ) as ws:
        yield RawStation(ws)


async def boot(cp: Any, version: OcppVersion) -> Any:
    """Send a BootNotification through the library client; return its result."""
    call = CALLS[version]
    if version is OcppVersion.V16:
        request = call.BootNotification(charge_point_vendor="fleetsim", charge_point_model="test")
    else:
        request = call.BootNotification(
            charging_station={"model": "test", "vendor_name": "fleetsim"}, reason="PowerUp"
        )
    return await cp.call(request, suppress=False)


async def authorize(cp: Any, version: OcppVersion, token: str) -> str:
    """Authorize ``token``; return the status the CSMS answered."""
    call = CALLS[version]
    if version is OcppVersion.V16:
        result = await cp.call(call.Authorize(id_tag=token), suppress=False)
        return str(result.id_tag_info["status"])
    request = call.Authorize(id_token={"id_token": token, "type": "ISO14443"})
    result = await cp.call(request, suppress=False)
    return str(result.id_token_info["status"])
