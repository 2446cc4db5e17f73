"""Which car comes, how full it is, and how long it needs (ev-models.md §3.3).

Vectorised over sessions. The class is drawn from the mix *among the classes
whose largest battery can take the wanted energy* (a 12 kWh PHEV cannot take
30 kWh), so the published energy law survives and the vehicle mix bends a
little instead. The battery is uniform on the class range, truncated below at
what the energy needs. SoC at arrival is ``min(Beta(a, b), stop - η·E/B - gap)``,
at least ``min_start``; the wanted energy is then capped at what fits below the
stop SoC (0.8 DC, 0.995 AC). ev-models.md §3.3 writes ``1 - E/(η·B)`` and
``η·B·(target - SoC)``: η on the wrong side — the battery receives η·E.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.archetype import SocParams, VehicleClass
from fleetsim.drivers.charge import charge_time_h
from fleetsim.drivers.power import stop_soc
from fleetsim.drivers.session import Evse, Vehicle

__all__ = ["FleetDraw", "FleetMix"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class FleetDraw:
    """Per-session vehicle and charge figures (parallel arrays)."""

    cls: IntArray
    battery_kwh: FloatArray
    ac_phases: IntArray
    ac_max_a: FloatArray
    dc_peak_kw: FloatArray
    soc_start: FloatArray
    energy_kwh: FloatArray      # wanted, capped to what fits in the battery [kWh]
    charge_h: FloatArray        # uncontrolled time to deliver energy_kwh [h]


class FleetMix:
    """The vehicle mix of an archetype on its EVSE."""

    def __init__(self, classes: tuple[VehicleClass, ...], evse: Evse, soc: SocParams, *,
                 iso15118: tuple[float, float] = (0.0, 0.0)) -> None:
        self.classes, self.evse, self.soc = classes, evse, soc
        self.iso15118 = iso15118  # the archetype's (ISO 15118, Plug & Charge) shares
        self.stop = stop_soc(evse)
        self.share = np.array([c.share for c in classes])
        self.b_lo = np.array([c.battery_kwh[0] for c in classes])
        self.b_hi = np.array([c.battery_kwh[1] for c in classes])
        self.dc_lo = np.array([c.dc_peak_kw[0] for c in classes])
        self.dc_hi = np.array([c.dc_peak_kw[1] for c in classes])
        width = max(len(c.ac) for c in classes)
        self.ac_cum = np.ones((len(classes), width))
        self.ac_phases = np.ones((len(classes), width), dtype=np.int64)
        self.ac_amps = np.full((len(classes), width), 6.0)
        for i, c in enumerate(classes):
            s = np.cumsum([v.share for v in c.ac])
            self.ac_cum[i, :len(c.ac)] = s / s[-1]
            self.ac_phases[i, :len(c.ac)] = [v.phases for v in c.ac]
            self.ac_amps[i, :len(c.ac)] = [v.max_a for v in c.ac]
        if evse.dc:
            self.s1 = np.array([c.dc_taper_start_soc for c in classes])
            self.s2 = np.array([c.dc_taper_end_soc for c in classes])
            self.alpha = np.array([c.dc_taper_alpha for c in classes])
        else:
            self.s1 = self.s2 = np.array([c.ac_taper_soc for c in classes])
            self.alpha = np.ones(len(classes))

    def sample(self, energy_kwh: FloatArray, u: FloatArray, beta: FloatArray | None) -> FleetDraw:
        """Draw cars for sessions wanting ``energy_kwh``; ``u`` is (n, 5) U(0,1), ``beta`` Beta draws."""
        eta, room = self.soc.efficiency, self.stop - self.soc.min_start
        fits = energy_kwh[:, None] * eta <= room * self.b_hi[None, :]
        w = self.share[None, :] * fits
        w = np.where(w.sum(axis=1, keepdims=True) > 0, w, self.share[None, :])
        cum = np.cumsum(w, axis=1)
        cls = np.minimum((cum < u[:, :1] * cum[:, -1:]).sum(axis=1), len(self.classes) - 1)
        lo = np.clip(energy_kwh * eta / room, self.b_lo[cls], self.b_hi[cls])
        battery = np.round(lo + u[:, 1] * (self.b_hi[cls] - lo), 1)
        variant = np.minimum((self.ac_cum[cls] < u[:, 2:3]).sum(axis=1), self.ac_cum.shape[1] - 1)
        phases = self.ac_phases[cls, variant]
        amps = self.ac_amps[cls, variant]
        dc_peak = np.round(self.dc_lo[cls] + u[:, 3] * (self.dc_hi[cls] - self.dc_lo[cls]))
        g_lo, g_hi = self.soc.end_gap
        soc = self.stop - eta * energy_kwh / battery - (g_lo + u[:, 4] * (g_hi - g_lo))
        if beta is not None:
            soc = np.minimum(soc, beta)
        soc = np.round(np.clip(soc, self.soc.min_start, self.stop), 4)
        energy = np.round(np.minimum(energy_kwh, (self.stop - soc) * battery / eta), 3)
        e = self.evse
        if e.dc:
            peak = dc_peak * 1000.0
        else:
            peak = np.minimum(phases, e.phases) * np.minimum(amps, e.max_current_a) * e.voltage_v
        soc_end = np.minimum(soc + energy * eta / battery, self.stop)
        charge = charge_time_h(soc, soc_end, battery_kwh=battery, peak_w=peak,
                               limit_w=np.full_like(peak, e.max_power_w),
                               taper_start_soc=self.s1[cls], taper_end_soc=self.s2[cls],
                               taper_alpha=self.alpha[cls], efficiency=eta)
        return FleetDraw(cls=cls, battery_kwh=battery, ac_phases=phases, ac_max_a=amps,
                         dc_peak_kw=dc_peak, soc_start=soc, energy_kwh=energy,
                         charge_h=charge)

    def vehicles(self, d: FleetDraw, rows: IntArray) -> list[Vehicle]:
        """The (shared, immutable) Vehicle record of each of ``rows``: one per distinct car."""
        cols = (d.cls[rows], np.round(d.battery_kwh[rows] * 10).astype(np.int64),
                d.ac_phases[rows], np.round(d.ac_max_a[rows] * 10).astype(np.int64),
                np.round(d.dc_peak_kw[rows]).astype(np.int64))
        key = cols[0]
        for col, span in zip(cols[1:], (1 << 14, 4, 1 << 11, 1 << 11), strict=True):
            key = key * span + col
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        made = []
        for r in rows[first].tolist():
            c = self.classes[int(d.cls[r])]
            made.append(Vehicle(
                c.name, float(d.battery_kwh[r]), int(d.ac_phases[r]), float(d.ac_max_a[r]),
                float(d.dc_peak_kw[r]), c.dc_taper_start_soc, c.dc_taper_end_soc,
                c.dc_taper_alpha, c.ac_taper_soc, self.soc.efficiency, *self.iso15118))
        return [made[i] for i in inverse.tolist()]
