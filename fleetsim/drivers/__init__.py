"""Pure, seeded stochastic driver models (numpy): no I/O, no clock."""

from fleetsim.drivers.power import charge_power_w, offered_power_w, vehicle_max_power_w
from fleetsim.drivers.registry import DriverModel, load_model, plan_fleet
from fleetsim.drivers.session import Evse, Session, StationPlan, Vehicle

__all__ = [
    "DriverModel",
    "Evse",
    "Session",
    "StationPlan",
    "Vehicle",
    "charge_power_w",
    "load_model",
    "offered_power_w",
    "plan_fleet",
    "vehicle_max_power_w",
]
