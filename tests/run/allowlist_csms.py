"""A fake OCPP 1.6 CSMS that knows only the idTags in its allow-list, like a production
CSMS whose tags live in its database (issue 12.3). It runs on its own thread and loop,
answers everything else with the minimal valid result, and records every tag it was
shown and every one it refused."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

NOW = "2026-01-05T00:00:00.000Z"


class AllowListCsms:
    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed
        self.seen: set[str] = set()
        self.refused: set[str] = set()
        self.started = 0
        self._tx = itertools.count(1)
        self.port = 0

    def _status(self, tag: str) -> dict[str, str]:
        self.seen.add(tag)
        if tag in self.allowed:
            return {"status": "Accepted"}
        self.refused.add(tag)
        return {"status": "Invalid"}

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": NOW, "interval": 300}
        if action == "Heartbeat":
            return {"currentTime": NOW}
        if action == "Authorize":
            return {"idTagInfo": self._status(payload["idTag"])}
        if action == "StartTransaction":
            self.started += 1
            return {"transactionId": next(self._tx),
                    "idTagInfo": self._status(payload["idTag"])}
        if action == "StopTransaction" and "idTag" in payload:
            return {"idTagInfo": self._status(payload["idTag"])}
        return {}

    async def _handle(self, ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for msg in ws:
                m = orjson.loads(msg)
                if m[0] == 2:
                    body = self.answer(m[2], m[3])
                    await ws.send(orjson.dumps([3, m[1], body]).decode())

    @contextlib.contextmanager
    def running(self) -> Iterator[AllowListCsms]:
        ready = threading.Event()
        stop: list[asyncio.Future[None]] = []

        async def main() -> None:
            async with serve(self._handle, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as srv:
                self.port = srv.sockets[0].getsockname()[1]  # type: ignore[index]
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                stop.append(fut)
                ready.set()
                await fut

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        assert ready.wait(10), "the fake CSMS did not start"
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(stop[0].set_result, None)
            thread.join(10)
            loop.close()
