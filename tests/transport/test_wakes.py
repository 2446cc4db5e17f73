"""The engine's one heap of station wake-ups, on a real loop (no sockets)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from fleetsim.transport.wakes import WAKE_SLICE, WakeHeap

INF = float("inf")


class Runner:
    """What the heap needs of a StationRunner: ``_wake_at`` and ``_wake``."""

    def __init__(self, name: str, woke: list[str], heap: WakeHeap, fail: bool = False) -> None:
        self.name, self.woke, self.heap, self.fail = name, woke, heap, fail
        self._wake_at = INF
        self.station: Any = type("S", (), {"station_id": name})()

    def at(self, w: float) -> None:  # as StationRunner.reschedule
        if w < self._wake_at:
            replacing = self._wake_at != INF
            self._wake_at = w
            self.heap.arm(self, w, replacing=replacing)

    def cancel(self) -> None:
        if self._wake_at != INF:
            self.heap.dropped()
            self._wake_at = INF

    def _wake(self) -> None:
        self._wake_at = INF
        self.woke.append(self.name)
        if self.fail:
            raise RuntimeError("a station's bug")


async def test_wakes_run_in_time_order_and_moved_or_cancelled_ones_do_not() -> None:
    loop = asyncio.get_running_loop()
    heap, woke = WakeHeap(loop), []
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    t0 = loop.time()
    a, b, c, d = (Runner(n, woke, heap) for n in "abcd")
    bad = Runner("bad", woke, heap, fail=True)
    a.at(t0 + 0.06)
    b.at(t0 + 0.20)
    b.at(t0 + 0.03)  # moved earlier: its 0.20 entry is stale
    c.at(t0 + 0.04)
    c.cancel()       # never runs
    bad.at(t0 + 0.05)
    d.at(t0 + 0.08)
    done = loop.create_future()
    loop.call_at(t0 + 0.3, done.set_result, None)
    await asyncio.wait_for(done, 5)
    assert woke == ["b", "bad", "a", "d"]  # the failing station did not stop the others
    assert len(errors) == 1 and "bad" in errors[0]["message"]
    assert len(heap) == 0


async def test_stale_entries_are_dropped_once_they_outnumber_the_current() -> None:
    loop = asyncio.get_running_loop()
    heap, woke = WakeHeap(loop), []
    t0 = loop.time() + 3600  # none comes due during the test
    runners = [Runner(str(i), woke, heap) for i in range(10)]
    for k in range(1000):  # each runner's wake-up moves earlier again and again
        for r in runners:
            r.at(t0 - k)
    assert len(heap) <= 2 * (len(runners) + 65)
    assert sorted(e[0] for e in heap._entries)[:10] == [t0 - 999] * 10


async def test_a_burst_of_wakes_runs_in_slices_with_the_loop_free_between() -> None:
    """200 stations due at once held the loop for the whole burst (issue 18): they run
    WAKE_SLICE per turn, in time order, each once, the loop's other callbacks between."""
    loop = asyncio.get_running_loop()
    heap, woke = WakeHeap(loop), []
    turns: list[int] = []  # how many had woken at each turn of the loop
    done = loop.create_future()
    t0 = loop.time() + 0.05
    runners = [Runner(f"{i:03d}", woke, heap) for i in range(200)]
    for i, r in enumerate(runners):
        r.at(t0 + i * 1e-6)  # all due by the time the first fires

    def turn() -> None:
        turns.append(len(woke))
        if len(woke) < len(runners):
            loop.call_soon(turn)
        else:
            done.set_result(None)

    loop.call_at(t0, turn)
    await asyncio.wait_for(done, 5)
    assert woke == sorted(woke) and len(set(woke)) == 200  # in order, each once
    seen = [0, *sorted({n for n in turns if 0 < n < 200}), 200]
    assert len(seen) > 2 and all(b - a <= WAKE_SLICE for a, b in itertools.pairwise(seen))
