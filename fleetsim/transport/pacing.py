"""Stations connect in order, spread over time, never in one burst, and stop so too.

The initial fleet connects at the connect rate; each batch Locust hands over (one per
dispatch step, a second apart) connects spread over that second. Connected at once,
300 stations a second reached the CSMS in the same millisecond every second (at
100,000 stations its connect p50 read 47 ms, spread 1.5 ms) and each engine's loop
stalled 20-70 ms on the burst (issue 13). The end is the ramp run backwards
(:class:`StopPacer`).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Sequence
from time import monotonic
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetsim.transport.engine import Engine
    from fleetsim.transport.runner import StationRunner

__all__ = ["STOP_SLICE", "ConnectPacer", "StopPacer"]

STOP_SLICE = 64  # stations stopped (and closed) per turn of the loop


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


class StopPacer:
    """One engine's stops: every spread of it on one schedule."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._next = 0.0  # monotonic time of the next stop's turn, whichever spread asks

    async def spread(self, runners: Sequence[StationRunner], spread_s: float | None = None, *,
                     by: float = math.inf) -> None:
        """Stop these stations' open transactions, station k of N at ``k/N`` of
        ``spread_s`` (default ``stop_spread_s``) from now (the stop burst when 0), each
        sent at once; a station with nothing left to send closes then too (16,000 closes
        in one pass stalled an engine's loop 1.8 s), the others once answered
        (:meth:`StationRunner.leave_if_done`).

        Never faster than ``stop_rate_per_s`` (default ``connect_rate_per_s``; under
        Locust, the engine's share of the scenario's), counted over every spread of this
        engine together (``StationsConfig.end_spread_s``): the ramp run backwards.
        Stopping and closing a station costs its engine ~0.3 ms, about half what
        connecting and booting it did, and 10,000 of them in 2 s held an engine at 97-100 %
        of a core with the loop 20-80 ms late for 3-4 s (issue 18). ``by`` (monotonic) cuts
        the pace: what is left then stops at once. Behind its schedule (or in the burst)
        it still lets the loop turn every :data:`STOP_SLICE` stations: 10,000 closes due
        at once ran in one pass, a 1.1 s stall at a Locust run's end (issue 18)."""
        eng = self.engine
        opt = eng.opt
        t0, n = monotonic(), len(runners)
        spread = (opt.stop_spread_s if spread_s is None else spread_s) if n > 1 else 0.0
        rate = opt.stop_rate_per_s or opt.connect_rate_per_s
        gap = 1.0 / rate if spread > 0 and rate > 0 else 0.0
        ran = 0  # stations stopped since the loop last turned
        for k, r in enumerate(list(runners)):
            due = min(max(t0 + spread * k / n, self._next), by)
            self._next = due + gap
            wait = due - monotonic()
            if wait > 0.002:
                await asyncio.sleep(wait)
                ran = 0
            elif ran >= STOP_SLICE:
                await asyncio.sleep(0)
                ran = 0
            ran += 1
            if eng.stopping:
                return
            r.station.stop(monotonic())
            if r.conn is not None and r.conn.opened:
                r.conn.flush()
                r.leave_if_done()
            r.reschedule()
