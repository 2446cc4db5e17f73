"""The archetype session model (ev-models.md §3): stations → planned sessions.

Random streams (never the global ``np.random``): every station draws only from
its own ``StationSpec.stream(j)`` — 0 day factors, counts and arrival hours; 1
marks (two normals a session) and two exponentials (DC idle, queue patience);
2 the car (five uniforms, plus a Beta draw when configured); 3 the user
pool's weights, then two uniforms and 48 random bits a session — in that order,
a fixed number of draws per arrival. Site-shared day factors come from stream 4
of the site's first station (:mod:`fleetsim.drivers.arrivals`). So a seed gives
the same plan byte for byte, and adding a station never changes another's.

The draws are made per station (cheap: a handful of numpy calls each) and
everything else — profiles, marks, cars, charge times, occupancy, idTags — is
computed vectorised over all sessions of all stations at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.archetype import ArchetypeParams
from fleetsim.drivers.arrivals import ArrivalSampler
from fleetsim.drivers.fleetmix import FleetMix
from fleetsim.drivers.idtags import ONE_OFF, assign_users, one_off_tag, pool_tag
from fleetsim.drivers.marks import MarkSampler
from fleetsim.drivers.occupancy import Occupancy, assign_connectors
from fleetsim.drivers.session import Session, StationPlan
from fleetsim.scenario.fleet import StationSpec

__all__ = ["ArchetypeModel"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class _Draws:
    """Every random number of the planning window, one row per arrival inside it,
    rows sorted by (station, arrival time); ``pools`` is per station."""

    station: IntArray       # position in the ``stations`` argument
    t_s: FloatArray         # arrival [s since the epoch]
    hour: FloatArray        # local hour of day of the arrival
    z: FloatArray           # (n, 2) N(0, 1): marks
    x: FloatArray           # (n, 2) Exp(1): DC idle, queue patience
    u_car: FloatArray       # (n, 5) U(0, 1): the car
    beta: FloatArray | None  # Beta(a, b): SoC at arrival
    u_tag: FloatArray       # (n, 2) U(0, 1): user pick, one-off or not
    bits: IntArray          # 48 random bits: one-off tag
    pools: list[FloatArray]  # user weights per station


class ArchetypeModel:
    """Plans sessions for the stations of one archetype (a :class:`DriverModel`)."""

    def __init__(self, params: ArchetypeParams) -> None:
        self.params = params
        self.name = params.name
        self.evse = params.evse.evse()
        a = params.arrival
        weekly = (sum(a.dow_factors[:5]) * np.asarray(a.weekday_profile)
                  + sum(a.dow_factors[5:]) * np.asarray(a.weekend_profile))
        self.marks = MarkSampler(params.marks, profile=weekly / weekly.sum())
        self.fleet = FleetMix(params.vehicles, self.evse, params.soc)

    def plan(self, stations: Sequence[StationSpec], *, horizon_s: float,
             start_weekday: int = 0, start_hour: float = 0.0) -> list[StationPlan]:
        """Sessions plugging in during [0, horizon_s) for each station, in the given order."""
        if not stations:
            return []
        p = self.params
        d = self._draw(stations, ArrivalSampler(p.arrival, horizon_s=horizon_s,
                                                start_weekday=start_weekday,
                                                start_hour=start_hour))
        dwell_h, energy = self.marks.sample(d.hour, d.z)
        fleet = self.fleet.sample(energy, d.u_car, d.beta)
        if p.marks.dwell_from_charge:
            dwell_h = fleet.charge_h + d.x[:, 0] * p.marks.dc_idle_mean_min / 60.0
        dwell_s = np.round(dwell_h * 3600.0, 3)
        connectors = np.array([s.connectors for s in stations], dtype=np.int64)
        patience = (d.x[:, 1] * p.occupancy.patience_mean_min * 60.0
                    if p.occupancy.policy == "queue" else None)
        occ = assign_connectors(d.station, d.t_s, dwell_s, connectors=connectors,
                                patience_s=patience)
        start = np.round(occ.start_s, 3)
        order = np.flatnonzero(occ.kept)
        order = order[np.lexsort((occ.connector[order], start[order], d.station[order]))]
        sizes = np.array([len(w) for w in d.pools], dtype=np.int64)
        users = assign_users(
            d.station[order], start[order], start[order] + dwell_s[order],
            u_user=d.u_tag[order, 0], one_off=d.u_tag[order, 1] < p.id_tags.one_off_share,
            weights=np.concatenate(d.pools), sizes=sizes, connectors=connectors,
            offsets=np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64))
        index = np.array([s.index for s in stations], dtype=np.int64)[d.station[order]]
        tags = [one_off_tag(b) if u == ONE_OFF else pool_tag(i, u) for i, u, b in zip(
            index.tolist(), users.tolist(), d.bits[order].tolist(), strict=True)]
        flat = [Session(*row) for row in zip(
            index.tolist(), occ.connector[order].tolist(), start[order].tolist(),
            np.round(start + dwell_s, 3)[order].tolist(), fleet.energy_kwh[order].tolist(), tags,
            self.fleet.vehicles(fleet, order), fleet.soc_start[order].tolist(), strict=True)]
        return self._station_plans(stations, d.station, occ, fleet.charge_h > dwell_h + 1e-9,
                                   flat)

    def _draw(self, stations: Sequence[StationSpec], arr: ArrivalSampler) -> _Draws:
        """Per station, a fixed sequence of draws from its own streams (module docstring)."""
        p = self.params
        beta, k = p.soc.start_beta, p.id_tags.user_weight_gamma_k
        days, hours_u, z, x, uv, bv, ut, bits, ns = ([] for _ in range(9))
        pools: list[FloatArray] = []
        for spec in stations:
            g0 = spec.stream(0)
            counts = arr.counts(g0, spec.connectors, arr.day_factors(spec.seed, spec.index, g0))
            n = int(counts.sum())
            days.append(np.repeat(arr.days, counts))
            hours_u.append(g0.random(n))
            g1 = spec.stream(1)
            z.append(g1.standard_normal((n, 2)))
            x.append(g1.standard_exponential((n, 2)))
            g2 = spec.stream(2)
            uv.append(g2.random((n, 5)))
            if beta is not None:
                bv.append(g2.beta(beta[0], beta[1], n))
            g3 = spec.stream(3)
            size = p.id_tags.pool_size(spec.connectors)
            pools.append(g3.standard_gamma(k, size) if k is not None else np.ones(size))
            ut.append(g3.random((n, 2)))
            bits.append(g3.integers(0, 1 << 48, n))
            ns.append(n)
        station = np.repeat(np.arange(len(stations)), ns)
        t_s, hour = arr.times(np.concatenate(days), np.concatenate(hours_u))
        t_s = np.round(t_s, 3)
        inside = np.flatnonzero((t_s >= 0.0) & (t_s < arr.horizon_s))
        rows = inside[np.lexsort((t_s[inside], station[inside]))]
        return _Draws(station=station[rows], t_s=t_s[rows], hour=hour[rows],
                      z=np.concatenate(z)[rows], x=np.concatenate(x)[rows],
                      u_car=np.concatenate(uv)[rows],
                      beta=np.concatenate(bv)[rows] if beta is not None else None,
                      u_tag=np.concatenate(ut)[rows], bits=np.concatenate(bits)[rows],
                      pools=pools)

    def _station_plans(self, stations: Sequence[StationSpec], station: IntArray,
                       occ: Occupancy, unsatisfied: npt.NDArray[np.bool_],
                       flat: list[Session]) -> list[StationPlan]:
        """Group the (station-sorted) sessions and count each station's outcomes."""
        n = len(stations)
        kept = occ.kept
        arrivals = np.bincount(station, minlength=n).tolist()
        served = np.bincount(station[kept], minlength=n)
        queued = np.bincount(station[occ.waited_s > 0], minlength=n).tolist()
        waited = np.bincount(station, weights=occ.waited_s, minlength=n).tolist()
        unsat = np.bincount(station[kept & unsatisfied], minlength=n).tolist()
        bounds = np.concatenate(([0], np.cumsum(served))).tolist()
        return [StationPlan(station_index=spec.index, archetype=self.name, evse=self.evse,
                            sessions=tuple(flat[bounds[i]:bounds[i + 1]]),
                            balked=arrivals[i] - (bounds[i + 1] - bounds[i]), queued=queued[i],
                            queue_wait_s=round(waited[i], 3), unsatisfied=unsat[i])
                for i, spec in enumerate(stations)]
