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


def _tick(t: float) -> None:
    pass


def test_a_named_arming_allocates_one_tracked_object() -> None:
    """Each tracked object a timer allocates and keeps alive sits in the collector's young
    generation until the next collection: at 2,000 busy stations the young collections
    took up to 44 ms while a named arming made three (issue 18). Now its heap entry only."""
    import gc

    tm = Timers()
    tm.at(1.0, _tick, name="warm")  # the dict's first key, the heap's first slot
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for i in range(1000):
            tm.at(2.0 + i, _tick, name=f"n{i % 4}")  # re-armed: stale entries, compactions
        grown = len(gc.get_objects()) - before
    finally:
        gc.enable()
    assert len(tm._timers) <= 4 + 9 and grown <= 1.1 * len(tm._timers)


def test_pending_says_whether_a_named_timer_is_armed() -> None:
    tm = Timers()
    assert not tm.pending("a")
    tm.at(1.0, tm.note, "a", name="a")
    assert tm.pending("a")
    tm.run_due(1.0)
    assert not tm.pending("a") and tm.ran == [(1.0, "a")]
    tm.at(2.0, tm.note, "a", name="a")
    tm.cancel_timer("a")
    assert not tm.pending("a")
