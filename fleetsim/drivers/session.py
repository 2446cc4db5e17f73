"""What a driver model produces: vehicles, EVSEs and planned charging sessions.

Times are *simulated* seconds since the plan's epoch (the scenario's clock start).
These are plain frozen records; the station core consumes them and the power
physics live in :mod:`fleetsim.drivers.power`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetsim.drivers.window import SessionFeed

__all__ = ["Evse", "PlanStats", "Session", "StationPlan", "Vehicle"]


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A car as the charger sees it. Taper follows ev-models.md §3.4.

    ``dc_peak_kw`` 0 means the car cannot fast-charge. AC charging is limited to
    ``ac_phases x ac_max_a x voltage``; both AC and DC taper after ``taper_soc``
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
    efficiency: float = 0.90          # grid → battery (emobpy default, ev-models.md §2.3)
    # the archetype's shares of cars that speak ISO 15118 / use Plug & Charge; which
    # sessions do is drivers.iso15118mix.protocol (a stable hash: the plan's streams stay)
    iso15118_share: float = 0.0
    pnc_share: float = 0.0


@dataclass(frozen=True, slots=True)
class Evse:
    """The station's charging equipment per connector.

    ``voltage_v`` is the voltage across each phase's load for AC: 230 V phase-to-neutral
    in the EU; a US 208 V or 240 V Level-2 EVSE is one phase at 208/240 V (ACN's
    Caltech site: 1 x 32 A x 208 V = 6.66 kW). For DC it is the nominal DC voltage.
    ``max_power_w`` caps the connector.
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
    """A station's equipment and its sessions, sorted by arrival (plug-in time).

    The counters are validation outputs (ev-models.md §3.1, §3.4): arrivals that
    found every connector busy and left (``balked``), arrivals that waited for a
    connector (``queued``, for ``queue_wait_s`` seconds in all; their session's
    ``arrival_s`` is the plug-in time), and sessions whose wanted energy cannot be
    delivered within their stay even at full power (``unsatisfied``).
    """

    station_index: int
    archetype: str
    evse: Evse
    sessions: tuple[Session, ...]
    balked: int = 0
    queued: int = 0
    queue_wait_s: float = 0.0
    unsatisfied: int = 0
    feed: SessionFeed | None = None


@dataclass(frozen=True, slots=True)
class PlanStats:
    """Totals over a set of station plans."""

    stations: int
    sessions: int
    balked: int
    queued: int
    queue_wait_s: float
    unsatisfied: int
    energy_kwh: float
    sessions_by_archetype: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, plans: Iterable[StationPlan]) -> PlanStats:
        plans = list(plans)
        by_arch: dict[str, int] = {}
        for p in plans:
            by_arch[p.archetype] = by_arch.get(p.archetype, 0) + len(p.sessions)
        return cls(stations=len(plans), sessions=sum(len(p.sessions) for p in plans),
                   balked=sum(p.balked for p in plans), queued=sum(p.queued for p in plans),
                   queue_wait_s=sum(p.queue_wait_s for p in plans),
                   unsatisfied=sum(p.unsatisfied for p in plans),
                   energy_kwh=sum(s.energy_kwh for p in plans for s in p.sessions),
                   sessions_by_archetype=tuple(sorted(by_arch.items())))
