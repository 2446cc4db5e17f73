"""The ``uniform`` driver model: a simple seeded baseline, not fitted to data.

Per connector, cars arrive as a homogeneous Poisson process (the same rate at
every hour), stay a dwell drawn uniformly from ``dwell_h``, want an energy drawn
uniformly from ``energy_kwh``, and the next car comes after the previous one
left. Useful for protocol load where realism does not matter; data-grounded
archetypes live beside it.

Each connector has its own random stream (``StationSpec.stream(100 + connector)``),
drawn :data:`CHUNK` sessions at a time — five uniforms a session: gap, dwell,
energy, SoC, user — so one connector's sessions never depend on another's or on how
far ahead anyone plans. Connectors draw from disjoint slices of the station's
``id_tags_per_station`` users, so one user is never plugged in twice at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.idtags import fleet_key, pool_tags
from fleetsim.drivers.session import Evse, StationPlan, Vehicle
from fleetsim.drivers.window import StreamState, Window, plan_windows, resume, save
from fleetsim.exceptions import ModelError
from fleetsim.scenario.fleet import StationSpec

__all__ = ["CHUNK", "UniformModel", "UniformParams", "UniformPlanner"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class UniformParams:
    sessions_per_day: float = 4.0          # per connector, mean
    dwell_h: tuple[float, float] = (0.5, 3.0)
    energy_kwh: tuple[float, float] = (5.0, 40.0)
    evse_max_power_kw: float = 11.0
    evse_phases: int = 3
    evse_voltage_v: float = 230.0
    battery_kwh: float = 60.0
    soc_start: tuple[float, float] = (0.1, 0.6)
    id_tags_per_station: int = 20

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, where: str = "uniform") -> UniformParams:
        names = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for k, v in raw.items():
            if k not in names:
                raise ModelError(f"{where}.{k}: unknown parameter (known: {', '.join(sorted(names))})")
            default = getattr(cls(), k)
            if isinstance(default, tuple):
                if (not isinstance(v, list | tuple) or len(v) != 2
                        or not all(isinstance(x, int | float) for x in v) or v[0] > v[1] or v[0] < 0):
                    raise ModelError(f"{where}.{k}: expected [low, high] with 0 <= low <= high")
                v = (float(v[0]), float(v[1]))
            elif isinstance(default, str):
                if not isinstance(v, str):
                    raise ModelError(f"{where}.{k}: expected text")
            elif isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                raise ModelError(f"{where}.{k}: expected a positive number, got {v!r}")
            kw[k] = v
        return cls(**kw)


CHUNK = 16          # sessions drawn per connector at a time
CONNECTOR_STREAM = 100


class UniformModel:
    """Plans sessions for stations assigned the ``uniform`` archetype."""

    name = "uniform"

    def __init__(self, params: UniformParams | None = None) -> None:
        self.params = params or UniformParams()
        p = self.params
        self.vehicle = Vehicle(name="mid_bev", battery_kwh=p.battery_kwh, ac_phases=3,
                               ac_max_a=16.0, dc_peak_kw=0.0)
        self.mean_gap_s = 86400.0 / p.sessions_per_day
        # a window spans about CHUNK / 2 sessions of a connector
        cycle_s = self.mean_gap_s + 1800.0 * (p.dwell_h[0] + p.dwell_h[1])
        self.window_s = max(1.0, round(cycle_s * CHUNK / 2))

    def evse(self) -> Evse:
        p = self.params
        return Evse(max_power_w=p.evse_max_power_kw * 1000.0, phases=p.evse_phases,
                    voltage_v=p.evse_voltage_v, dc=False)

    def planner(self, stations: Sequence[StationSpec], *, start_weekday: int = 0,
                start_hour: float = 0.0) -> UniformPlanner:
        del start_weekday, start_hour  # uniform in time: the clock does not matter
        return UniformPlanner(self, stations)

    def plan(self, stations: Sequence[StationSpec], *, horizon_s: float,
             start_weekday: int = 0, start_hour: float = 0.0) -> list[StationPlan]:
        """Sessions arriving in [0, horizon_s) simulated seconds for each station."""
        return plan_windows(self.planner(stations, start_weekday=start_weekday,
                                         start_hour=start_hour), horizon_s)


class UniformPlanner:
    """Per connector: its stream and the sessions drawn but not yet planned (a Planner)."""

    def __init__(self, model: UniformModel, stations: Sequence[StationSpec]) -> None:
        self.model = model
        self.stations: Sequence[StationSpec] = list(stations)
        self.name: str = model.name
        self.evse: Evse = model.evse()
        self.key = fleet_key(stations[0].fleet, stations[0].seed) if stations else ()
        self.end_s = 0.0
        # per (station position, connector): generator, drawn rows (arrival, departure,
        # energy, soc, user) and the next arrival time
        self.conns: list[tuple[int, int, StreamState]] = [
            (pos, c, save(spec.stream(CONNECTOR_STREAM + c)))
            for pos, spec in enumerate(self.stations) for c in range(1, spec.connectors + 1)]
        self.buf: list[FloatArray] = [np.zeros((0, 5)) for _ in self.conns]
        self.next_t = [-1.0] * len(self.conns)

    def _chunk(self, k: int) -> FloatArray:
        """CHUNK more sessions of connector k: rows (arrival, departure, energy, soc, user)."""
        p, m = self.model.params, self.model
        pos, c, state = self.conns[k]
        g = resume(state)
        u = g.random((CHUNK, 5))
        self.conns[k] = (pos, c, save(g))
        gap = -np.log1p(-u[:, 0]) * m.mean_gap_s
        if self.next_t[k] < 0:  # the first car: a stationary start, half a mean gap
            gap[0] *= 0.5
        dwell = (p.dwell_h[0] + u[:, 1] * (p.dwell_h[1] - p.dwell_h[0])) * 3600.0
        # renewal: the next car comes after the previous left; cumsum adds in the same
        # order as a loop would (t0 + gap0 + dwell0 + gap1 ...)
        seq = np.empty(2 * CHUNK + 1)
        seq[0] = max(self.next_t[k], 0.0)
        seq[1::2], seq[2::2] = gap, dwell
        t = np.cumsum(seq)
        self.next_t[k] = float(t[-1])
        rows = np.empty((CHUNK, 5))
        rows[:, 0], rows[:, 1] = t[1::2], t[2::2]
        rows[:, 2] = p.energy_kwh[0] + u[:, 2] * (p.energy_kwh[1] - p.energy_kwh[0])
        rows[:, 3] = p.soc_start[0] + u[:, 3] * (p.soc_start[1] - p.soc_start[0])
        rows[:, 4] = u[:, 4]
        return rows

    def next_window(self) -> Window:
        w0 = self.end_s
        w1 = self.end_s = w0 + self.model.window_s
        p = self.model.params
        parts = []
        for k, (pos, c, _) in enumerate(self.conns):
            buf = self.buf[k]
            while len(buf) == 0 or buf[-1, 0] < w1:
                buf = np.concatenate((buf, self._chunk(k)))
            cut = int(np.searchsorted(buf[:, 0], w1, side="left"))
            take, self.buf[k] = buf[:cut], buf[cut:]
            connectors = self.stations[pos].connectors
            per = max(1, p.id_tags_per_station // connectors)
            user = (c - 1) + connectors * np.minimum((take[:, 4] * per).astype(np.int64),
                                                      per - 1)
            parts.append((np.full(cut, pos), np.full(cut, c), take, user))
        station = np.concatenate([x[0] for x in parts]).astype(np.int64)
        conn = np.concatenate([x[1] for x in parts]).astype(np.int64)
        rows = np.concatenate([x[2] for x in parts])
        user = np.concatenate([x[3] for x in parts]).astype(np.int64)
        order = np.lexsort((conn, rows[:, 0], station))
        station, conn, rows, user = station[order], conn[order], rows[order], user[order]
        index = np.array([s.index for s in self.stations], dtype=np.int64)[station]
        n = len(station)
        return Window(start_s=w0, end_s=w1, station=station, connector=conn,
                      arrival_s=rows[:, 0], departure_s=rows[:, 1], energy_kwh=rows[:, 2],
                      soc_start=rows[:, 3], unsatisfied=np.zeros(n, dtype=np.bool_),
                      id_tag=pool_tags(self.key, index, user), vehicle=[self.model.vehicle] * n,
                      arr_station=station, arr_t_s=rows[:, 0], arr_waited_s=np.zeros(n),
                      arr_kept=np.ones(n, dtype=np.bool_))
