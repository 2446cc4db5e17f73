"""``clock:``: which clock timestamps follow, and which intervals compress (issue 12.7, 11.3)."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest

from fleetsim.metrics.recorder import IntervalStats
from fleetsim.run.progress import ProgressLine
from fleetsim.scenario import parse_scenario
from fleetsim.station.clock import Clock


def scenario(**clock: Any) -> Any:
    return parse_scenario({"name": "c", "seed": 1, "duration": "10s",
                           "stations": {"count": 1}, "csms": {"target": "embedded"},
                           "clock": clock}, file="c.yaml")


def test_real_time_without_a_start_stamps_the_wall_clock() -> None:
    s = scenario(time_factor=1)
    assert s.clock.timestamps == "wall"
    now = time.time()
    clock = Clock.start(epoch=s.clock.epoch, factor=1.0, wall_timestamps=True,
                        monotonic=time.monotonic(), unix=now)
    stamp = clock.unix(time.monotonic())
    assert abs(stamp - now) < 5.0  # not 2026-01-05, the fixed epoch of the plan


@pytest.mark.parametrize(("clock", "stamps"), [
    ({}, "wall"),
    ({"time_factor": 1, "start": "2026-01-05T06:00:00Z"}, "simulated"),  # a date was asked for
    ({"time_factor": 600}, "simulated"),
    ({"time_factor": 600, "timestamps": "wall"}, "wall"),
])
def test_timestamp_defaults(clock: dict[str, Any], stamps: str) -> None:
    assert scenario(**clock).clock.timestamps == stamps


def test_scenario_intervals_are_wall_seconds_unless_asked() -> None:
    assert scenario(time_factor=600).clock.interval_factor == 1.0
    assert scenario(time_factor=600, intervals="simulated").clock.interval_factor == 600.0


def test_live_line_says_which_clock_the_timestamps_follow() -> None:
    out = io.StringIO()
    line = ProgressLine(10, stream=out, clock=scenario(
        time_factor=600, start="2026-01-05T06:00:00Z").clock)
    line(IntervalStats(index=0, t_s=6.0))
    head, first = out.getvalue().splitlines()
    assert "simulated clock from 2026-01-05T06:00Z" in head and "600" in head
    assert first.startswith("[    6s sim Mon 07:00]")  # 6 wall s × 600 = 1 h later
    out = io.StringIO()
    ProgressLine(10, stream=out, clock=scenario(time_factor=1).clock)(IntervalStats(0, 1.0))
    assert out.getvalue().startswith("timestamps: wall clock")
