"""An archetype's parameters as frozen records (what ``drivers_models/<name>.yaml`` holds).

Units are in the names. Times of day are local hours of the site [0, 24);
``sessions_per_connector_day`` is the arrival rate on a day whose
``dow_factors`` entry is 1.0 (Monday = index 0). Parsing and validation live in
:mod:`fleetsim.drivers.modelfile`; the session model in :mod:`fleetsim.drivers.archetype_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetsim.drivers.session import Evse

__all__ = [
    "AcVariant",
    "ArchetypeParams",
    "ArrivalParams",
    "Bucket",
    "Calibration",
    "EvseParams",
    "IdTagParams",
    "MarksParams",
    "OccupancyParams",
    "SocParams",
    "VehicleClass",
]


@dataclass(frozen=True, slots=True)
class EvseParams:
    max_power_kw: float
    phases: int
    voltage_v: float
    dc: bool
    connectors: int  # default for stations planned without a scenario

    def evse(self) -> Evse:
        return Evse(max_power_w=self.max_power_kw * 1000.0, phases=self.phases,
                    voltage_v=self.voltage_v, dc=self.dc)


@dataclass(frozen=True, slots=True)
class ArrivalParams:
    """Cox (gamma-mixed) non-homogeneous Poisson arrivals, or a Bernoulli roster.

    Per station and day, Λ = connectors x rate x dow x G with G ~ Gamma(r, 1/r)
    (G = 1 when ``gamma_shape_r`` is None). G is shared by the stations whose
    indices fall in one block of ``gamma_scope_stations`` (a site). ``bernoulli``:
    each connector gets at most one arrival a day, with probability rate x dow.
    """

    sessions_per_connector_day: float
    weekday_profile: tuple[float, ...]   # p[0..23], sums to 1
    weekend_profile: tuple[float, ...]
    dow_factors: tuple[float, ...]       # Monday..Sunday
    count_law: str                        # "poisson" | "bernoulli"
    gamma_shape_r: float | None
    gamma_scope_stations: int


@dataclass(frozen=True, slots=True)
class Bucket:
    """Marks of arrivals from ``from_h`` until the next bucket starts (wrapping at 24 h).

    Dwell is lognormal (``ln_dwell_mu``/``ln_dwell_sigma`` of hours, correlated with
    ln energy by ``rho``), or "until a departure time" N(``departure_mean_h``,
    ``departure_sd_h``) the next time that hour comes round, or (DC) derived.
    """

    from_h: float
    ln_energy_mu: float
    ln_energy_sigma: float
    ln_dwell_mu: float | None = None
    ln_dwell_sigma: float | None = None
    rho: float = 0.0
    departure_mean_h: float | None = None
    departure_sd_h: float | None = None


@dataclass(frozen=True, slots=True)
class Calibration:
    """Target marginal: quantiles ((p, value), …) and optionally its mean."""

    quantiles: tuple[tuple[float, float], ...]
    mean: float | None


@dataclass(frozen=True, slots=True)
class MarksParams:
    buckets: tuple[Bucket, ...]
    dwell_clip_h: tuple[float, float]
    energy_clip_kwh: tuple[float, float]
    dwell_from_charge: bool
    dc_idle_mean_min: float
    dwell_calibration: Calibration | None
    energy_calibration: Calibration | None


@dataclass(frozen=True, slots=True)
class AcVariant:
    phases: int
    max_a: float
    share: float


@dataclass(frozen=True, slots=True)
class VehicleClass:
    name: str
    share: float
    battery_kwh: tuple[float, float]
    ac: tuple[AcVariant, ...]
    dc_peak_kw: tuple[float, float]
    dc_taper_start_soc: float
    dc_taper_end_soc: float
    dc_taper_alpha: float
    ac_taper_soc: float


@dataclass(frozen=True, slots=True)
class SocParams:
    """SoC at arrival: Beta(a, b) if given, lowered so the wanted energy fits below
    ``stop SoC - U(end_gap)``; never below ``min_start``."""

    start_beta: tuple[float, float] | None
    end_gap: tuple[float, float]
    min_start: float
    efficiency: float


@dataclass(frozen=True, slots=True)
class IdTagParams:
    users_per_connector: float
    user_weight_gamma_k: float | None  # None: every user equally likely
    one_off_share: float

    def pool_size(self, connectors: int) -> int:
        return max(1, round(self.users_per_connector * connectors))


@dataclass(frozen=True, slots=True)
class OccupancyParams:
    policy: str               # "balk" | "queue"
    patience_mean_min: float  # queue: each driver waits up to Exp(mean) for a connector


@dataclass(frozen=True, slots=True)
class SwapParams:
    """A battery-swap station (OCPP 2.1 BatterySwap): its rack of packs and the swap."""

    rack_packs: int          # packs the station holds
    pack_kwh: float          # usable energy of one pack
    rack_charge_kw: float    # charging power per pack in the rack
    swap_min: float          # how long one swap takes
    out_min_soc: float       # a pack leaves the rack only this full
    soh: tuple[float, float]  # state of health of the packs, uniform in this range


@dataclass(frozen=True, slots=True)
class ArchetypeParams:
    name: str
    title: str
    evse: EvseParams
    arrival: ArrivalParams
    marks: MarksParams
    vehicles: tuple[VehicleClass, ...]
    soc: SocParams
    id_tags: IdTagParams
    occupancy: OccupancyParams
    source_file: str = ""
    iso15118_share: float = 0.0  # of the sessions: the car speaks ISO 15118
    pnc_share: float = 0.0       # of the sessions: … and authorizes by Plug & Charge
    swap: SwapParams | None = None  # a battery-swap station (2.1), else None
