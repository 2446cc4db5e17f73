"""Integrating the charging curve exactly: a car's energy and SoC over time.

Between breakpoints the grid power ``P(s) = min(L, curve(s))`` is constant or
linear in SoC ``s``, and ``ds/dt = η·P(s)/B``; so SoC grows linearly or along an
exponential, and the time to reach a SoC has a closed form. Nothing is
sub-stepped numerically: energy is exact to floating point, whatever ``dt``.

:class:`ChargeState` is what the station core advances between meter samples;
:func:`charge_time_h` is the same law vectorised over sessions, for planning.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.power import (
    CHARGE_EFFICIENCY,
    curve_points,
    offered_power_w,
    stop_soc,
)
from fleetsim.drivers.session import Evse, Session, Vehicle

__all__ = ["ChargeState", "ChargeStep", "charge_time_h"]

FloatArray = npt.NDArray[np.float64]


class ChargeStep(NamedTuple):
    """What one :meth:`ChargeState.advance` delivered."""

    energy_wh: int   # register increment [Wh]; Σ increments == round(total delivered)
    power_w: float   # mean grid power over the interval [W]: power_w · dt == exact ΔE


class ChargeState:
    """A plugged-in car being charged: SoC and delivered energy, advanced in time.

    Charging stops when ``wanted_wh`` has been delivered or the car reaches its
    stop SoC (0.8 on DC, 0.995 on AC, see :data:`~fleetsim.drivers.power.AC_END_SOC`);
    :attr:`done` is then true and the car idles (``SuspendedEV``) until it leaves.
    Report :attr:`ChargeStep.power_w` (the interval's mean power) in MeterValues so
    that Σ P·dt matches the energy register; :meth:`power_w` is the instantaneous value.
    """

    __slots__ = ("_battery_wh", "_points", "_reported_wh", "_soc_wanted", "efficiency",
                 "evse", "soc", "soc_start", "stop_soc", "vehicle", "wanted_wh")

    def __init__(self, vehicle: Vehicle, evse: Evse, *, soc: float, wanted_wh: float,
                 efficiency: float | None = None) -> None:
        efficiency = vehicle.efficiency if efficiency is None else efficiency
        if not 0.0 <= soc <= 1.0 or wanted_wh < 0 or not 0.0 < efficiency <= 1.0:
            raise ValueError("need 0 <= soc <= 1, wanted_wh >= 0 and 0 < efficiency <= 1")
        self.vehicle, self.evse, self.efficiency = vehicle, evse, efficiency
        self.soc = self.soc_start = soc
        self.wanted_wh = wanted_wh
        self.stop_soc = max(soc, stop_soc(evse))
        self._battery_wh = vehicle.battery_kwh * 1000.0
        self._points = curve_points(vehicle, evse)
        self._soc_wanted = soc + wanted_wh * efficiency / self._battery_wh
        self._reported_wh = 0

    @classmethod
    def for_session(cls, session: Session, evse: Evse) -> ChargeState:
        """The state at plug-in of a planned session."""
        return cls(session.vehicle, evse, soc=session.soc_start,
                   wanted_wh=session.energy_kwh * 1000.0)

    @property
    def delivered_wh(self) -> float:
        """Grid energy delivered since plug-in [Wh], exact (not rounded)."""
        return (self.soc - self.soc_start) * self._battery_wh / self.efficiency

    @property
    def register_wh(self) -> int:
        """Σ of the increments returned so far [Wh]."""
        return self._reported_wh

    @property
    def room_wh(self) -> float:
        """Grid energy until :attr:`done` [Wh] (after a V2X discharge: the exported energy
        too, which the delivered energy alone would not tell)."""
        return (min(self._soc_wanted, self.stop_soc) - self.soc) * self._battery_wh / self.efficiency

    @property
    def done(self) -> bool:
        """True once the wanted energy is in or the car is full: it idles until departure."""
        return self.soc >= min(self._soc_wanted, self.stop_soc) - 1e-12

    def power_w(self, limit_w: float | None = None) -> float:
        """Instantaneous grid power now [W] under ``limit_w`` (0 when done)."""
        if self.done:
            return 0.0
        return self._piece(self.soc, offered_power_w(self.evse, limit_w))[1]

    def line_current_a(self, power_w: float) -> float:
        """Per-phase current [A] that carries ``power_w`` (DC: the DC current)."""
        if self.evse.dc:
            return power_w / self.evse.voltage_v
        phases = min(self.vehicle.ac_phases, self.evse.phases)
        return power_w / (phases * self.evse.voltage_v)

    def advance(self, dt_s: float, limit_w: float | None = None) -> ChargeStep:
        """Charge for ``dt_s`` seconds under ``limit_w`` (None: EVSE capacity only)."""
        if dt_s < 0:
            raise ValueError("dt_s must be >= 0")
        before = self.delivered_wh
        limit = offered_power_w(self.evse, limit_w)
        rem_h = dt_s / 3600.0
        k_soc = self.efficiency / self._battery_wh  # dSoC per Wh from the grid
        while rem_h > 0.0 and not self.done:
            target = min(self._soc_wanted, self.stop_soc)
            piece_end, p, slope = self._piece(self.soc, limit)
            if p < 1e-3:  # below a milliwatt nothing flows (and k_soc * p may underflow)
                break
            end = min(piece_end, target)
            if slope == 0.0:
                t_h = (end - self.soc) / (k_soc * p)
            else:
                t_h = math.log((p + slope * (end - self.soc)) / p) / (k_soc * slope)
            if end <= self.soc:
                break
            if t_h <= rem_h:
                self.soc, rem_h = end, rem_h - t_h
            elif slope == 0.0:
                self.soc, rem_h = min(end, self.soc + k_soc * p * rem_h), 0.0
            else:
                grow = math.expm1(slope * k_soc * rem_h) * p / slope
                self.soc, rem_h = min(end, self.soc + grow), 0.0
        after = self.delivered_wh
        total = round(after)
        step = total - self._reported_wh
        self._reported_wh = total
        power = (after - before) * 3600.0 / dt_s if dt_s > 0 else 0.0
        return ChargeStep(energy_wh=step, power_w=power)

    def discharge(self, energy_wh: float, min_soc: float) -> float:
        """V2X: feed up to ``energy_wh`` back to the grid, never below ``min_soc``; the
        energy exported [Wh]. The battery gives ``energy / efficiency``; what was delivered
        so far stays delivered, and the car wants the exported energy back (its target SoC
        is unchanged), so it charges again when the discharge ends."""
        k_soc = 1.0 / (self.efficiency * self._battery_wh)  # SoC per exported Wh
        room_wh = max(0.0, self.soc - min_soc) / k_soc
        out = min(max(0.0, energy_wh), room_wh)
        drop = out * k_soc
        self.soc -= drop
        self.soc_start -= drop  # keeps delivered_wh (grid import) where it was
        return out

    def _piece(self, soc: float, limit: float) -> tuple[float, float, float]:
        """(end SoC, power at ``soc``, dP/dSoC) of the constant or linear piece at ``soc``."""
        pts = self._points
        for (x0, p0), (x1, p1) in pairwise(pts):
            if x1 <= x0 or soc >= x1:
                continue
            slope = (p1 - p0) / (x1 - x0)
            p = p0 + slope * (soc - x0)
            if p > limit:  # clamped by the EVSE/profile until the curve falls below it
                cross = x1 if slope >= 0.0 else x0 + (limit - p0) / slope
                if cross > soc + 1e-12:  # else: at the crossing already, follow the curve
                    return min(x1, cross), limit, 0.0
            return x1, min(p, limit), slope
        return 1.0, 0.0, 0.0


def _segment_time(a: FloatArray, b: FloatArray, x0: FloatArray, x1: FloatArray,
                  p0: FloatArray, p1: FloatArray, limit: FloatArray) -> FloatArray:
    """∫ ds / min(limit, p(s)) over [a, b] ∩ [x0, x1], p linear from p0 to p1 [SoC/W]."""
    u, v = np.clip(a, x0, x1), np.clip(b, x0, x1)
    span = x1 - x0
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(span > 0, (p1 - p0) / np.where(span > 0, span, 1.0), 0.0)
        cross = np.where(p0 <= limit, x0, np.where(
            p1 >= limit, x1, x0 + (limit - p0) / np.where(slope != 0, slope, -1.0)))
        clamped = np.maximum(np.minimum(v, cross) - u, 0.0) / limit
        lu = np.maximum(u, cross)
        lv = np.maximum(v, lu)
        pu, pv = p0 + slope * (lu - x0), p0 + slope * (lv - x0)
        linear = np.where(slope != 0, np.log(pv / pu) / slope, (lv - lu) / p0)
    out: FloatArray = clamped + np.where(lv > lu, linear, 0.0)
    return out


def charge_time_h(soc_from: FloatArray, soc_to: FloatArray, *, battery_kwh: FloatArray,
                  peak_w: FloatArray, limit_w: FloatArray, taper_start_soc: FloatArray,
                  taper_end_soc: FloatArray, taper_alpha: FloatArray,
                  efficiency: float = CHARGE_EFFICIENCY) -> FloatArray:
    """Hours to charge from ``soc_from`` to ``soc_to`` (< 1) at min(limit, curve).

    The curve is the one of :func:`~fleetsim.drivers.power.curve_points` (AC: pass
    taper_start = taper_end = ac_taper_soc and alpha = 1). Arrays broadcast.
    """
    zero, one = np.zeros_like(soc_from), np.ones_like(soc_from)
    s1, s2 = taper_start_soc * one, taper_end_soc * one
    low = peak_w * taper_alpha
    total = (_segment_time(soc_from, soc_to, zero, s1, peak_w * one, peak_w * one, limit_w * one)
             + _segment_time(soc_from, soc_to, s1, s2, peak_w * one, low * one, limit_w * one)
             + _segment_time(soc_from, soc_to, s2, one, low * one, zero, limit_w * one))
    out: FloatArray = total * battery_kwh * 1000.0 / efficiency
    return out
