"""Planning a window at a time (issues 12.3 and 18): a running station's lazily planned
sessions are exactly ``fleetsim plan``'s, whatever the horizon; planning memory is
bounded by the window; idTags are unique per fleet."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from fleetsim.drivers import load_model
from fleetsim.drivers.registry import fleet_feeds, fleet_tags, plan_fleet
from fleetsim.drivers.session import Session
from fleetsim.drivers.window import SessionFeed
from fleetsim.scenario import build_fleet, parse_scenario
from fleetsim.scenario.model import Scenario

# uniform with short sessions: a planning window is 8 x (30 s gap + 90 s dwell) = 16 min
FAST_UNIFORM = {"uniform": {"sessions_per_day": 2880, "dwell_h": [1 / 60, 1 / 20]}}


def _scenario(mix: dict[str, float], *, prefix: str = "FS", seed: int = 3,
              stations: int = 12) -> Scenario:
    return parse_scenario({
        "name": "window", "seed": seed, "duration": "1h",
        "stations": {"count": stations, "connectors": 2, "id_prefix": prefix},
        "clock": {"start": "2026-01-07T05:30:00Z"},
        "drivers": {"mix": mix, "overrides": FAST_UNIFORM if "uniform" in mix else {}}},
        file="<test>")


def _drain(feed: SessionFeed, horizon_s: float) -> list[Session]:
    """What a running station plugs in before ``horizon_s``, asking as the core does."""
    out: list[Session] = []
    for _ in range(100_000):  # bounded: a feed always advances
        s = feed.next()
        if s is None:
            if feed.planned_until_s >= horizon_s:
                return out
            continue
        if s.arrival_s >= horizon_s:
            return out
        out.append(s)
    raise AssertionError("the feed did not reach the horizon")


@pytest.mark.parametrize(("mix", "horizon_s"), [
    ({"uniform": 1.0}, 6 * 3600.0),                                   # ~22 windows
    ({"public_ac": 0.5, "dc_fast": 0.3, "workplace_ac": 0.2}, 5 * 86400.0),  # 5-6 days
])
def test_lazy_sessions_equal_fleetsim_plan(mix: dict[str, float], horizon_s: float) -> None:
    s = _scenario(mix)
    specs = build_fleet(s)
    planned = plan_fleet(s, specs, horizon_s=horizon_s)
    lazy = [_drain(p.feed, horizon_s) for p in fleet_feeds(s, specs) if p.feed is not None]
    assert sum(len(p.sessions) for p in planned) > 20 * len(specs)
    assert lazy == [list(p.sessions) for p in planned]
    # a station started alone (a Locust worker's share) gets the same sessions
    alone = fleet_feeds(s, specs[5:6])[0].feed
    assert alone is not None and _drain(alone, horizon_s) == list(planned[5].sessions)


@pytest.mark.parametrize("mix", [{"uniform": 1.0}, {"public_ac": 0.6, "dc_fast": 0.4}])
def test_plan_is_a_function_of_the_scenario_not_the_horizon(mix: dict[str, float]) -> None:
    """Planning further ahead never changes the sessions already planned (issue 12.3:
    a run planned one hour beyond its end used other tags than ``fleetsim plan``)."""
    s = _scenario(mix)
    specs = build_fleet(s)
    short = plan_fleet(s, specs, horizon_s=30 * 3600.0)
    long = plan_fleet(s, specs, horizon_s=31 * 3600.0)
    for a, b in zip(short, long, strict=True):
        assert b.sessions[:len(a.sessions)] == a.sessions
        assert all(x.arrival_s >= 30 * 3600.0 for x in b.sessions[len(a.sessions):])
    tags = fleet_tags(s, specs, horizon_s=30 * 3600.0)
    assert tags == sorted({x.id_tag for p in short for x in p.sessions})


def test_late_joiner_skips_only_what_arrived_before_it() -> None:
    s = _scenario({"uniform": 1.0}, stations=2)
    specs = build_fleet(s)
    full = plan_fleet(s, specs, horizon_s=8 * 3600.0)[1].sessions
    feed = fleet_feeds(s, specs)[1].feed
    assert feed is not None
    feed.skip_before(5 * 3600.0)
    assert _drain(feed, 8 * 3600.0) == [x for x in full if x.arrival_s >= 5 * 3600.0]


def _planning_peak(model: str, windows: int) -> tuple[int, int]:
    """(bytes held after, peak bytes) while one station's feed plans ``windows`` windows."""
    s = _scenario({model: 1.0}, stations=1)
    specs = build_fleet(s)
    gc.collect()
    tracemalloc.start()
    try:
        feed = fleet_feeds(s, specs)[0].feed
        assert feed is not None
        ends = {feed.planned_until_s}
        for _ in range(100_000):  # bounded; each next() plans at most one window
            if len(ends) > windows:
                break
            feed.next()
            ends.add(feed.planned_until_s)
        assert len(ends) > windows
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return held, peak


@pytest.mark.parametrize("model", ["uniform", "public_ac"])
def test_planning_memory_is_bounded_by_the_window_not_the_run(model: str) -> None:
    """A station planning 40 windows ahead of its run holds no more than one planning 4:
    the plan's memory does not grow with the run's length (issue 18)."""
    (held4, short), (held40, long) = _planning_peak(model, 4), _planning_peak(model, 40)
    assert long < short * 1.25 + 16_384, (short, long)
    assert held40 < held4 + 16_384, (held4, held40)
    # while the whole plan as objects grows with the horizon (what a run used to hold)
    s = _scenario({model: 1.0}, stations=1)
    window = 86400.0 if model != "uniform" else load_model(
        "uniform", overrides=FAST_UNIFORM["uniform"]).window_s  # type: ignore[attr-defined]
    eager = []
    for n in (4, 40):
        gc.collect()
        tracemalloc.start()
        try:
            plans = plan_fleet(s, build_fleet(s), horizon_s=n * window)
            eager.append(tracemalloc.get_traced_memory()[0])
        finally:
            tracemalloc.stop()
        del plans
    assert eager[1] - eager[0] > 16_384 + max(0, held40 - held4), (eager, held4, held40)


def test_idtags_are_unique_per_fleet() -> None:
    """Two fleets on one CSMS never share a tag (issue 12.9), nor do two stations."""
    mix = {"public_ac": 0.5, "uniform": 0.5}
    a = _scenario(mix, prefix="SiteA-", stations=40)
    b = _scenario(mix, prefix="SiteB-", stations=40)  # same seed, same archetypes
    c = _scenario(mix, prefix="SiteA-", seed=4, stations=40)
    tags = {name: fleet_tags(x, build_fleet(x), horizon_s=7 * 86400.0)
            for name, x in (("a", a), ("b", b), ("c", c))}
    assert all(len(t) > 200 for t in tags.values())
    assert not set(tags["a"]) & set(tags["b"])
    assert not set(tags["a"]) & set(tags["c"])
    by_station: dict[str, int] = {}
    for p in plan_fleet(a, build_fleet(a), horizon_s=7 * 86400.0):
        for x in p.sessions:
            assert by_station.setdefault(x.id_tag, p.station_index) == p.station_index
