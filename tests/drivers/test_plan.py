"""Planning invariants: reproducible, station-independent, physically and
protocol-wise valid sessions; the CSV table, its hash and ``fleetsim plan``."""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from fleetsim.drivers import (
    ArchetypeModel,
    PlanStats,
    StationPlan,
    archetype_fleet,
    id_tag_pool,
    load_model,
    plan_archetype,
    plan_fleet,
    plan_hash,
    sessions_csv,
)
from fleetsim.drivers.command import add_arguments, run
from fleetsim.exceptions import FleetsimError, ModelError
from fleetsim.scenario import build_fleet, parse_scenario

ARCHETYPES = ("residential_ac", "workplace_ac", "public_ac", "dc_fast", "fleet_depot")
TAG = re.compile(r"^[0-9A-F]{14}$")


def _plan(name: str, indices: list[int], *, seed: int = 5, days: float = 10,
          connectors: int = 2) -> list[StationPlan]:
    specs = [s for s in archetype_fleet(name, stations=max(indices) + 1, seed=seed,
                                        connectors=connectors) if s.index in indices]
    return load_model(name).plan(specs, horizon_s=days * 86400, start_weekday=3,
                                 start_hour=6.5)


@pytest.mark.parametrize("name", [*ARCHETYPES, "uniform"])
def test_same_seed_same_plan_and_stations_are_independent(name: str) -> None:
    full = _plan(name, list(range(12)))
    assert plan_hash(full) == plan_hash(_plan(name, list(range(12))))
    assert plan_hash(full) != plan_hash(_plan(name, list(range(12)), seed=6))
    # a worker planning only some stations, or a bigger fleet, gives them the same sessions
    part = _plan(name, [3, 7, 11])
    assert [p.sessions for p in part] == [full[i].sessions for i in (3, 7, 11)]
    bigger = _plan(name, list(range(60)))
    assert [p.sessions for p in bigger[:12]] == [p.sessions for p in full]
    np.random.seed(123)  # the global generator is never used
    assert plan_hash(_plan(name, list(range(12)))) == plan_hash(full)


@pytest.mark.parametrize("name", ARCHETYPES)
def test_sessions_are_valid(name: str) -> None:
    plans = _plan(name, list(range(40)), days=14, connectors=3)
    model = load_model(name)
    assert sum(len(p.sessions) for p in plans) > 100
    for p in plans:
        assert p.archetype == name and p.evse.dc == (name == "dc_fast")
        arrivals = [s.arrival_s for s in p.sessions]
        assert arrivals == sorted(arrivals)
        busy: dict[int, float] = {}
        tag_busy: dict[str, float] = {}
        for s in p.sessions:
            assert 0 <= s.arrival_s < 14 * 86400 and s.departure_s > s.arrival_s
            assert 1 <= s.connector_id <= 3 and s.station_index == p.station_index
            assert busy.get(s.connector_id, -1.0) <= s.arrival_s, "a connector holds one car"
            busy[s.connector_id] = s.departure_s
            assert TAG.match(s.id_tag), s.id_tag  # ISO 14443 7-byte UID, <= 20 chars
            assert tag_busy.get(s.id_tag, -1.0) <= s.arrival_s, "no idTag in two sessions at once"
            tag_busy[s.id_tag] = s.departure_s
            assert 0.05 <= s.soc_start < 1.0 and s.energy_kwh > 0
            room = (1.0 - s.soc_start) * s.vehicle.battery_kwh / s.vehicle.efficiency
            assert s.energy_kwh <= room + 1e-3, "the wanted energy fits in the battery"
    assert isinstance(model, ArchetypeModel)
    pool = id_tag_pool(7, model.params.id_tags.pool_size(3), fleet="FS", seed=5)
    regulars = {s.id_tag for s in plans[7].sessions if s.id_tag.startswith("04")}
    assert regulars <= set(pool) and len(pool) == len(set(pool))
    one_off = model.params.id_tags.one_off_share
    share = np.mean([not s.id_tag.startswith("04") for p in plans for s in p.sessions])
    assert share == pytest.approx(one_off, abs=0.05)


def test_busy_stations_balk_or_queue_and_report_it() -> None:
    ac = plan_archetype("public_ac", stations=30, days=14, connectors=1, seed=2)
    assert sum(p.balked for p in ac) > 0 and sum(p.queued for p in ac) == 0
    dc = plan_archetype("dc_fast", stations=30, days=7, connectors=1, seed=2)
    queued = sum(p.queued for p in dc)
    assert queued > 0 and sum(p.balked for p in dc) > 0
    mean_wait_min = sum(p.queue_wait_s for p in dc) / queued / 60
    assert 0 < mean_wait_min < 5.0  # patience ~ Exp(5 min): those who stay waited less
    stats = PlanStats.of([*ac, *dc])
    assert stats.sessions == sum(len(p.sessions) for p in (*ac, *dc))
    assert dict(stats.sessions_by_archetype) == {
        "public_ac": sum(len(p.sessions) for p in ac), "dc_fast": sum(len(p.sessions) for p in dc)}


def test_planning_window_starts_at_the_epoch_local_time() -> None:
    monday = plan_archetype("fleet_depot", stations=20, days=1, seed=1,
                            start=datetime(2026, 1, 5, 0, 0, tzinfo=UTC))
    sunday = plan_archetype("fleet_depot", stations=20, days=1, seed=1,
                            start=datetime(2026, 1, 4, 0, 0, tzinfo=UTC))
    evening = plan_archetype("fleet_depot", stations=20, days=0.25, seed=1,
                             start=datetime(2026, 1, 5, 18, 0, tzinfo=UTC))
    assert sum(len(p.sessions) for p in monday) > 5 * sum(len(p.sessions) for p in sunday)
    for p in evening:  # vans return ~17:30, so a window from 18:00 sees only the late ones
        assert all(0 <= s.arrival_s < 6 * 3600 for s in p.sessions)


def test_csv_table_and_hash(tmp_path: Path) -> None:
    plans = plan_archetype("public_ac", stations=5, days=3, seed=9)
    epoch = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    out = tmp_path / "sessions.csv"
    rows = sessions_csv(plans, None, epoch, out)
    text = out.read_text(encoding="utf-8")
    assert plan_hash(plans, None, epoch) == hashlib.sha256(text.encode()).hexdigest()
    table = list(csv.DictReader(text.splitlines()))
    assert len(table) == rows == sum(len(p.sessions) for p in plans)
    assert list(table[0]) == ["station_id", "connector_id", "archetype", "id_tag", "arrival",
                              "departure", "energy_kwh", "vehicle", "soc_start", "battery_kwh",
                              "max_power_kw"]
    keys = [(r["arrival"], r["station_id"]) for r in table]
    assert keys == sorted(keys)
    first = min((s for p in plans for s in p.sessions), key=lambda s: s.arrival_s)
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    assert all(stamp.match(r["arrival"]) and stamp.match(r["departure"]) for r in table)
    got = datetime.fromisoformat(table[0]["arrival"].replace("Z", "+00:00"))
    assert (got - epoch).total_seconds() == pytest.approx(first.arrival_s, abs=1e-3)
    assert float(table[0]["energy_kwh"]) == pytest.approx(first.energy_kwh, abs=5e-4)
    assert all(0 < float(r["max_power_kw"]) <= 17.25 for r in table)


def test_scenario_mix_and_overrides_plan_each_station_with_its_archetype() -> None:
    scenario = parse_scenario({
        "name": "mix", "seed": 4, "duration": "1d",
        "stations": {"count": 40, "connectors": 2},
        "clock": {"start": "2026-01-07T00:00:00Z"},
        "drivers": {"mix": {a: 1 for a in ARCHETYPES},
                    "overrides": {"dc_fast": {"arrival.sessions_per_connector_day": 20}}}})
    specs = build_fleet(scenario)
    plans = plan_fleet(scenario, specs, horizon_s=2 * 86400)
    assert [p.station_index for p in plans] == [s.index for s in specs]
    assert all(p.archetype == s.archetype for p, s in zip(plans, specs, strict=True))
    dc = [p for p in plans if p.archetype == "dc_fast"]
    assert sum(len(p.sessions) for p in dc) / len(dc) / 2 / 2 > 12  # override applied
    bad = parse_scenario({**scenario.raw, "drivers": {"mix": {"public_ac": 1}, "overrides": {
        "public_ac": {"arrival": {"dow_factors": [1, 2]}}}}})
    with pytest.raises(ModelError, match=r"^drivers.overrides.public_ac.arrival.dow_factors: "):
        plan_fleet(bad, build_fleet(bad), horizon_s=86400)


def _cli(*args: str) -> int:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return run(parser.parse_args(list(args)))


def test_fleetsim_plan_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.csv"
    assert _cli("--model", "dc_fast", "--stations", "4", "--days", "2", "--seed", "3",
                "--start", "2026-06-01T00:00:00Z", "--out", str(out)) == 0
    said = capsys.readouterr().out
    assert said.startswith("Planned ") and "dc_fast" in said and "queued" in said
    plans = plan_archetype("dc_fast", stations=4, days=2, seed=3,
                           start=datetime(2026, 6, 1, tzinfo=UTC))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == plan_hash(
        plans, None, datetime(2026, 6, 1, tzinfo=UTC))
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\nseed: 2\nduration: 1h\nstations: {count: 10}\n"
                        "clock: {time_factor: 24}\n"
                        "drivers: {mix: {public_ac: 1, residential_ac: 1}}\n")
    out2 = tmp_path / "scenario.csv"
    assert _cli(str(scenario), "--out", str(out2)) == 0
    said = capsys.readouterr().out
    assert "over 1 day (scenario s, seed 2)" in said
    assert out2.read_text().startswith("station_id,connector_id,archetype,id_tag,arrival")
    for bad, message in ((("--model", "dc_fast"), "needs --stations N and --days D"),
                         (("--model", "nope", "--stations", "1", "--days", "1"),
                          "unknown driver model 'nope'"),
                         ((str(scenario), "--days", "-1"), "--days: must be > 0"),
                         ((str(scenario), "--start", "monday"), "--start: expected ISO 8601"),
                         ((), "give a SCENARIO file or --model NAME")):
        with pytest.raises(FleetsimError, match=re.escape(message)):
            _cli(*bad, "--out", str(tmp_path / "x.csv"))


def test_uniform_model_still_plans() -> None:
    scenario = parse_scenario({"name": "u", "stations": {"count": 3}})
    plans = plan_fleet(scenario, build_fleet(scenario), horizon_s=86400)
    assert len(plans) == 3 and all(p.archetype == "uniform" and p.balked == 0 for p in plans)
