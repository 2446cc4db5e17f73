"""Stations connect in order, spread over time, never in one burst.

The initial fleet connects at the connect rate; each batch Locust hands over (one per
dispatch step, a second apart) connects spread over that second. Connected at once,
300 stations a second reached the CSMS in the same millisecond every second (at
100,000 stations its connect p50 read 47 ms, spread 1.5 ms) and each engine's loop
stalled 20-70 ms on the burst (issue 13).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetsim.transport.engine import Engine
    from fleetsim.transport.runner import StationRunner

__all__ = ["ConnectPacer"]


class ConnectPacer:
    """One engine's stations waiting for their turn to connect."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: deque[StationRunner] = deque()
        self._gap_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def queue(self, runners: Sequence[StationRunner], spread_s: float) -> None:
        """Connect ``runners`` after those waiting, everything still waiting spread evenly
        over the next ``spread_s`` seconds (0: now)."""
        if not runners:
            return
        q = self._queue
        q.extend(runners)
        self._gap_s = spread_s / len(q)
        if self._task is None or self._task.done():
            eng = self.engine
            self._task = eng.loop.create_task(self._pace())
            eng._tasks.add(self._task)  # the shutdown cancels it with the connects
            self._task.add_done_callback(eng._tasks.discard)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _pace(self) -> None:
        eng, q = self.engine, self._queue
        due = eng.loop.time()
        while q and not eng.stopping:
            runner = q.popleft()
            if not runner.closing:  # a station stopped before its turn never connects
                runner.reschedule()  # session timers run whether or not the socket is up
                eng.spawn_connect(runner)
            due += self._gap_s
            delay = due - eng.loop.time()
            if q and delay > 0.001:
                await asyncio.sleep(delay)
        if not eng.stopping:
            eng.settle()  # the new stations and their connections leave the GC's walks
