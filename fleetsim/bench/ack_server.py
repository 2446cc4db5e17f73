"""A minimal, fast OCPP-J acknowledging server for benchmarks (not a CSMS).

It answers every CALL with a canned, schema-valid CALLRESULT for its action and
version, so a benchmark measures the client, not a CSMS. Loopback only.

``python -m fleetsim.bench.ack_server --processes N`` runs N processes on one port
(``SO_REUSEPORT``: the kernel spreads connections over them), so a sink holds more
connections than one process's descriptor limit allows (~20,000 here): 100,000
stations need at least 6. Every second it prints the connections held and the most
held at once; it stops on SIGINT/SIGTERM, and each process stops when its parent dies.
While a process holds connections its collector is kept off the answers' path as the
engine's is (:func:`hold_heap`), so the sink's own pauses do not reach the engine as bursts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

__all__ = ["canned_result", "hold_heap", "serve_ack"]

NOW = "2026-01-05T00:00:00.000Z"
SUBPROTOCOLS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
HEARTBEAT_S = 300  # BootNotification.interval; ``--heartbeat-interval`` changes it
_tx = itertools.count(1)
_ACCEPTED16 = {"idTagInfo": {"status": "Accepted"}}
_ACCEPTED2 = {"idTokenInfo": {"status": "Accepted"}}


def canned_result(subprotocol: str, action: str) -> dict[str, Any]:
    v16 = subprotocol == "ocpp1.6"
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": NOW, "interval": HEARTBEAT_S}
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


async def hold_heap(server: Any) -> None:
    """A sink process's garbage collector off the answers' path, as the engine's
    (:mod:`fleetsim.transport.heap`): while the server holds connections, the young
    threshold is raised and what each second made is frozen, so no collection walks
    the connections' objects. Without it, 2,000 busy stations met ~370 collections a
    minute, up to 35-56 ms each, and every one held the answers back until they
    reached the engine in a burst. While the server holds no connection, all is
    collected again: a closed connection's garbage waits only until its run is over."""
    from fleetsim.transport.heap import SAMPLE_WINDOW_S, SecondFreezer, release_heap, settle_heap

    seconds, n, frozen = SecondFreezer(), 0, False
    while True:
        await asyncio.sleep(1.0)
        n += 1
        if not server.connections:
            if frozen:
                release_heap()
                gc.collect()
                seconds, frozen = SecondFreezer(), False
        elif not frozen:
            settle_heap(collect=True)
            frozen = True
        elif seconds.second(n):
            await asyncio.sleep(SAMPLE_WINDOW_S)
            seconds.sample()


async def serve_ack(host: str = "127.0.0.1", port: int = 0) -> Any:
    """Start the server; returns the websockets Server (``.sockets[0].getsockname()``)."""
    return await serve(_handle, host, port, compression=None, max_queue=None,
                       subprotocols=[Subprotocol(s) for s in SUBPROTOCOLS],
                       ping_interval=None)


def _process(index: int, host: str, port: int, heartbeat_s: int, held: Any,
             ready: Any) -> None:  # pragma: no cover - run in a child process
    """One of the sink's processes: raise the descriptor limit, serve, count connections."""
    import resource
    import signal

    import uvloop

    from fleetsim.lifeline import die_with_parent

    global HEARTBEAT_S
    HEARTBEAT_S = heartbeat_s
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def handle(ws: ServerConnection) -> None:
        held[index] += 1
        try:
            await _handle(ws)
        finally:
            held[index] -= 1

    async def run() -> None:
        async with serve(handle, host, port, compression=None, max_queue=None,
                         subprotocols=[Subprotocol(s) for s in SUBPROTOCOLS],
                         ping_interval=None, reuse_port=True, backlog=4096) as server:
            ready.release()
            heap = asyncio.get_running_loop().create_task(hold_heap(server))
            await server.serve_forever()
            heap.cancel()

    uvloop.run(run())



def main(argv: list[str] | None = None) -> None:  # pragma: no cover - manual use
    import argparse
    import multiprocessing as mp
    import signal
    import sys
    import time

    ap = argparse.ArgumentParser(prog="python -m fleetsim.bench.ack_server",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=9100)
    ap.add_argument("--processes", type=int, default=1, help="processes sharing the port")
    ap.add_argument("--heartbeat-interval", type=int, default=HEARTBEAT_S,
                    help="BootNotification.interval answered [s] (default 300)")
    ap.add_argument("--quiet", action="store_true", help="no per-second line")
    a = ap.parse_args(argv)
    if not a.host.startswith("127."):
        sys.exit("ack_server: --host must be a loopback address (127.x.x.x)")
    if a.processes < 1:
        sys.exit("ack_server: --processes must be at least 1")
    ctx = mp.get_context("spawn")
    held = ctx.Array("l", a.processes, lock=False)
    ready = ctx.Semaphore(0)
    procs = [ctx.Process(target=_process, daemon=True,
                         args=(i, a.host, a.port, a.heartbeat_interval, held, ready))
             for i in range(a.processes)]
    stop = False

    def on_signal(_sig: int, _frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for p in procs:
        p.start()
    for _ in procs:
        if not ready.acquire(timeout=60):
            sys.exit("ack_server: a process did not start within 60 s (port in use?)")
    print(f"ack server on ws://{a.host}:{a.port} ({a.processes} processes)", flush=True)
    peak = 0
    try:
        while not stop and all(p.is_alive() for p in procs):
            time.sleep(1.0)
            now = sum(held)
            peak = max(peak, now)
            if not a.quiet:
                print(f"held {now} peak {peak}", flush=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
    print(f"ack server stopped; peak {peak} connections", flush=True)


if __name__ == "__main__":
    main()
