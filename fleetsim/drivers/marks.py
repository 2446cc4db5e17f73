"""Session marks: (dwell, energy) given the arrival hour (ev-models.md §3.2).

Per arrival-hour bucket b, (ln D, ln E) ~ N2(μ_b, Σ_b) — or D runs until a
departure hour ~ N(mean, sd), or (DC) is derived later from the charge time.

Optional *marginal calibration* keeps that dependence structure (a Gaussian-
mixture copula) but maps each margin onto a published marginal: x ↦ Q(F(x)),
with F the bucket mixture's CDF and Q the target quantile function — linear in
(probit p, ln x) through the published quantiles, its lower tail continuing the
first segment and its upper-tail slope solved so the (clipped) mean matches the
published mean. The map is tabulated once at load time; sampling is one
``np.interp``. Why: the per-bucket lognormals of ev-models.md §1.3 miss the
datasets' own quantiles by up to 30 % (see the archetype notes).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.archetype import Calibration, MarksParams

__all__ = ["MarkSampler", "bucket_shares", "calibration_map"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_N = NormalDist()
_Z = np.linspace(-8.0, 8.0, 4001)
_PHI = np.exp(-0.5 * _Z * _Z) / np.sqrt(2.0 * np.pi) * (_Z[1] - _Z[0])


def bucket_shares(starts: list[float], profile: FloatArray) -> FloatArray:
    """Share of arrivals in each bucket [start_i, start_{i+1}) (wrapping) under ``profile``."""
    cdf = np.concatenate(([0.0], np.cumsum(profile)))

    def at(h: float) -> float:
        k = min(int(h), 23)
        return float(cdf[k] + profile[k] * (h - k))

    out = []
    for i, a in enumerate(starts):
        b = starts[(i + 1) % len(starts)]
        out.append(at(b) - at(a) if b > a else 1.0 - at(a) + at(b))
    return np.asarray(out)


def _target_ln(z: FloatArray, cal: Calibration, upper_slope: float) -> FloatArray:
    zq = np.array([_N.inv_cdf(p) for p, _ in cal.quantiles])
    lq = np.log([x for _, x in cal.quantiles])
    lower = (lq[1] - lq[0]) / (zq[1] - zq[0])
    y = np.interp(z, zq, lq)
    y = np.where(z < zq[0], lq[0] + (z - zq[0]) * lower, y)
    out: FloatArray = np.where(z > zq[-1], lq[-1] + (z - zq[-1]) * upper_slope, y)
    return out


def _upper_slope(cal: Calibration, clip: tuple[float, float]) -> float:
    """Upper-tail slope (ln x per z) giving the calibration's mean after clipping."""
    lq = np.log([x for _, x in cal.quantiles])
    zq = [_N.inv_cdf(p) for p, _ in cal.quantiles]
    default = float((lq[-1] - lq[-2]) / (zq[-1] - zq[-2]))
    if cal.mean is None:
        return default

    def mean(s: float) -> float:
        return float((np.clip(np.exp(_target_ln(_Z, cal, s)), *clip) * _PHI).sum())

    lo, hi = 0.0, 5.0
    if not mean(lo) <= cal.mean <= mean(hi):
        raise ValueError(f"mean {cal.mean:g} is not reachable with these quantiles "
                         f"(possible: {mean(lo):.3g} … {mean(hi):.3g})")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mean(mid) < cal.mean else (lo, mid)
    return 0.5 * (lo + hi)


def calibration_map(mu: FloatArray, sigma: FloatArray, weights: FloatArray, cal: Calibration,
                    clip: tuple[float, float]) -> tuple[FloatArray, FloatArray]:
    """Grid (ln x, ln Q(F(x))) for ``np.interp``: mixture of N(mu_b, sigma_b) → target."""
    grid = np.linspace(float(np.min(mu - 8 * sigma)), float(np.max(mu + 8 * sigma)), 2001)
    w = weights / weights.sum()
    cdf = sum((wb * np.array([_N.cdf((x - m) / s) for x in grid])
               for wb, m, s in zip(w, mu, sigma, strict=True)), np.zeros_like(grid))
    z = np.array([_N.inv_cdf(p) for p in np.clip(cdf, 1e-15, 1 - 1e-15)])
    return grid, _target_ln(z, cal, _upper_slope(cal, clip))


class MarkSampler:
    """Draws (dwell_h, energy_kwh) for arrivals at given local hours."""

    def __init__(self, m: MarksParams, *, profile: FloatArray) -> None:
        self.m = m
        b = m.buckets
        self.starts = np.array([x.from_h for x in b])
        self.mu_e = np.array([x.ln_energy_mu for x in b])
        self.sd_e = np.array([x.ln_energy_sigma for x in b])
        self.lognormal = np.array([x.ln_dwell_mu is not None for x in b])
        self.mu_d = np.array([x.ln_dwell_mu or 0.0 for x in b])
        self.sd_d = np.array([x.ln_dwell_sigma or 0.0 for x in b])
        self.rho = np.array([x.rho for x in b])
        self.dep_mean = np.array([x.departure_mean_h or 0.0 for x in b])
        self.dep_sd = np.array([x.departure_sd_h or 0.0 for x in b])
        self.shares = bucket_shares([x.from_h for x in b], profile)
        self.dwell_map = self.energy_map = None
        if m.dwell_calibration is not None:
            self.dwell_map = calibration_map(self.mu_d, self.sd_d, self.shares,
                                             m.dwell_calibration, m.dwell_clip_h)
        if m.energy_calibration is not None:
            self.energy_map = calibration_map(self.mu_e, self.sd_e, self.shares,
                                              m.energy_calibration, m.energy_clip_kwh)

    def bucket_of(self, hour: FloatArray) -> IntArray:
        k: IntArray = np.searchsorted(self.starts, hour, side="right") - 1
        out: IntArray = np.where(k < 0, len(self.starts) - 1, k)
        return out

    def sample(self, hour: FloatArray, z: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Dwell [h] (NaN where derived from charge time) and energy [kWh]; ``z`` is (n, 2) N(0,1)."""
        b = self.bucket_of(hour)
        z1, z2 = z[:, 0], z[:, 1]
        rho = np.where(self.lognormal[b], self.rho[b], 0.0)
        ln_e = self.mu_e[b] + self.sd_e[b] * (rho * z1 + np.sqrt(1.0 - rho * rho) * z2)
        ln_d = self.mu_d[b] + self.sd_d[b] * z1
        if self.energy_map is not None:
            ln_e = np.interp(ln_e, *self.energy_map)
        if self.dwell_map is not None:
            ln_d = np.interp(ln_d, *self.dwell_map)
        until = (self.dep_mean[b] + self.dep_sd[b] * z1 - hour) % 24.0
        dwell = np.where(self.lognormal[b], np.exp(ln_d), until)
        if self.m.dwell_from_charge:
            dwell = np.full_like(hour, np.nan)
        else:
            dwell = np.clip(dwell, *self.m.dwell_clip_h)
        energy: FloatArray = np.clip(np.exp(ln_e), *self.m.energy_clip_kwh)
        return dwell, energy
