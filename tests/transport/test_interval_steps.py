"""An engine's per-second work runs in slices, the loop free between them (issue 18).

Counting the touched stations, handing finished sessions over and building a live
snapshot each cost milliseconds at a few thousand busy stations; done in one
callback they were the largest share of the loop's lag p99. These tests hold each
one spread over turns of the loop, with the same result as doing it at once. No
sockets: real station cores and engines that are not running.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fleetsim.live.figures import EngineFeed, engine_snapshot
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario.model import OcppVersion
from fleetsim.transport import Engine, EngineOptions
from tests.station.harness import Exchange, make, session
from tests.transport.test_gauges import KEYS, walked


class Turns:
    """Counts turns of the loop (a callback that re-arms itself with ``call_soon``) and
    calls ``each(turn)`` at every one until stopped."""

    def __init__(self, each: Any = None) -> None:
        self.n, self.each, self.on = 0, each, True
        asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        if not self.on:
            return
        self.n += 1
        if self.each is not None:
            self.each(self.n)
        asyncio.get_running_loop().call_soon(self._turn)


def stations(n: int, *sessions: Any) -> list[Any]:
    return [make(OcppVersion.V16, tuple(sessions)) for _ in range(n)]


async def test_a_count_over_slices_lets_the_loop_run_and_equals_one_count() -> None:
    sts = stations(30, session(60, 600, kwh=5))
    for st in sts:  # booted, a car plugged in and charging: shares worth counting
        ex = Exchange(st)
        ex.open()
        ex.run_until(120)
    engine = Engine(sts, [f"ws://127.0.0.1:9/{st.station_id}" for st in sts],
                    recorder=Recorder(), options=EngineOptions())
    left: list[int] = []
    turns = Turns(lambda _: left.append(len(engine._gauges._pending)))
    await engine._gauges.count_spread(per_slice=4)
    turns.on = False
    # 30 stations, 4 a turn: the loop ran between the slices, seeing the count part done
    assert [x for x in left if x] == [26, 22, 18, 14, 10, 6, 2]
    g = {k: v for k, v in engine.gauges().items() if k in KEYS}
    assert g == walked(engine) and g["charging"] == 30 and g["booted"] == 30


async def test_stations_that_leave_during_a_spread_count_take_their_share_with_them() -> None:
    sts = stations(20, session(60, 600, kwh=5))
    for st in sts:
        ex = Exchange(st)
        ex.open()
        ex.run_until(120)
    engine = Engine(sts, [f"ws://127.0.0.1:9/{st.station_id}" for st in sts],
                    recorder=Recorder(), options=EngineOptions())
    gone = engine.runners[10:]  # some counted, most not yet, when they leave

    def leave(turn: int) -> None:
        if turn == 1:
            engine._gauges.forget(gone)
            engine.runners = engine.runners[:10]

    turns = Turns(leave)
    await engine._gauges.count_spread(per_slice=3)
    turns.on = False
    g = {k: v for k, v in engine.gauges().items() if k in KEYS}
    assert g == walked(engine) and g["booted"] == 10


async def test_finished_sessions_are_handed_over_a_slice_a_turn_each_once() -> None:
    sts = stations(9, session(60, 300, kwh=2))
    for st in sts:  # a car came and went: one finished session each, answered
        ex = Exchange(st)
        ex.open()
        ex.run_until(900)
        assert len(st.finished_sessions) == 1
    batches: list[tuple[int, int]] = []  # (turns of the loop so far, rows)
    engine = Engine(sts, [f"ws://127.0.0.1:9/{st.station_id}" for st in sts],
                    recorder=Recorder(), options=EngineOptions(),
                    on_sessions=lambda rows: batches.append((turns.n, len(rows))))
    turns = Turns()
    engine._gauges.count()
    await engine.drain_spread(per_slice=4)
    await engine.drain_spread(per_slice=4)  # nothing is handed over twice
    turns.on = False
    assert [n for _, n in batches] == [4, 4, 1]
    assert len({t for t, _ in batches}) == 3  # each slice in a turn of its own
    assert all(not st.finished_sessions for st in sts)


def _recorder() -> Recorder:
    rec = Recorder()
    for i, action in enumerate(("1.6/Heartbeat", "1.6/MeterValues", "1.6/Authorize")):
        for k in range(50):
            rec.call_sent(action, own_s=0.0, offline_s=0.0, engine_s=0.0)
            rec.call_done(action, 0.001 * (k + i), 0.0005 * (k + 1))
    return rec


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {**a, "t_unix": 0} == {**b, "t_unix": 0}


async def test_a_live_snapshot_is_built_an_action_a_turn_and_equals_one_built_at_once() -> None:
    rec, out = _recorder(), []
    feed = EngineFeed("e", out.append)
    turns = Turns()
    feed.interval({"cpu_percent": 50.0}, rec)
    assert out == []  # not in the interval's own callback
    assert feed._task is not None
    await asyncio.wait_for(feed._task, 5)
    turns.on = False
    assert turns.n >= 3  # one turn of the loop per action at least
    assert len(out) == 1 and _same(out[0], engine_snapshot(
        {"cpu_percent": 50.0}, rec, tag="e", sessions_finished=0))


async def test_a_snapshot_begun_before_the_final_one_is_never_published_after_it() -> None:
    rec, out = _recorder(), []
    feed = EngineFeed("e", out.append)
    feed.interval({"cpu_percent": 50.0}, rec)  # begun, not finished
    feed.interval({"cpu_percent": 0.0}, rec, final=True)  # the run ended: published now
    assert feed._task is not None
    await asyncio.wait_for(feed._task, 5)
    assert [s["final"] for s in out] == [True]


async def test_an_interval_cut_before_the_stop_reaches_the_sinks_before_the_final_one() -> None:
    """The sinks (encode, write: ~2.4 ms a second in fleetsim run) run a turn after the
    cut (issue 18). The stop may cancel the interval loop in between: the cut one must
    still go out, once, ahead of the final interval."""
    sts = stations(3)
    seen: list[float] = []
    engine = Engine(sts, [f"ws://127.0.0.1:9/T{i:06d}" for i in range(3)], recorder=sts[0].rec,
                    options=EngineOptions(), on_interval=lambda st: seen.append(st.t_s))
    engine.cut_interval(1.0, 0.0)
    assert seen == []  # not yet: a turn of its own
    engine.publish_interval()
    engine.publish_interval()  # nothing new cut: nothing sent again
    engine.cut_interval(2.0, 0.0)  # ... and the loop is cancelled here
    engine.emit_interval(2.4, 0.0)  # the shutdown's final interval
    assert seen == [1.0, 2.0, 2.4]
