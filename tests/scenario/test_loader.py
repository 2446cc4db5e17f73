"""Scenario files: valid ones load, malformed ones name file, key path and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsim.exceptions import ScenarioError
from fleetsim.scenario import (
    OcppVersion,
    build_fleet,
    load_scenario,
    parse_scenario,
    with_overrides,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_load(path: Path) -> None:
    s = load_scenario(path)
    assert s.stations.count > 0 and s.duration_s > 0


def test_quickstart_has_all_versions_and_embedded_target() -> None:
    s = load_scenario(ROOT / "scenarios/quickstart.yaml")
    assert set(s.stations.versions) == set(OcppVersion)
    assert s.csms.embedded


@pytest.mark.parametrize(("data", "path", "words"), [
    ({"stations": {"count": 0}}, "stations.count", "must be >= 1"),
    ({"stations": {}}, "stations.count", "required"),
    ({"stations": {"count": 5, "versions": {"1.7": 1}}}, "stations.versions.1.7",
     "unknown OCPP version"),
    ({"stations": {"count": 5, "conectors": 2}}, "stations.conectors", "did you mean 'connectors'"),
    ({"stations": {"count": 5}, "duration": "ten minutes"}, "duration", "expected a duration"),
    ({"stations": {"count": 5}, "csms": {"target": "http://x"}}, "csms.target", "ws://"),
    ({"stations": {"count": 5, "versions": {"1.6": 1, "2.0.1": 1}},
      "csms": {"target": {"1.6": "ws://a"}}}, "csms.target", "no URL for OCPP 2.0.1"),
    ({"stations": {"count": 5}, "csms": {"url_template": "{url}/cp"}}, "csms.url_template",
     "{station_id}"),
    ({"stations": {"count": 5}, "clock": {"time_factor": -1}}, "clock.time_factor", "> 0"),
    ({"stations": {"count": 5}, "drivers": {"mix": {"uniform": "lots"}}}, "drivers.mix.uniform",
     "number"),
    ({"stations": {"count": 5, "source_addresses": ["10.0.0.1"]}},
     "stations.source_addresses[0]", "loopback"),
    ({"stations": {"count": 5, "stop_rate": 0}}, "stations.stop_rate", "> 0"),
    (["not", "a", "mapping"], "", "expected a mapping"),
])
def test_malformed_scenarios_name_the_key(data: object, path: str, words: str) -> None:
    with pytest.raises(ScenarioError) as e:
        parse_scenario(data, file="x.yaml")
    assert e.value.path == path
    assert words in str(e.value)
    assert str(e.value).startswith("x.yaml")
    assert "\n" not in str(e.value)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("stations:\n  count: [1, 2\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml: invalid YAML: line \d+"):
        load_scenario(f)


def test_missing_file() -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario("/nonexistent/scenario.yaml")


def test_overrides_apply_and_are_recorded() -> None:
    s = parse_scenario({"stations": {"count": 5}})
    s2 = with_overrides(s, stations=7, duration_s=12, seed=9, csms_url="ws://127.0.0.1:1/ocpp")
    assert (s2.stations.count, s2.duration_s, s2.seed) == (7, 12, 9)
    assert not s2.csms.embedded
    assert s2.csms.url_for(OcppVersion.V16, "A1") == "ws://127.0.0.1:1/ocpp/A1"
    assert s2.raw["stations"]["count"] == 7 and s2.raw["seed"] == 9


def test_per_version_urls_and_template() -> None:
    s = parse_scenario({"stations": {"count": 2, "versions": {"1.6": 1, "2.0.1": 1}},
                        "csms": {"target": {"1.6": "ws://h/ocpp16", "2.0.1": "wss://h/ocpp201/"},
                                 "url_template": "{url}/tenant-a/{station_id}/"}})
    assert s.csms.url_for(OcppVersion.V201, "CP1") == "wss://h/ocpp201/tenant-a/CP1/"


def test_station_identity_is_independent_of_fleet_size() -> None:
    small = build_fleet(parse_scenario({"stations": {"count": 10, "versions": {"1.6": 1,
                                                                               "2.0.1": 1}}}))
    big = build_fleet(parse_scenario({"stations": {"count": 1000, "versions": {"1.6": 1,
                                                                               "2.0.1": 1}}}))
    assert small == big[:10]
    shares = sum(1 for s in big if s.version is OcppVersion.V16) / len(big)
    assert shares == pytest.approx(0.5, abs=0.01)
    assert len({s.station_id for s in big}) == 1000


def test_the_ends_pace_defaults_to_the_ramps() -> None:
    ramp = parse_scenario({"stations": {"count": 10_000, "connect_rate": 300}})
    assert ramp.stations.stop_rate_per_s == 300 and ramp.stations.end_spread_s(10_000) > 33
    fast = parse_scenario({"stations": {"count": 10_000, "connect_rate": 300, "stop_rate": 2000}})
    assert fast.stations.end_spread_s(10_000) == 5.0  # a slow ramp need not end as slowly
    assert fast.stations.end_rate_per_s(4) == 500.0  # each of four engines' share
