"""The scenario's ``load:`` section: shapes over wall time, validation, and Locust following it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetsim.csms.process import EmbeddedCsms
from fleetsim.exceptions import ScenarioError
from fleetsim.scenario import parse_scenario, with_overrides
from tests.locust_adapter.procs import locust, run


def scenario(load: dict[str, Any], **extra: Any) -> Any:
    return parse_scenario({"duration": "100s", "stations": {"count": 200, "connect_rate": 50},
                           "load": load, **extra}, file="s.yaml")


def test_linear_ramps_then_holds_then_ends() -> None:
    load = scenario({"shape": "linear", "ramp": "20s"}).load
    assert [load.users_at(t) for t in (0, 5, 10, 20, 99.9)] == [0, 50, 100, 200, 200]
    assert load.users_at(100) is None and load.spawn_rate == 50


def test_steps_add_a_step_per_hold() -> None:
    load = scenario({"shape": "steps", "step": "25%", "hold": "10s", "spawn_rate": 20}).load
    assert [load.users_at(t) for t in (0, 9.9, 10, 35, 90)] == [50, 50, 100, 200, 200]
    assert load.spawn_rate == 20


def test_spike_rises_and_falls() -> None:
    load = scenario({"shape": "spike", "base": 20, "peak": "100%", "at": "30s",
                     "length": "10s"}).load
    assert [load.users_at(t) for t in (0, 29.9, 30, 39.9, 40)] == [20, 20, 200, 200, 20]


def test_daily_profile_runs_on_simulated_time() -> None:
    profile = [0.0] * 12 + [1.0] * 12  # nobody before noon, everyone after
    load = scenario({"shape": "daily", "profile": profile},
                    clock={"time_factor": 3600, "start": "2026-01-05T06:00:00Z"}).load
    # a simulated hour per wall second, starting at 06:00
    assert load.users_at(0) == 0 and load.users_at(5) == 0 and load.users_at(5.5) == 100
    assert load.users_at(6) == 200 and load.users_at(11.5) == 200
    assert load.users_at(18) == 0  # 00:00 next day
    assert load.users_at(17.5) == 100  # halfway between 23:00 (1.0) and 24:00 (0.0)


def test_overrides_rescale_the_shape() -> None:
    s = with_overrides(scenario({"shape": "spike", "base": "50%", "at": "10s", "length": "5s"}),
                       stations=10, duration_s=30)
    assert s.load is not None and (s.load.base, s.load.peak, s.load.duration_s) == (5, 10, 30)


@pytest.mark.parametrize(("load", "where", "problem"), [
    ({"shape": "ramp"}, "load.shape", "must be one of linear, steps, spike, daily"),
    ({"shape": "steps", "hold": "5s"}, "load.step", "is required"),
    ({"shape": "steps", "step": 0, "hold": "5s"}, "load.step", "at least one station"),
    ({"shape": "spike", "at": "200s", "length": "5s"}, "load.at", "after the run ends"),
    ({"shape": "spike", "at": "5s", "length": "5s", "peak": "120%"}, "load.peak",
     "between 0% and 100%"),
    ({"shape": "daily", "profile": [0.5] * 23}, "load.profile", "expected 24 shares"),
    ({"shape": "daily", "profile": [0.5] * 23 + [1.5]}, "load.profile[23]", "between 0 and 1"),
    ({"shape": "linear", "ramp": "fast"}, "load.ramp", "expected a duration"),
    ({"shape": "linear", "hold": "5s"}, "load.hold", "unknown key"),
])
def test_bad_load_sections_name_their_key(load: dict[str, Any], where: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario(load)
    assert err.value.path == where and problem in err.value.problem


def test_locust_follows_the_scenario_shape_and_ends_with_it(tmp_path: Path) -> None:
    path = tmp_path / "steps.yaml"
    path.write_text(yaml.safe_dump({
        "name": "steps", "duration": "6s", "stations": {"count": 30, "id_prefix": "ST"},
        "csms": {"target": "embedded"}, "clock": {"time_factor": 60},
        # no sessions: this CSMS knows no idTags, and the test is about the shape
        "drivers": {"model": "uniform", "overrides": {"uniform": {"sessions_per_day": 0.001}}},
        "load": {"shape": "steps", "step": 10, "hold": "2s", "spawn_rate": 100}}))
    out = tmp_path / "run"
    t0 = time.monotonic()
    with EmbeddedCsms(db=tmp_path / "csms.sqlite", token_prefix="") as csms:
        proc = run(locust("--fleetsim-scenario", str(path), "--fleetsim-csms", csms.url,
                          "--fleetsim-out", str(out)), timeout=60, log=tmp_path / "locust.log")
    log = (tmp_path / "locust.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "Shape test completed" in log and time.monotonic() - t0 < 40
    timeline = [json.loads(x) for x in (out / "intervals.jsonl").read_text().splitlines()]
    connected = {t["index"]: t["gauges"]["connected"] for t in timeline}
    assert max(connected.values()) == 30  # 10, 20, then 30 stations
    assert any(10 <= c < 30 for c in connected.values())  # and the steps between
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stations"]["started"] == 30
