"""Charging power physics (ev-models.md §3.4): pure functions, no clock.

P(t) = min(EVSE limit, charging-profile limit, vehicle curve at SoC). The vehicle
curve is piecewise linear in SoC: flat at the peak up to ``s1``, linear down to
``alpha x peak`` at ``s2``, then linear down to 0 at SoC 1. AC uses
s1 = s2 = ``ac_taper_soc`` and alpha = 1 (ACN-Sim ``Linear2StageBattery``).
Energy and SoC are integrated by :class:`fleetsim.drivers.charge.ChargeState`.

On AC the car draws ``min(car phases, EVSE phases) x min(car A, EVSE A) x V``:
a single-phase 32 A car on a 3 x 16 A wallbox gets 16 A on one phase (3.7 kW),
not 7.4 kW (§3.4: "a vehicle may draw below the pilot").
"""

from __future__ import annotations

from itertools import pairwise

from fleetsim.drivers.session import Evse, Vehicle

__all__ = [
    "AC_END_SOC",
    "CHARGE_EFFICIENCY",
    "DC_TARGET_SOC",
    "charge_power_w",
    "curve_points",
    "offered_power_w",
    "stop_soc",
    "vehicle_max_power_w",
    "vehicle_peak_power_w",
]

CHARGE_EFFICIENCY = 0.90  # grid → battery (emobpy default, ev-models.md §2.3)
DC_TARGET_SOC = 0.8       # fast chargers stop at 80 % (ev-models.md §3.3)
# AC charges to "full": the ACN-Sim taper reaches 0 W only at SoC 1, which takes
# forever, so the car stops at 99.5 %, where it draws 2.5 % of its peak (~0.8 A of
# 32 A), as on-board chargers end the CV phase at about 1 A.
AC_END_SOC = 0.995


def stop_soc(evse: Evse) -> float:
    """SoC at which a car ends charging on this EVSE (0.8 DC, ~1.0 AC)."""
    return DC_TARGET_SOC if evse.dc else AC_END_SOC


def vehicle_peak_power_w(v: Vehicle, evse: Evse) -> float:
    """The flat part of the car's curve on this EVSE [W], before the EVSE power cap.

    DC: the car's peak (0 if it cannot fast-charge). AC: phases x current x V with
    both phases and per-phase current limited by the car and the EVSE.
    """
    if evse.dc:
        return max(0.0, v.dc_peak_kw * 1000.0)
    phases = min(v.ac_phases, evse.phases)
    return phases * min(v.ac_max_a, evse.max_current_a) * evse.voltage_v


def curve_points(v: Vehicle, evse: Evse) -> tuple[tuple[float, float], ...]:
    """Breakpoints (SoC, W) of the car's acceptance curve; linear in between."""
    peak = vehicle_peak_power_w(v, evse)
    if evse.dc:
        s1, s2, alpha = v.dc_taper_start_soc, v.dc_taper_end_soc, v.dc_taper_alpha
    else:
        s1 = s2 = v.ac_taper_soc
        alpha = 1.0
    return ((0.0, peak), (s1, peak), (s2, alpha * peak), (1.0, 0.0))


def vehicle_max_power_w(v: Vehicle, soc: float, evse: Evse) -> float:
    """What the car accepts at ``soc`` on this EVSE [W] (0 when full or DC-incapable on DC)."""
    if soc >= 1.0:
        return 0.0
    pts = curve_points(v, evse)
    soc = max(0.0, soc)
    for (x0, p0), (x1, p1) in pairwise(pts):
        if soc <= x1 and x1 > x0:
            return p0 + (p1 - p0) * (soc - x0) / (x1 - x0)
    return 0.0


def offered_power_w(evse: Evse, limit_w: float | None) -> float:
    """EVSE capacity reduced by a charging-profile limit [W] (None: no profile)."""
    return evse.max_power_w if limit_w is None else max(0.0, min(evse.max_power_w, limit_w))


def charge_power_w(v: Vehicle, soc: float, evse: Evse, limit_w: float | None) -> float:
    """Power drawn from the grid [W] = min(EVSE, profile limit, vehicle curve)."""
    return min(offered_power_w(evse, limit_w), vehicle_max_power_w(v, soc, evse))
