"""The ``uniform`` driver model: a simple seeded baseline, not fitted to data.

Per connector, cars arrive as a homogeneous Poisson process (the same rate at
every hour), stay a dwell drawn uniformly from ``dwell_h``, want an energy drawn
uniformly from ``energy_kwh``, and the next car comes after the previous one
left. Useful for protocol load where realism does not matter; data-grounded
archetypes live beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from fleetsim.drivers.session import Evse, Session, StationPlan, Vehicle
from fleetsim.exceptions import ModelError
from fleetsim.scenario.fleet import StationSpec

__all__ = ["UniformModel", "UniformParams"]


@dataclass(frozen=True, slots=True)
class UniformParams:
    sessions_per_day: float = 4.0          # per connector, mean
    dwell_h: tuple[float, float] = (0.5, 3.0)
    energy_kwh: tuple[float, float] = (5.0, 40.0)
    evse_max_power_kw: float = 11.0
    evse_phases: int = 3
    evse_voltage_v: float = 230.0
    battery_kwh: float = 60.0
    soc_start: tuple[float, float] = (0.1, 0.6)
    id_tags_per_station: int = 20

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, where: str = "uniform") -> UniformParams:
        names = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for k, v in raw.items():
            if k not in names:
                raise ModelError(f"{where}.{k}: unknown parameter (known: {', '.join(sorted(names))})")
            default = getattr(cls(), k)
            if isinstance(default, tuple):
                if (not isinstance(v, list | tuple) or len(v) != 2
                        or not all(isinstance(x, int | float) for x in v) or v[0] > v[1] or v[0] < 0):
                    raise ModelError(f"{where}.{k}: expected [low, high] with 0 <= low <= high")
                v = (float(v[0]), float(v[1]))
            elif isinstance(default, str):
                if not isinstance(v, str):
                    raise ModelError(f"{where}.{k}: expected text")
            elif isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                raise ModelError(f"{where}.{k}: expected a positive number, got {v!r}")
            kw[k] = v
        return cls(**kw)


class UniformModel:
    """Plans sessions for stations assigned the ``uniform`` archetype."""

    name = "uniform"

    def __init__(self, params: UniformParams | None = None) -> None:
        self.params = params or UniformParams()

    def evse(self) -> Evse:
        p = self.params
        return Evse(max_power_w=p.evse_max_power_kw * 1000.0, phases=p.evse_phases,
                    voltage_v=p.evse_voltage_v, dc=False)

    def plan(self, stations: Sequence[StationSpec], *, horizon_s: float,
             start_weekday: int = 0, start_hour: float = 0.0) -> list[StationPlan]:
        """Sessions arriving in [0, horizon_s) simulated seconds for each station."""
        del start_weekday, start_hour  # uniform in time: the clock does not matter
        p = self.params
        evse = self.evse()
        vehicle = Vehicle(name="mid_bev", battery_kwh=p.battery_kwh, ac_phases=3, ac_max_a=16.0,
                          dc_peak_kw=0.0)
        mean_gap_s = 86400.0 / p.sessions_per_day
        plans = []
        for spec in stations:
            rng = spec.stream(0)
            sessions: list[Session] = []
            for connector in range(1, spec.connectors + 1):
                t = float(rng.exponential(mean_gap_s / 2))
                while t < horizon_s:
                    dwell = float(rng.uniform(*p.dwell_h)) * 3600.0
                    energy = float(rng.uniform(*p.energy_kwh))
                    soc = float(rng.uniform(*p.soc_start))
                    # an ISO14443 4-byte UID: 8 upper-case hex characters, as strict CSMSs expect
                    tag = f"{(spec.index * 256 + int(rng.integers(p.id_tags_per_station))) % 2**32:08X}"
                    sessions.append(Session(station_index=spec.index, connector_id=connector,
                                            arrival_s=t, departure_s=t + dwell, energy_kwh=energy,
                                            id_tag=tag, vehicle=vehicle, soc_start=soc))
                    t += dwell + float(rng.exponential(mean_gap_s))
            sessions.sort(key=lambda s: (s.arrival_s, s.connector_id))
            plans.append(StationPlan(station_index=spec.index, archetype=self.name, evse=evse,
                                     sessions=tuple(sessions)))
        return plans
