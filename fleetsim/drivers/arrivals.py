"""Arrival times: a Cox (gamma-mixed) non-homogeneous Poisson process per station.

For station s and local calendar day d (day 0 is the epoch's date)::

    Λ_{s,d} = connectors x rate x dow[weekday(d)] x G_d,   G_d ~ Gamma(r, 1/r)  (G = 1 if r is None)
    N_{s,d} ~ Poisson(Λ_{s,d})        (``bernoulli``: N ~ Binomial(connectors, rate x dow))
    hour ~ the day's 24-bin profile, uniform within its hour

So N is NegBin(mean, r) (ev-models.md §3.1). Days are planned one at a time, in
order (:mod:`fleetsim.drivers.window`). G_d is drawn from the station's own stream
at the start of its day, or — when ``gamma_scope_stations`` > 1 — shared by a *site*:
the block of station indices [k·S, (k+1)·S), whose factor for day d comes from
stream (:data:`SITE_STREAM`, d) of the block's first index, so no station's draws
depend on which other stations exist or how far ahead anyone plans.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.archetype import ArrivalParams

__all__ = ["SITE_STREAM", "ArrivalSampler"]

SITE_STREAM = 4  # SeedSequence(seed, (site's first index, 4, day)): a site's day factor

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class ArrivalSampler:
    """Arrival draws for one archetype, one local day at a time."""

    def __init__(self, p: ArrivalParams, *, start_weekday: int, start_hour: float) -> None:
        self.p, self.start_weekday, self.start_hour = p, start_weekday, start_hour
        self._cdf = [np.concatenate(([0.0], np.cumsum(prof))) for prof in
                     (p.weekday_profile, p.weekend_profile)]
        for cdf in self._cdf:
            cdf /= cdf[-1]
        self._sites: dict[tuple[int, int, int], float] = {}

    def window(self, day: int) -> tuple[float, float]:
        """[start, end) of local day ``day`` in seconds since the epoch."""
        t0 = day * 86400.0 - self.start_hour * 3600.0
        return t0, t0 + 86400.0

    def rate_per_connector(self, day: int) -> float:
        return float(self.p.sessions_per_connector_day
                     * self.p.dow_factors[(self.start_weekday + day) % 7])

    def day_factor(self, seed: int, index: int, day: int,
                   rng: np.random.Generator) -> float | None:
        """G_d for station ``index`` (None: no mixing); per-station factors come from ``rng``."""
        r, scope = self.p.gamma_shape_r, self.p.gamma_scope_stations
        if r is None:
            return None
        if scope == 1:
            return float(rng.standard_gamma(r)) / r
        key = (seed, index // scope * scope, day)
        g = self._sites.get(key)
        if g is None:
            if len(self._sites) > 4096:  # only the days being planned matter
                self._sites.clear()
            site = np.random.Generator(np.random.PCG64(
                np.random.SeedSequence(seed, spawn_key=(key[1], SITE_STREAM, day))))
            g = self._sites[key] = float(site.standard_gamma(r)) / r
        return g

    def count(self, rng: np.random.Generator, connectors: int, day: int,
              factor: float | None) -> int:
        """Arrivals of one station on ``day``."""
        rate = self.rate_per_connector(day)
        if self.p.count_law == "bernoulli":
            return int(rng.binomial(connectors, min(1.0, rate)))
        lam = connectors * rate * (1.0 if factor is None else factor)
        return int(rng.poisson(lam))

    def times(self, day: IntArray, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(seconds since the epoch, local hour of day) for arrivals on ``day`` with uniforms ``u``."""
        hour = np.empty_like(u)
        weekend = (self.start_weekday + day) % 7 >= 5
        for flag, cdf in zip((False, True), self._cdf, strict=True):
            m = weekend == flag
            uu = u[m]
            k = np.minimum(np.searchsorted(cdf[1:], uu, side="right"), 23)
            width = cdf[k + 1] - cdf[k]
            frac = np.where(width > 0, (uu - cdf[k]) / np.where(width > 0, width, 1.0), 0.5)
            hour[m] = k + np.clip(frac, 0.0, 1.0 - 1e-9)
        t_s: FloatArray = (day * 86400.0 + hour * 3600.0) - self.start_hour * 3600.0
        return t_s, hour
