"""Pure, seeded stochastic driver models (numpy): no clock; I/O only to read model files
(:mod:`~fleetsim.drivers.modelfile`) and write the session table (:mod:`~fleetsim.drivers.table`)."""

from fleetsim.drivers.archetype_model import ArchetypeModel
from fleetsim.drivers.charge import ChargeState, ChargeStep, charge_time_h
from fleetsim.drivers.idtags import id_tag_pool
from fleetsim.drivers.power import (
    charge_power_w,
    offered_power_w,
    stop_soc,
    vehicle_max_power_w,
    vehicle_peak_power_w,
)
from fleetsim.drivers.registry import (
    DEFAULT_EPOCH,
    DriverModel,
    archetype_fleet,
    known_models,
    load_model,
    plan_archetype,
    plan_fleet,
)
from fleetsim.drivers.session import Evse, PlanStats, Session, StationPlan, Vehicle
from fleetsim.drivers.table import plan_hash, sessions_csv

__all__ = [
    "DEFAULT_EPOCH",
    "ArchetypeModel",
    "ChargeState",
    "ChargeStep",
    "DriverModel",
    "Evse",
    "PlanStats",
    "Session",
    "StationPlan",
    "Vehicle",
    "archetype_fleet",
    "charge_power_w",
    "charge_time_h",
    "id_tag_pool",
    "known_models",
    "load_model",
    "offered_power_w",
    "plan_archetype",
    "plan_fleet",
    "plan_hash",
    "sessions_csv",
    "stop_soc",
    "vehicle_max_power_w",
    "vehicle_peak_power_w",
]
