"""The engine's per-second gauges, kept up to date from the stations that ran.

A station's figures (booted, plugged, charging, power, offline queue, state) change
only when its code runs: a timer, a frame, a connect, a loss. The runner then
:meth:`touches <FleetGauges.touched>` it, and :meth:`FleetGauges.count` counts only the
touched stations again, replacing their previous share of the totals. Walking the
whole fleet every second was 82 % of an idle engine's CPU at 15,000 stations (py-spy),
in one uninterrupted callback on its loop (issues 13 and 18).

Counting the touched stations costs about 3 µs each, and in a busy fleet every station
runs every second: at 2,000 stations one count held the loop 6 ms each second, the
largest share of its lag p99 (issue 18). :meth:`FleetGauges.count_spread` counts them
:data:`COUNT_SLICE` at a time and lets the loop run in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetsim.transport.runner import StationRunner

__all__ = ["COUNT_SLICE", "NO_SHARE", "STATES", "CpuRate", "FleetGauges", "share"]

COUNT_SLICE = 256  # stations counted per turn of the loop: about 0.8 ms

STATES = ("connecting", "booted", "charging", "offline", "failed")  # = fleetsim.live.STATES
# a station's share: booted, sessions arrived, plugged, charging, power [mW, an int: the
# sums stay exact], offline queue, then a 1 for one of the five states
_BOOTED, _ARRIVED, _PLUGGED, _CHARGING, _POWER_MW, _Q, _STATE0 = range(7)
NO_SHARE = (0,) * (_STATE0 + len(STATES))


def share(r: StationRunner) -> tuple[int, ...]:
    """``r``'s station's share of the gauges now."""
    st = r.station
    plugged = charging = power = 0
    for c in st.connectors:
        if c.session is not None:
            plugged += 1
            if c.charging and not c.full:
                charging += 1
                power += round(c.power_w * 1000)
    # connecting, booted, charging, offline (booted before, now not), failed (never
    # booted, last connect attempt failed)
    state = ((2 if charging else 1) if st.booted else 3 if st.boots else
             4 if r.conn is None and r.attempts > 1 else 0)
    out = [int(st.booted), st.sessions_arrived, plugged, charging, power, st.offline_pending,
           0, 0, 0, 0, 0]
    out[_STATE0 + state] = 1
    return tuple(out)


class FleetGauges:
    """The fleet's totals, the stations touched since the last count, the stations with
    an offline queue, and those holding finished sessions (for the session drain)."""

    __slots__ = ("_offline", "_pending", "_totals", "finished", "touched")

    def __init__(self, runners: Iterable[StationRunner]) -> None:
        self._totals = [0] * len(NO_SHARE)
        self.touched: set[StationRunner] = set(runners)
        self._pending: set[StationRunner] = set()  # taken by count_spread, not counted yet
        self._offline: dict[StationRunner, int] = {}
        self.finished: set[StationRunner] = set()

    def count(self) -> None:
        """Count the touched stations again, all of them now."""
        for todo in (self._pending, self.touched):
            while todo:
                self._count(todo.pop())

    async def count_spread(self, per_slice: int | None = None) -> None:
        """Count the stations touched so far again, ``per_slice`` at a time, the loop
        free in between; a station touched meanwhile waits for the next count. A
        :meth:`count` or :meth:`forget` meanwhile is safe: both take from the same set."""
        per = per_slice or COUNT_SLICE
        self._pending |= self.touched
        self.touched = set()
        todo = self._pending
        while todo:
            for _ in range(min(per, len(todo))):
                self._count(todo.pop())
            if todo:
                await asyncio.sleep(0)

    def _count(self, r: StationRunner) -> None:
        g = self._totals
        new = share(r)
        old, r.gauge_share = r.gauge_share, new
        if new != old:
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                g[i] += b - a
        if new[_Q]:
            self._offline[r] = new[_Q]
        else:
            self._offline.pop(r, None)
        if r.station.finished_sessions:
            self.finished.add(r)

    def forget(self, runners: Iterable[StationRunner]) -> None:
        """These stations leave the engine: their share leaves the totals."""
        g = self._totals
        for r in runners:
            for i, a in enumerate(r.gauge_share):
                g[i] -= a
            r.gauge_share = NO_SHARE
            self.touched.discard(r)
            self._pending.discard(r)
            self._offline.pop(r, None)
            self.finished.discard(r)

    def figures(self) -> dict[str, float]:
        g, q = self._totals, self._offline.values()
        return {"booted": g[_BOOTED], "plugged": g[_PLUGGED], "charging": g[_CHARGING],
                "power_kw": round(g[_POWER_MW] / 1e6, 3), "offline_queued": sum(q),
                "offline_queue_max": max(q, default=0), "sessions_arrived": g[_ARRIVED],
                **{f"stations_{k}": g[_STATE0 + i] for i, k in enumerate(STATES)}}


class CpuRate:
    """This process's CPU (user + system, all threads) since the last :meth:`read`, in
    percent of one core. ``time.process_time`` counts nanoseconds; psutil's /proc figures
    count 10 ms ticks, so the short intervals a loop catches up with after a stall (a
    millisecond apart) read 0 % or 1,500 % (a 10,000-station stop: invalid results,
    "overload: CPU 1555.8 %")."""

    __slots__ = ("_cpu", "_wall")

    def __init__(self) -> None:
        self._cpu, self._wall = time.process_time(), time.monotonic()

    def read(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        pct = (cpu - self._cpu) / (wall - self._wall) * 100 if wall > self._wall else 0.0
        self._cpu, self._wall = cpu, wall
        return pct
