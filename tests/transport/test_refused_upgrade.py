"""A CSMS that refuses the WebSocket upgrade the way real ones do.

One answers ``HTTP/1.1 403 Access denied`` with no Content-Length and closes: the
answer ends only at EOF, so websockets yields it after ``receive_eof()``. It must
be reported as ``http_403 Access denied``, never as ``handshake_failed``.
"""

from __future__ import annotations

import asyncio

import pytest

from fleetsim.exceptions import CsmsUnreachable
from tests.transport.test_engine import run_fleet


async def _refusing_server(answer: bytes) -> tuple[asyncio.Server, list[bytes]]:
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        writer.close()  # no Content-Length: the close is the end of the body

    return await asyncio.start_server(handle, "127.0.0.1", 0), requests


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 403 Access denied\r\n\r\n",
    b"HTTP/1.1 403 Access denied\r\nContent-Type: text/plain\r\n\r\nno such station",
])
async def test_403_without_content_length_is_reported_as_http_403(answer: bytes) -> None:
    server, requests = await _refusing_server(answer)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(CsmsUnreachable) as err:
            await run_fleet(f"ws://127.0.0.1:{port}", 3, 5.0, unreachable_after=3)
    finally:
        server.close()
    assert requests, "the server never saw an upgrade request"
    assert "HTTP 403 Access denied" in str(err.value)
    assert "handshake failed" not in str(err.value)
