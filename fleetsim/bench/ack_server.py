"""A minimal, fast OCPP-J acknowledging server for benchmarks (not a CSMS).

It answers every CALL with a canned, schema-valid CALLRESULT for its action and
version, so a benchmark measures the client, not a CSMS. Loopback only.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

__all__ = ["canned_result", "serve_ack"]

NOW = "2026-01-05T00:00:00.000Z"
_tx = itertools.count(1)
_ACCEPTED16 = {"idTagInfo": {"status": "Accepted"}}
_ACCEPTED2 = {"idTokenInfo": {"status": "Accepted"}}


def canned_result(subprotocol: str, action: str) -> dict[str, Any]:
    v16 = subprotocol == "ocpp1.6"
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": NOW, "interval": 300}
    if action == "Heartbeat":
        return {"currentTime": NOW}
    if action == "Authorize":
        return _ACCEPTED16 if v16 else _ACCEPTED2
    if action == "StartTransaction":
        return {"transactionId": next(_tx), "idTagInfo": {"status": "Accepted"}}
    if action == "StopTransaction":
        return _ACCEPTED16
    return {}


async def _handle(ws: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        await _answer(ws)


async def _answer(ws: ServerConnection) -> None:
    sub = ws.subprotocol or "ocpp1.6"
    cache: dict[str, bytes] = {}
    async for msg in ws:
        m = orjson.loads(msg)
        if m[0] != 2:
            continue
        action = m[2]
        body = cache.get(action)
        if body is None or action == "StartTransaction":
            body = orjson.dumps(canned_result(sub, action))
            if action != "StartTransaction":
                cache[action] = body
        await ws.send(b'[3,"' + m[1].encode() + b'",' + body + b"]", text=True)


async def serve_ack(host: str = "127.0.0.1", port: int = 0) -> Any:
    """Start the server; returns the websockets Server (``.sockets[0].getsockname()``)."""
    return await serve(_handle, host, port, compression=None, max_queue=None,
                       subprotocols=[Subprotocol(s) for s in ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")],
                       ping_interval=None)


def main() -> None:  # pragma: no cover - manual use
    import uvloop

    async def run() -> None:
        server = await serve_ack(port=9100)
        print("ack server on ws://127.0.0.1:9100", flush=True)
        await server.serve_forever()

    uvloop.run(run())


if __name__ == "__main__":
    main()
