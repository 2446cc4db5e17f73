"""Planning a window at a time: the plan as a function of the scenario alone.

A model's :class:`Planner` walks simulated time in fixed windows (a local day for
archetypes, a span of a few dozen sessions per connector for ``uniform``). Each
window's draws come from the stations' own random streams, consumed in window
order, and the state that crosses a window boundary (when each connector frees,
when each user unplugs, the streams' positions) is carried. So the sessions
plugging in before any time T are the same whatever horizon is asked for, and:

- :func:`plan_windows` (``fleetsim plan``, the tag list) walks windows until the
  horizon, for many stations at once (vectorised);
- :class:`SessionFeed` gives one running station its sessions in arrival order,
  planning its next window only when the current one is used up, so a station holds
  one window of compact columns, never the run's sessions as objects.

Both use the same planner code, so they agree session for session.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.session import Evse, Session, StationPlan, Vehicle
from fleetsim.scenario.fleet import StationSpec

__all__ = ["Planner", "SessionFeed", "Window", "plan_windows", "window_tags"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_NO_INT: IntArray = np.zeros(0, dtype=np.int64)
_NO_FLOAT: FloatArray = np.zeros(0)


@dataclass(frozen=True, slots=True)
class Window:
    """What a planner's stations do in [start_s, end_s) of simulated time, as columns.

    Session rows are sorted by (station, plug-in time, connector); ``station`` is the
    position in the planner's station list. ``arr_*`` describe every arrival of the
    window, balked ones included (validation counters of :class:`StationPlan`).
    """

    start_s: float
    end_s: float
    station: IntArray
    connector: IntArray
    arrival_s: FloatArray       # plug-in time [s since the epoch]
    departure_s: FloatArray
    energy_kwh: FloatArray
    soc_start: FloatArray
    unsatisfied: BoolArray
    id_tag: list[str]
    vehicle: list[Vehicle]
    arr_station: IntArray
    arr_t_s: FloatArray
    arr_waited_s: FloatArray
    arr_kept: BoolArray

    def rows(self, lo: int, hi: int) -> Window:
        """Session rows [lo, hi) (one station's, say) as a window of their own, without
        the arrival counters; copies, so the larger window can go."""
        return Window(start_s=self.start_s, end_s=self.end_s,
                      station=np.zeros(hi - lo, dtype=np.int64),
                      connector=self.connector[lo:hi].copy(),
                      arrival_s=self.arrival_s[lo:hi].copy(),
                      departure_s=self.departure_s[lo:hi].copy(),
                      energy_kwh=self.energy_kwh[lo:hi].copy(),
                      soc_start=self.soc_start[lo:hi].copy(),
                      unsatisfied=self.unsatisfied[lo:hi].copy(), id_tag=self.id_tag[lo:hi],
                      vehicle=self.vehicle[lo:hi], arr_station=_NO_INT, arr_t_s=_NO_FLOAT,
                      arr_waited_s=_NO_FLOAT, arr_kept=np.zeros(0, dtype=np.bool_))

    def session(self, row: int, station_index: int) -> Session:
        return Session(station_index, int(self.connector[row]), float(self.arrival_s[row]),
                       float(self.departure_s[row]), float(self.energy_kwh[row]),
                       self.id_tag[row], self.vehicle[row], float(self.soc_start[row]))


class Planner(Protocol):
    """Plans its stations' sessions window by window, in order (module docstring)."""

    stations: Sequence[StationSpec]
    name: str
    evse: Evse

    def next_window(self) -> Window:
        """The next window (its ``end_s`` always beyond its ``start_s``)."""
        ...

    def split(self) -> list[Planner]:
        """One planner per station, each continuing exactly where this one stands."""
        ...


def plan_windows(planner: Planner, horizon_s: float) -> list[StationPlan]:
    """Every station's sessions plugging in during [0, horizon_s), with its counters."""
    n = len(planner.stations)
    rows: list[list[Session]] = [[] for _ in range(n)]
    arrivals = np.zeros(n, dtype=np.int64)
    served = np.zeros(n, dtype=np.int64)
    queued = np.zeros(n, dtype=np.int64)
    waited = np.zeros(n)
    unsat = np.zeros(n, dtype=np.int64)
    index = [s.index for s in planner.stations]
    end = -math.inf
    while end < horizon_s:
        w = planner.next_window()
        end = w.end_s
        a = w.arr_t_s < horizon_s
        arrivals += np.bincount(w.arr_station[a], minlength=n)
        served += np.bincount(w.arr_station[a & w.arr_kept], minlength=n)
        queued += np.bincount(w.arr_station[a & (w.arr_waited_s > 0)], minlength=n)
        waited += np.bincount(w.arr_station[a], weights=w.arr_waited_s[a], minlength=n)
        inside = np.flatnonzero(w.arrival_s < horizon_s)
        unsat += np.bincount(w.station[inside[w.unsatisfied[inside]]], minlength=n)
        for r, pos in zip(inside.tolist(), w.station[inside].tolist(), strict=True):
            rows[pos].append(w.session(r, index[pos]))
    return [StationPlan(station_index=index[i], archetype=planner.name, evse=planner.evse,
                        sessions=tuple(rows[i]), balked=int(arrivals[i] - served[i]),
                        queued=int(queued[i]), queue_wait_s=round(float(waited[i]), 3),
                        unsatisfied=int(unsat[i]))
            for i in range(n)]


def window_tags(planner: Planner, horizon_s: float) -> Iterator[str]:
    """The idTags of the sessions plugging in during [0, horizon_s), window by window:
    memory bounded by one window, not by the horizon. Repeats are possible."""
    end = -math.inf
    while end < horizon_s:
        w = planner.next_window()
        end = w.end_s
        for r in np.flatnonzero(w.arrival_s < horizon_s).tolist():
            yield w.id_tag[r]


class SessionFeed:
    """One station's sessions in arrival order, planned a window at a time.

    :meth:`next` plans at most one window per call: ``None`` means nothing plugs in
    before :attr:`planned_until_s` — ask again then. A feed over a fixed tuple
    (tests, remote starts) is :meth:`of`.
    """

    __slots__ = ("_fixed", "_planner", "_row", "_rows", "_window", "planned_until_s",
                 "station_index")

    def __init__(self, planner: Planner | None, station_index: int,
                 window: Window | None = None) -> None:
        self._planner = planner
        self.station_index = station_index
        self._window = window
        self._rows = 0 if window is None else len(window.arrival_s)
        self._row = 0
        self.planned_until_s = -math.inf if window is None else window.end_s
        self._fixed: tuple[Session, ...] = ()

    @classmethod
    def of(cls, sessions: Sequence[Session]) -> SessionFeed:
        feed = cls(None, sessions[0].station_index if sessions else -1)
        feed._fixed = tuple(sessions)
        feed._rows = len(feed._fixed)
        feed.planned_until_s = math.inf
        return feed

    def next(self) -> Session | None:
        if self._row >= self._rows and not self._advance():
            return None
        r = self._row
        self._row += 1
        if self._window is None:
            return self._fixed[r]
        return self._window.session(r, self.station_index)

    def peek_vehicle(self) -> Vehicle | None:
        """The car of the next planned session, if one is planned (no planning)."""
        if self._row >= self._rows:
            return None
        return self._fixed[self._row].vehicle if self._window is None else \
            self._window.vehicle[self._row]

    def skip_before(self, t_s: float) -> None:
        """Drop the sessions plugging in before ``t_s`` (a station that joins late)."""
        while True:
            if self._row < self._rows:
                w = self._window
                t = w.arrival_s[self._row] if w is not None else self._fixed[self._row].arrival_s
                if t >= t_s:
                    return
                self._row += 1
            elif self._planner is None or self.planned_until_s >= t_s:
                return
            else:
                self._advance()

    def _advance(self) -> bool:
        """Plan the next window; True if it has sessions."""
        if self._planner is None:
            return False
        w = self._planner.next_window()
        self._window, self._row, self._rows = w, 0, len(w.arrival_s)
        self.planned_until_s = w.end_s
        return self._rows > 0

