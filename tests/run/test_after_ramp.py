"""The generator's health while the fleet is held, judged apart from the ramp and the stop
(issue 13: "the generator is valid after the ramp"). Pure logic over per-second gauges."""

from __future__ import annotations

from typing import Any

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
