"""A station's timer heap: named timers replace each other, and the heap stays bounded."""

from __future__ import annotations

from typing import Any

from fleetsim.station.timers import StationTimers


class Timers(StationTimers):
    __slots__ = ("ran",)

    def __init__(self) -> None:
        self._init_timers()
        self.ran: list[tuple[float, Any]] = []

    def note(self, t: float, what: Any) -> None:
        self.ran.append((t, what))


def test_a_named_timer_rearmed_far_ahead_keeps_the_heap_bounded() -> None:
    """The car's "full" time is re-armed at every meter sample, hours ahead: the heap used
    to keep every replaced entry until its time (issue 18)."""
    tm = Timers()
    tm.at(5.0, tm.note, "meter", name="meter")
    for i in range(10_000):
        tm.at(3600.0 + i, tm.note, f"full {i}", name="full")
        assert len(tm._timers) <= 2 * 2 + 9  # live timers: 2; stale at most 8 or the live
    tm.run_due(1e9)
    assert tm.ran == [(5.0, "meter"), (3600.0 + 9_999, "full 9999")]


def test_cancel_and_rearm_run_only_the_latest_arming() -> None:
    tm = Timers()
    tm.at(10.0, tm.note, "a1", name="a")
    tm.at(20.0, tm.note, "a2", name="a")
    tm.at(15.0, tm.note, "b", name="b")
    tm.cancel_timer("b")
    tm.at(12.0, tm.note, "plain")
    tm.run_due(16.0)
    assert tm.ran == [(12.0, "plain")]
    tm.at(30.0, tm.note, "b2", name="b")
    tm.run_due(100.0)
    assert tm.ran == [(12.0, "plain"), (20.0, "a2"), (30.0, "b2")]
    assert tm._timers == [] and tm._stale == 0


def test_a_periodic_named_timer_rearming_itself_leaves_nothing_stale() -> None:
    tm = Timers()

    def tick(t: float) -> None:
        tm.ran.append((t, "tick"))
        if t < 100:
            tm.at(t + 1.0, tick, name="tick")

    tm.at(1.0, tick, name="tick")
    tm.run_due(1000.0)
    assert len(tm.ran) == 100 and tm._stale == 0 and tm._timers == []
