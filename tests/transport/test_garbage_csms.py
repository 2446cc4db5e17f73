"""A CSMS that misbehaves on purpose: every kind is counted, nothing hangs, the run completes.

Complements test_engine.py (closed sockets, malformed JSON, unexpected results,
unknown calls, silence) with oversized frames, duplicate and wrong message ids,
and unknown message types.
"""

from __future__ import annotations

import orjson
from websockets.asyncio.server import ServerConnection

from fleetsim.bench.ack_server import canned_result
from tests.transport.test_engine import accounted, misbehaving, run_fleet


def _result(msg: list[object], sub: str) -> str:
    return orjson.dumps([3, msg[1], canned_result(sub, str(msg[2]))]).decode()


async def test_oversized_frame_drops_the_connection_and_is_counted() -> None:
    sent_big = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal sent_big
        async for raw in ws:
            msg = orjson.loads(raw)
            await ws.send(_result(msg, ws.subprotocol or ""))
            if msg[2] == "BootNotification" and sent_big < 3:
                sent_big += 1
                await ws.send("[2,\"big\",\"DataTransfer\",{\"data\":\"" + "x" * (2 << 20) + "\"}]")

    server = await misbehaving(handler)
    port = server.sockets[0].getsockname()[1]
    try:
        report, rec, _ = await run_fleet(f"ws://127.0.0.1:{port}", 3, 2.0)
    finally:
        server.close()
    assert rec.faults["connection_lost"] >= 3  # the 2 MiB frame exceeds the 1 MiB limit
    assert report.booted == 3  # and everyone came back
    accounted(rec)


async def test_duplicate_and_wrong_ids_and_unknown_types_are_counted() -> None:
    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = orjson.loads(raw)
            reply = _result(msg, ws.subprotocol or "")
            await ws.send(reply)
            if msg[2] == "BootNotification":
                await ws.send(reply)                              # duplicate CALLRESULT
                await ws.send('[3,"no-such-id",{}]')              # wrong id
                await ws.send('[7,"x",{}]')                       # unknown message type
                await ws.send('[4,"other","InternalError","",{}]')  # CALLERROR for nothing

    server = await misbehaving(handler)
    port = server.sockets[0].getsockname()[1]
    try:
        report, rec, _ = await run_fleet(f"ws://127.0.0.1:{port}", 5, 1.5)
    finally:
        server.close()
    assert report.booted == 5
    assert rec.faults["unexpected_result"] >= 10          # the duplicate and the wrong id
    assert rec.faults["received_unknown_message_type"] == 5
    assert rec.faults["unexpected_callerror"] == 5
    accounted(rec)
