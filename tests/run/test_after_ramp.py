"""The generator's health while the fleet is held, judged apart from the ramp and the stop
(issue 13: "the generator is valid after the ramp"). Pure logic over per-second gauges."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.metrics.histogram import LatencyHistogram
from fleetsim.run.overload import SETTLE_S, EngineTrace, after_ramp, engine_episodes


def _trace(name: str, booted_by: dict[int, int], lag: dict[int, float], end: int) -> EngineTrace:
    tr = EngineTrace(name)
    n = 0
    for i in range(end + 1):
        n = booted_by.get(i, n)
        tr.add(i, {"booted": n, "loop_lag_max_ms": lag.get(i, 1.0), "cpu_percent": 20.0})
    return tr


def _judge(traces: list[EngineTrace], duration_s: float) -> dict[str, Any]:
    episodes = [e for tr in traces for e in engine_episodes(tr)]
    return after_ramp(traces, duration_s, episodes)


def test_a_laggy_ramp_and_stop_leave_the_hold_valid() -> None:
    ramp_lag = {i: 150.0 for i in range(0, 30)}  # a full box while connecting
    stop_lag = {i: 2500.0 for i in range(100, 106)}  # every session ended at once
    a = _trace("w0", {10: 500, 20: 1000}, {**ramp_lag, **stop_lag}, 106)
    b = _trace("w1", {12: 400, 25: 1000}, {**ramp_lag, **stop_lag}, 106)
    held = _judge([a, b], duration_s=100)
    assert held["held"] and held["valid"] is True
    assert (held["from_s"], held["to_s"]) == (25 + SETTLE_S, 99)
    assert held["booted"] == 2000
    assert held["loop_lag_max_ms"] < 20  # the ramp's 150 ms and the stop's 2.5 s are outside


def test_an_overload_while_held_is_named() -> None:
    a = _trace("w0", {5: 1000}, {60: 40.0, 61: 45.0, 62: 50.0, 63: 41.0}, 106)
    held = _judge([a], duration_s=100)
    assert held["held"] and held["valid"] is False
    assert len(held["overload"]) == 1 and "engine w0" in held["overload"][0]
    assert held["loop_lag_max_ms"] == 50.0


def test_a_fleet_never_held_is_not_judged() -> None:
    a = _trace("w0", {98: 1000}, {}, 100)  # the last boot came as the run ended
    held = _judge([a], duration_s=100)
    assert held["held"] is False and held["valid"] is None and "less than" in held["why"]
    assert _judge([_trace("w0", {}, {}, 50)], 50)["why"] == "no station booted"


def _lags(ms: float, n: int = 100) -> str:
    h = LatencyHistogram()
    for _ in range(n):
        h.record_s(ms / 1000)
    return h.encode()


def test_the_holds_lag_p99_counts_every_sample_of_the_window_and_no_other() -> None:
    """The whole run's p99 takes in the ramp, whose engine had no spare CPU; the hold's
    p99 is the issue's figure (issue 18). Each second's lag samples, merged."""
    a, b = _trace("w0", {5: 1000}, {}, 60), _trace("w1", {5: 1000}, {}, 60)
    for tr in (a, b):
        for i in range(61):
            tr.lags[i] = _lags(40.0 if i < 5 + SETTLE_S else 1.0)  # the ramp: 40 ms
    a.lags[30] = _lags(9.0, n=500)  # one bad second of one engine: 500 of 11,400 samples
    held = _judge([a, b], duration_s=60)
    assert held["loop_lag_p99_ms"] == pytest.approx(9.0, rel=0.01)
    a.lags[30] = _lags(9.0, n=50)  # under 1 %: the p99 is the good seconds'
    assert _judge([a, b], duration_s=60)["loop_lag_p99_ms"] == pytest.approx(1.0, rel=0.01)
    assert _judge([_trace("w0", {5: 1000}, {}, 60)], 60)["loop_lag_p99_ms"] is None  # no samples
