"""Charging power physics (ev-models.md §3.4): pure functions, no clock.

P(t) = min(EVSE limit, charging-profile limit, vehicle curve at SoC). Energy and
SoC are integrated by the caller (the station core) over its own time steps.
"""

from __future__ import annotations

from fleetsim.drivers.session import Evse, Vehicle

__all__ = ["CHARGE_EFFICIENCY", "vehicle_max_power_w", "offered_power_w", "charge_power_w"]

CHARGE_EFFICIENCY = 0.90  # grid → battery (emobpy default, ev-models.md §2.3)


def vehicle_max_power_w(v: Vehicle, soc: float, evse: Evse) -> float:
    """What the car accepts at ``soc`` on this EVSE [W] (0 when full or DC-incapable on DC)."""
    if soc >= 1.0:
        return 0.0
    if evse.dc:
        if v.dc_peak_kw <= 0:
            return 0.0
        peak = v.dc_peak_kw * 1000.0
        s1, s2, a = v.dc_taper_start_soc, v.dc_taper_end_soc, v.dc_taper_alpha
        if soc <= s1:
            return peak
        if soc <= s2:
            return peak * (1.0 - (1.0 - a) * (soc - s1) / (s2 - s1))
        return a * peak * (1.0 - soc) / (1.0 - s2)
    phases = min(v.ac_phases, evse.phases)
    peak = phases * v.ac_max_a * evse.voltage_v
    if soc <= v.ac_taper_soc:
        return peak
    return peak * (1.0 - soc) / (1.0 - v.ac_taper_soc)


def offered_power_w(evse: Evse, limit_w: float | None) -> float:
    """EVSE capacity reduced by a charging-profile limit [W] (None: no profile)."""
    return evse.max_power_w if limit_w is None else max(0.0, min(evse.max_power_w, limit_w))


def charge_power_w(v: Vehicle, soc: float, evse: Evse, limit_w: float | None) -> float:
    """Power drawn from the grid [W] = min(EVSE, profile limit, vehicle curve)."""
    return min(offered_power_w(evse, limit_w), vehicle_max_power_w(v, soc, evse))
