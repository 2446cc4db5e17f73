"""The engine's own work must not stall its loop (issue 18).

No sockets, no timing: real station cores driven by the harness's scripted CSMS, the
engine's per-second interval called as its interval loop calls it.
"""

from __future__ import annotations

import pytest

import fleetsim.transport.engine as engine_mod
from fleetsim.scenario.model import OcppVersion
from fleetsim.transport import Engine, EngineOptions
from tests.station.harness import Exchange, make, session


def _engine(n: int) -> tuple[Engine, list[Exchange]]:
    sts = [make(OcppVersion.V16, (session(60, 600, kwh=5),)) for _ in range(n)]
    engine = Engine(sts, [f"ws://127.0.0.1:9/T{i:06d}" for i in range(n)], recorder=sts[0].rec,
                    options=EngineOptions())
    return engine, [Exchange(st) for st in sts]


def _touch_all(engine: Engine) -> None:
    """The harness drives the station cores without their runners: tell the gauges, as a
    runner does after its station's code ran."""
    for r in engine.runners:
        engine.touch(r)


async def test_the_heap_is_frozen_once_every_station_has_booted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The freeze after spawning came before the ramp's connections existed, so every
    full collection walked every station's connection and boot state (250–400 ms at
    10,000 stations). Once all have booted, the engine freezes them, once."""
    settled: list[int] = []
    monkeypatch.setattr(engine_mod, "settle_heap", lambda **_: settled.append(1))
    engine, exs = _engine(3)
    exs[0].open()
    exs[0].run_until(5)
    _touch_all(engine)
    engine.emit_interval(1.0, 0.0)
    assert settled == []  # two stations still booting: their state is not made yet
    for ex in exs[1:]:
        ex.open()
        ex.run_until(5)
    _touch_all(engine)
    engine.emit_interval(2.0, 0.0)
    engine.emit_interval(3.0, 0.0)
    assert settled == [1]


def test_a_run_raises_the_young_threshold_and_restores_it() -> None:
    """At the default threshold (700) the young collections ran ~3 a second at 2,000 busy
    stations, up to 65 ms each (issue 18): a run collects the young generation seldom and
    leaves the interpreter as it found it."""
    import gc

    from fleetsim.transport.heap import YOUNG_THRESHOLD, release_heap, settle_heap

    before = gc.get_threshold()
    try:
        settle_heap(collect=True)
        settle_heap(collect=True)  # a second set-up in the run does not lose the original
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    finally:
        release_heap()
    assert gc.get_threshold() == before
