"""Arrival times: a Cox (gamma-mixed) non-homogeneous Poisson process per station.

For station s and local calendar day d (day 0 is the epoch's date)::

    Λ_{s,d} = connectors x rate x dow[weekday(d)] x G_d,   G_d ~ Gamma(r, 1/r)  (G = 1 if r is None)
    N_{s,d} ~ Poisson(Λ_{s,d})        (``bernoulli``: N ~ Binomial(connectors, rate x dow))
    hour ~ the day's 24-bin profile, uniform within its hour

So N is NegBin(mean, r) (ev-models.md §3.1). G_d is drawn from the station's own
stream 0, or — when ``gamma_scope_stations`` > 1 — shared by a *site*: the block
of station indices [k·S, (k+1)·S), whose day factors come from stream
:data:`SITE_STREAM` of the block's first index, so no station's draws depend on
which other stations exist.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.archetype import ArrivalParams

__all__ = ["SITE_STREAM", "ArrivalSampler"]

SITE_STREAM = 4  # StationSpec.stream(4) of a site's first station: its day factors

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class ArrivalSampler:
    """Arrival draws for one archetype over one planning window."""

    def __init__(self, p: ArrivalParams, *, horizon_s: float, start_weekday: int,
                 start_hour: float) -> None:
        self.p, self.horizon_s, self.start_hour = p, horizon_s, start_hour
        self.n_days = max(1, math.ceil((start_hour * 3600.0 + horizon_s) / 86400.0))
        weekday = (start_weekday + np.arange(self.n_days)) % 7
        self.weekend = weekday >= 5
        self.rate_per_connector = p.sessions_per_connector_day * np.asarray(p.dow_factors)[weekday]
        self.days = np.arange(self.n_days, dtype=np.int64)
        self._cdf = [np.concatenate(([0.0], np.cumsum(prof))) for prof in
                     (p.weekday_profile, p.weekend_profile)]
        for cdf in self._cdf:
            cdf /= cdf[-1]
        self._sites: dict[tuple[int, int], FloatArray] = {}

    def day_factors(self, seed: int, index: int, rng: np.random.Generator) -> FloatArray | None:
        """G_d for station ``index`` (None: no mixing); per-station factors come from ``rng``."""
        r, scope = self.p.gamma_shape_r, self.p.gamma_scope_stations
        if r is None:
            return None
        if scope == 1:
            g: FloatArray = rng.standard_gamma(r, self.n_days) / r
            return g
        key = (seed, index // scope * scope)
        if key not in self._sites:
            site = np.random.Generator(np.random.PCG64(
                np.random.SeedSequence(seed, spawn_key=(key[1], SITE_STREAM))))
            self._sites[key] = site.standard_gamma(r, self.n_days) / r
        return self._sites[key]

    def counts(self, rng: np.random.Generator, connectors: int,
               factors: FloatArray | None) -> IntArray:
        """Arrivals per day for one station."""
        if self.p.count_law == "bernoulli":
            out: IntArray = rng.binomial(connectors, self.rate_per_connector)
            return out
        lam = connectors * self.rate_per_connector
        if factors is not None:
            lam = lam * factors
        out = rng.poisson(lam)
        return out

    def times(self, day: IntArray, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(seconds since the epoch, local hour of day) for arrivals on ``day`` with uniforms ``u``."""
        hour = np.empty_like(u)
        weekend = self.weekend[day]
        for flag, cdf in zip((False, True), self._cdf, strict=True):
            m = weekend == flag
            uu = u[m]
            k = np.minimum(np.searchsorted(cdf[1:], uu, side="right"), 23)
            width = cdf[k + 1] - cdf[k]
            frac = np.where(width > 0, (uu - cdf[k]) / np.where(width > 0, width, 1.0), 0.5)
            hour[m] = k + np.clip(frac, 0.0, 1.0 - 1e-9)
        t_s: FloatArray = (day * 86400.0 + hour * 3600.0) - self.start_hour * 3600.0
        return t_s, hour
