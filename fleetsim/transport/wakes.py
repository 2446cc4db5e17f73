"""Every station's next wake-up in one heap under one loop timer.

A loop timer per station (``loop.call_at``) allocated a handle, a libuv timer, a
context copy and a bound method at every reschedule: a quarter of what the collector's
young generation walked at 2,000 busy stations (issue 18). Here a reschedule pushes one
tuple, and the engine's loop holds one timer, armed for the earliest wake-up.

A runner's entry is current while its ``_wake_at`` equals the entry's time; a wake-up
moved earlier or cancelled leaves its old entry stale, skipped when it comes up and
dropped once stale entries outnumber the current ones (as the station timers do).

Wake-ups that come due together run :data:`WAKE_SLICE` at a time, one slice per turn
of the loop: the stations' sends are no later for it, and the CSMS's answers that
arrived meanwhile are read between slices, not after the whole burst (a burst of
100-200 wake-ups held the loop 4-8 ms at 2,000 busy stations, issue 18).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetsim.transport.runner import StationRunner

__all__ = ["WAKE_SLICE", "WakeHeap"]

_INF = float("inf")
WAKE_SLICE = 64  # wake-ups per turn of the loop


class WakeHeap:
    """``arm(runner, w)``: call ``runner._wake()`` at loop time ``w``."""

    __slots__ = ("_armed_at", "_entries", "_handle", "_loop", "_seq", "_stale")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._entries: list[tuple[float, int, StationRunner]] = []
        self._seq = itertools.count()
        self._handle: asyncio.Handle | None = None
        self._armed_at = _INF
        self._stale = 0

    def __len__(self) -> int:
        return len(self._entries)

    def arm(self, runner: StationRunner, w: float, *, replacing: bool) -> None:
        """``runner._wake_at`` is already ``w``; ``replacing``: it had a later entry."""
        if replacing:
            self._stale += 1
        heapq.heappush(self._entries, (w, next(self._seq), runner))
        if self._stale > 64 and 2 * self._stale > len(self._entries):
            self._entries = [e for e in self._entries if e[2]._wake_at == e[0]]
            heapq.heapify(self._entries)
            self._stale = 0
        if w < self._armed_at:
            self._arm_loop(w)

    def dropped(self) -> None:
        """A runner's pending entry was cancelled: it is stale now."""
        self._stale += 1

    def _arm_loop(self, w: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = w
        self._handle = self._loop.call_at(w, self._fire)

    def _fire(self) -> None:
        # uvloop's clock has 1 ms resolution and may fire a hair early: run what was due
        limit = max(self._loop.time(), self._armed_at)
        self._handle, self._armed_at = None, _INF
        last = next(self._seq)  # entries pushed while waking run at the next pass
        entries = self._entries
        left = WAKE_SLICE
        while entries and entries[0][0] <= limit and entries[0][1] < last:
            if not left:  # the rest of the burst after the loop's I/O and timers
                self._armed_at = limit
                self._handle = self._loop.call_soon(self._fire)
                return
            w, _, runner = heapq.heappop(entries)
            if runner._wake_at != w:  # moved earlier or cancelled
                self._stale = max(0, self._stale - 1)
                continue
            left -= 1
            try:
                runner._wake()
            except Exception as exc:  # one station's bug must not stop every other's timers
                self._loop.call_exception_handler(
                    {"message": f"station {runner.station.station_id} failed in its timer",
                     "exception": exc})
        if entries and entries[0][0] < self._armed_at:
            self._arm_loop(entries[0][0])
