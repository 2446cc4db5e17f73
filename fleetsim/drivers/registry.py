"""Find driver models by name and plan a whole fleet with them.

A model is anything with ``name`` and ``plan(stations, *, horizon_s,
start_weekday, start_hour) -> list[StationPlan]``. ``uniform`` is built in;
archetypes are loaded from ``drivers_models/<name>.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from fleetsim.drivers.session import StationPlan
from fleetsim.drivers.uniform import UniformModel, UniformParams
from fleetsim.exceptions import ModelError
from fleetsim.scenario.fleet import StationSpec
from fleetsim.scenario.model import Scenario

__all__ = ["DriverModel", "load_model", "plan_fleet"]


class DriverModel(Protocol):
    name: str

    def plan(self, stations: Sequence[StationSpec], *, horizon_s: float,
             start_weekday: int = 0, start_hour: float = 0.0) -> list[StationPlan]: ...


def load_model(name: str, *, overrides: Mapping[str, Any] | None = None,
               models_dir: str | Path = "drivers_models") -> DriverModel:
    """The model called ``name`` with parameter ``overrides`` applied; ModelError if unknown."""
    if name == "uniform":
        return UniformModel(UniformParams.from_mapping(overrides or {}, where="uniform"))
    raise ModelError(f"unknown driver model {name!r} (known: uniform)")


def plan_fleet(scenario: Scenario, stations: Sequence[StationSpec], *,
               horizon_s: float) -> list[StationPlan]:
    """Plans for ``stations`` (in their order), each from its archetype's model."""
    start = scenario.clock.start
    weekday = start.weekday() if start else 0
    hour = (start.hour + start.minute / 60 + start.second / 3600) if start else 0.0
    by_arch: dict[str, list[StationSpec]] = {}
    for spec in stations:
        by_arch.setdefault(spec.archetype, []).append(spec)
    out: dict[int, StationPlan] = {}
    for arch, specs in by_arch.items():
        model = load_model(arch, overrides=scenario.drivers.overrides.get(arch),
                           models_dir=scenario.drivers.models_dir)
        for plan in model.plan(specs, horizon_s=horizon_s, start_weekday=weekday,
                               start_hour=hour):
            out[plan.station_index] = plan
    return [out[s.index] for s in stations]
