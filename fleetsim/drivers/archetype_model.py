"""The archetype session model (ev-models.md §3): stations → planned sessions.

Planned one local day at a time (:mod:`fleetsim.drivers.window`). Random streams
(never the global ``np.random``): every station draws only from its own
``StationSpec.stream(0)``, day after day, a fixed sequence per day — its day factor
(when not site-shared), the day's count, then per arrival eight uniforms (hour, the
car's five, the user pick and one-off-or-not), two normals (marks), two
exponentials (DC idle, queue patience) and a Beta draw when configured. The user
pool's weights come from ``stream(3)``; site-shared day factors from the site's own
stream (:mod:`fleetsim.drivers.arrivals`). What crosses midnight — when each
connector frees, when each user unplugs, how many one-off tags were issued — is
carried to the next day. So a seed gives the same plan byte for byte whatever the
horizon, and adding a station never changes another's.

The draws are made per station (a handful of numpy calls each) and everything
else — profiles, marks, cars, charge times, occupancy, idTags — is computed
vectorised over all sessions of all the planner's stations at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.archetype import ArchetypeParams
from fleetsim.drivers.arrivals import ArrivalSampler
from fleetsim.drivers.fleetmix import FleetMix
from fleetsim.drivers.idtags import ONE_OFF, assign_users, fleet_key, one_off_tags, pool_tags
from fleetsim.drivers.marks import MarkSampler
from fleetsim.drivers.occupancy import assign_connectors, free_connectors
from fleetsim.drivers.session import Evse, StationPlan
from fleetsim.drivers.window import Window, plan_windows, resume, save
from fleetsim.scenario.fleet import StationSpec

__all__ = ["ArchetypeModel", "ArchetypePlanner"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
        self.fleet = FleetMix(params.vehicles, self.evse, params.soc,
                              iso15118=(params.iso15118_share, params.pnc_share))

    def planner(self, stations: Sequence[StationSpec], *, start_weekday: int = 0,
                start_hour: float = 0.0) -> ArchetypePlanner:
        """A day-by-day planner for ``stations``, from the epoch's local day."""
        return ArchetypePlanner(self, stations, ArrivalSampler(
            self.params.arrival, start_weekday=start_weekday, start_hour=start_hour))

    def plan(self, stations: Sequence[StationSpec], *, horizon_s: float,
             start_weekday: int = 0, start_hour: float = 0.0) -> list[StationPlan]:
        """Sessions plugging in during [0, horizon_s) for each station, in the given order."""
        if not stations:
            return []
        return plan_windows(self.planner(stations, start_weekday=start_weekday,
                                         start_hour=start_hour), horizon_s)


class ArchetypePlanner:
    """The day-by-day state of some stations of one archetype (a :class:`Planner`)."""

    def __init__(self, model: ArchetypeModel, stations: Sequence[StationSpec],
                 arrivals: ArrivalSampler) -> None:
        p = model.params
        self.model, self.arrivals = model, arrivals
        self.stations: Sequence[StationSpec] = list(stations)
        self.name: str = model.name
        self.evse: Evse = model.evse
        self.day = 0
        self.streams = [save(spec.stream(0)) for spec in stations]
        k = p.id_tags.user_weight_gamma_k
        self.pools: list[FloatArray] = []
        for spec in stations:
            size = p.id_tags.pool_size(spec.connectors)
            self.pools.append(spec.stream(3).standard_gamma(k, size) if k is not None
                              else np.ones(size))
        self.busy = [np.full(len(w), -np.inf) for w in self.pools]
        self.connectors = np.array([s.connectors for s in stations], dtype=np.int64)
        self.free = free_connectors(self.connectors)
        self.one_offs = np.zeros(len(stations), dtype=np.int64)
        self.index = np.array([s.index for s in stations], dtype=np.int64)
        self.key = fleet_key(stations[0].fleet, stations[0].seed) if stations else ()

    def _draw(self, day: int) -> tuple[IntArray, FloatArray, FloatArray, FloatArray,
                                       FloatArray | None]:
        """(station, u (n, 8), z (n, 2), x (n, 2), beta) for ``day``, per station in order."""
        p, arr = self.model.params, self.arrivals
        beta = p.soc.start_beta
        ns, us, zs, xs, bs = [], [], [], [], []
        for i, spec in enumerate(self.stations):
            g = resume(self.streams[i])
            n = arr.count(g, spec.connectors, day,
                          arr.day_factor(spec.seed, spec.index, day, g))
            us.append(g.random((n, 8)))
            zs.append(g.standard_normal((n, 2)))
            xs.append(g.standard_exponential((n, 2)))
            if beta is not None:
                bs.append(g.beta(beta[0], beta[1], n))
            self.streams[i] = save(g)
            ns.append(n)
        station = np.repeat(np.arange(len(self.stations)), ns)
        return (station, np.concatenate(us), np.concatenate(zs), np.concatenate(xs),
                np.concatenate(bs) if beta is not None else None)

    def next_window(self) -> Window:
        p = self.model.params
        day = self.day
        self.day += 1
        w0, w1 = self.arrivals.window(day)
        station, u, z, x, beta = self._draw(day)
        t_s, hour = self.arrivals.times(np.full(len(station), day, dtype=np.int64), u[:, 0])
        t_s = np.round(t_s, 3)
        rows = np.flatnonzero(t_s >= 0.0)  # day 0 may begin before the epoch
        rows = rows[np.lexsort((t_s[rows], station[rows]))]
        station, t_s, hour, u, z, x = station[rows], t_s[rows], hour[rows], u[rows], z[rows], x[rows]
        beta = beta[rows] if beta is not None else None
        dwell_h, energy = self.model.marks.sample(hour, z)
        fleet = self.model.fleet.sample(energy, u[:, 1:6], beta)
        if p.marks.dwell_from_charge:
            dwell_h = fleet.charge_h + x[:, 0] * p.marks.dc_idle_mean_min / 60.0
        dwell_s = np.round(dwell_h * 3600.0, 3)
        patience = (x[:, 1] * p.occupancy.patience_mean_min * 60.0
                    if p.occupancy.policy == "queue" else None)
        occ = assign_connectors(station, t_s, dwell_s, free=self.free, patience_s=patience)
        start = np.round(occ.start_s, 3)
        order = np.flatnonzero(occ.kept)
        order = order[np.lexsort((occ.connector[order], start[order], station[order]))]
        st = station[order]
        sizes = np.array([len(w) for w in self.pools], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        busy = np.concatenate(self.busy) if self.busy else np.zeros(0)
        users = assign_users(
            st, start[order], start[order] + dwell_s[order], u_user=u[order, 6],
            one_off=u[order, 7] < p.id_tags.one_off_share,
            weights=np.concatenate(self.pools) if self.pools else np.zeros(0), sizes=sizes,
            connectors=self.connectors, offsets=offsets, busy=busy)
        for i, lo in enumerate(offsets.tolist()):
            self.busy[i] = busy[lo:lo + int(sizes[i])]
        tags = self._tags(st, users)
        return Window(
            start_s=w0, end_s=w1, station=st, connector=occ.connector[order],
            arrival_s=start[order], departure_s=np.round(start + dwell_s, 3)[order],
            energy_kwh=fleet.energy_kwh[order], soc_start=fleet.soc_start[order],
            unsatisfied=(fleet.charge_h > dwell_h + 1e-9)[order], id_tag=tags,
            vehicle=self.model.fleet.vehicles(fleet, order), arr_station=station,
            arr_t_s=t_s, arr_waited_s=occ.waited_s, arr_kept=occ.kept)

    def _tags(self, station: IntArray, users: IntArray) -> list[str]:
        """Pool tags by user; one-offs numbered per station in plug-in order."""
        one = users == ONE_OFF
        tags = pool_tags(self.key, self.index[station], np.maximum(users, 0))
        if one.any():
            s1 = station[one]
            first = np.searchsorted(s1, s1, side="left")
            count = self.one_offs[s1] + (np.arange(len(s1)) - first)
            self.one_offs += np.bincount(s1, minlength=len(self.stations))
            for r, tag in zip(np.flatnonzero(one).tolist(),
                              one_off_tags(self.key, self.index[s1], count), strict=True):
                tags[r] = tag
        return tags
