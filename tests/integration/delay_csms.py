"""A CSMS of known latency: it answers every CALL exactly ``delay_s`` after it arrived.

It can also stall: every answer that falls due within ``[stall_at_s, stall_at_s +
stall_s)`` after the first CALL waits until the stall ends, the way a CSMS stuck on a
lock answers nothing and then everything at once. It counts the CALLs it received per
``(version, action)`` so a test can hold fleetsim's counts against the CSMS's own.
Runs in a process of its own (not a thread: sharing the GIL with the stations would add
the interpreter's 5 ms switch interval to its answers), so a blocking ``run_scenario``
can drive stations at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections import Counter
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from fleetsim.bench.ack_server import canned_result

VERSIONS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1", "ocpp2.1": "2.1"}


class DelayCsms:
    """``with DelayCsms(0.05) as csms: ... csms.url ...``; ``csms.counts`` after the block."""

    def __init__(self, delay_s: float, *, stall_at_s: float | None = None, stall_s: float = 0.0,
                 boot_interval_s: int = 60) -> None:
        self.delay_s, self.stall_at_s, self.stall_s = delay_s, stall_at_s, stall_s
        self.boot_interval_s = boot_interval_s
        self.counts: Counter[tuple[str, str]] = Counter()
        self.longest_hold_s = 0.0  # the longest any answer was held (receipt → sent), read back
        self.port = 0
        self._first = 0.0
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(self, child), daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> DelayCsms:
        self._proc.start()
        if not self._pipe.poll(20):
            self._proc.kill()
            raise RuntimeError("the delay CSMS did not start")
        self.port = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._pipe.send("stop")
        if self._pipe.poll(10):
            told = self._pipe.recv()
            self.counts = Counter({tuple(k.split("/", 1)): n  # type: ignore[misc]
                                   for k, n in told["counts"].items()})
            self.longest_hold_s = told["longest_hold_s"]
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()

    async def _main(self, pipe: Any) -> None:
        subs = [Subprotocol(s) for s in VERSIONS]
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_reader(pipe.fileno(), stop.set)
        async with serve(self._handler, "127.0.0.1", 0, subprotocols=subs) as server:
            pipe.send(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
            await stop.wait()
        pipe.recv()
        pipe.send({"counts": {f"{v}/{a}": n for (v, a), n in self.counts.items()},
                   "longest_hold_s": self.longest_hold_s})

    def _answer_at(self, received: float) -> float:
        at = received + self.delay_s
        if self.stall_at_s is not None:
            start = self._first + self.stall_at_s
            if start <= at < start + self.stall_s:
                at = start + self.stall_s
        return at

    async def _handler(self, ws: ServerConnection) -> None:
        sub = ws.subprotocol or ""
        version = VERSIONS.get(sub, sub)
        tasks: set[asyncio.Task[Any]] = set()
        try:
            async for raw in ws:
                now = time.monotonic()
                msg = orjson.loads(raw)
                if msg[0] != 2:
                    continue
                if not self._first:
                    self._first = now
                self.counts[(version, msg[2])] += 1
                result = canned_result(sub, msg[2])
                if msg[2] == "BootNotification":
                    result = {**result, "interval": self.boot_interval_s}
                frame = orjson.dumps([3, msg[1], result]).decode()
                t = asyncio.create_task(self._send_at(ws, frame, now, self._answer_at(now)))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
        except ConnectionClosed:
            pass

    async def _send_at(self, ws: ServerConnection, frame: str, received: float,
                       at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame)
        self.longest_hold_s = max(self.longest_hold_s, time.monotonic() - received)


def _serve(csms: DelayCsms, pipe: Any) -> None:
    import uvloop

    uvloop.run(csms._main(pipe))


def main() -> None:
    """``python -m tests.integration.delay_csms --delay-ms 50 --port 9100``: serve until
    Ctrl-C, then print the CALLs received per version/action."""
    import argparse
    import signal

    ap = argparse.ArgumentParser(prog="python -m tests.integration.delay_csms")
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--port", type=int, default=9100)
    a = ap.parse_args()
    csms = DelayCsms(a.delay_ms / 1000)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        subs = [Subprotocol(s) for s in VERSIONS]
        async with serve(csms._handler, "127.0.0.1", a.port, subprotocols=subs):
            print(f"answering every CALL after {a.delay_ms:g} ms on ws://127.0.0.1:{a.port}",
                  flush=True)
            await stop.wait()
        for (v, action), n in sorted(csms.counts.items()):
            print(f"{v}/{action} {n}")

    import uvloop

    uvloop.run(run())


if __name__ == "__main__":
    main()
