"""permessage-deflate (``csms.compression: deflate``): bytes on the wire, refusal, breakage.

A CSMS may refuse the extension (RFC 7692 lets it: the run goes on uncompressed,
counted as ``compression_refused``) or answer with parameters the client cannot
accept (a named connect failure, ``connect_compression_negotiation_failed``).
"""

from __future__ import annotations

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from fleetsim.bench.ack_server import serve_ack
from fleetsim.exceptions import CsmsUnreachable
from fleetsim.metrics.wire import action_of
from tests.transport.test_engine import run_fleet, serve


def test_action_of_reads_the_frame_kind_or_action() -> None:
    assert action_of(b'[2,"17","Heartbeat",{}]') == "Heartbeat"
    assert action_of(b'[6,"S1","NotifyPeriodicEventStream",{"id":1}]') == (
        "NotifyPeriodicEventStream")
    assert action_of(b'[3,"17",{}]') == "CALLRESULT"
    assert action_of(b'[5,"17","FormatViolation","",{}]') == "CALLRESULTERROR"


async def test_a_csms_that_refuses_deflate_is_counted_and_the_run_goes_on() -> None:
    server = await serve_ack()  # the benchmark server: compression=None
    port = server.sockets[0].getsockname()[1]
    try:
        report, rec, _ = await run_fleet(f"ws://127.0.0.1:{port}", 6, 1.5, compression=True)
    finally:
        server.close()
    assert report.booted == 6
    assert rec.faults["compression_refused"] == 6
    w = rec.wire
    assert w.tx_payload > 0 and w.tx_wire > w.tx_payload  # uncompressed: framing + mask
    sent = w.bytes_summary()["sent_by_action"]
    assert sent["BootNotification"]["frames"] == 6 and sent["BootNotification"]["saved"] < 0


async def test_a_broken_negotiation_is_a_named_connect_failure() -> None:
    async def handler(ws: ServerConnection) -> None:
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass  # the client drops the link it cannot use

    def bad_extension(conn: ServerConnection, request: Request, response: Response) -> Response:
        headers = Headers(response.headers)
        headers["Sec-WebSocket-Extensions"] = "permessage-deflate; server_max_window_bits=99"
        return Response(response.status_code, response.reason_phrase, headers, response.body)

    server = await serve(handler, "127.0.0.1", 0, compression=None,  # type: ignore[arg-type]
                         subprotocols=["ocpp1.6", "ocpp2.0.1", "ocpp2.1"],
                         process_response=bad_extension)
    port = server.sockets[0].getsockname()[1]
    try:  # nothing ever connects: the run stops with a one-line error naming the cause
        with pytest.raises(CsmsUnreachable, match="compression negotiation failed: "
                                                  "Unsupported extension"):
            await run_fleet(f"ws://127.0.0.1:{port}", 3, 1.0, compression=True)
    finally:
        server.close()
