"""Scenario files: YAML → validated frozen dataclasses, and the fleet they describe."""

from fleetsim.scenario.fleet import StationSpec, build_fleet, station_spec
from fleetsim.scenario.loader import load_scenario, parse_scenario, parse_version, with_overrides
from fleetsim.scenario.model import (
    ClockConfig,
    CsmsTarget,
    DriversConfig,
    OcppConfig,
    OcppVersion,
    Scenario,
    StationsConfig,
)
from fleetsim.scenario.reader import parse_duration_s

__all__ = [
    "ClockConfig",
    "CsmsTarget",
    "DriversConfig",
    "OcppConfig",
    "OcppVersion",
    "Scenario",
    "StationSpec",
    "StationsConfig",
    "build_fleet",
    "load_scenario",
    "parse_duration_s",
    "parse_scenario",
    "parse_version",
    "station_spec",
    "with_overrides",
]
