"""What a driver model produces: vehicles, EVSEs and planned charging sessions.

Times are *simulated* seconds since the plan's epoch (the scenario's clock start).
These are plain frozen records; the station core consumes them and the power
physics live in :mod:`fleetsim.drivers.power`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Evse", "Session", "StationPlan", "Vehicle"]


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A car as the charger sees it. Taper follows ev-models.md §3.4.

    ``dc_peak_kw`` 0 means the car cannot fast-charge. AC charging is limited to
    ``ac_phases × ac_max_a × voltage``; both AC and DC taper after ``taper_soc``
    (ACN-Sim Linear2StageBattery for AC: flat to 0.8, linear to 0 at SoC 1).
    """

    name: str
    battery_kwh: float
    ac_phases: int
    ac_max_a: float
    dc_peak_kw: float = 0.0
    dc_taper_start_soc: float = 0.5   # s1
    dc_taper_end_soc: float = 0.8     # s2
    dc_taper_alpha: float = 0.35      # power at s2 as a share of peak
    ac_taper_soc: float = 0.8


@dataclass(frozen=True, slots=True)
class Evse:
    """The station's charging equipment per connector.

    ``voltage_v`` is phase-to-neutral for AC (230 V in the EU, 120 V for a 208 V US
    split) and the nominal DC voltage for DC. ``max_power_w`` caps the connector.
    """

    max_power_w: float
    phases: int = 3
    voltage_v: float = 230.0
    dc: bool = False

    @property
    def max_current_a(self) -> float:
        """Per-phase current limit [A] that corresponds to ``max_power_w``."""
        return self.max_power_w / (self.voltage_v * (1 if self.dc else self.phases))


@dataclass(frozen=True, slots=True)
class Session:
    """One planned plug-in: arrival and departure in simulated seconds since the epoch."""

    station_index: int
    connector_id: int
    arrival_s: float
    departure_s: float
    energy_kwh: float      # energy the driver wants [kWh]
    id_tag: str
    vehicle: Vehicle
    soc_start: float       # state of charge at arrival [0..1]


@dataclass(frozen=True, slots=True)
class StationPlan:
    """A station's equipment and its sessions, sorted by arrival."""

    station_index: int
    archetype: str
    evse: Evse
    sessions: tuple[Session, ...]
