"""Planning a window at a time: the plan as a function of the scenario alone.

A model's :class:`Planner` walks simulated time in fixed windows (a local day for
archetypes, a span of a few dozen sessions per connector for ``uniform``). Each
window's draws come from the stations' own random streams, consumed in window
order, and the state that crosses a window boundary (when each connector frees,
when each user unplugs, the streams' positions) is carried. So the sessions
plugging in before any time T are the same whatever horizon is asked for, and:

- :func:`plan_windows` (``fleetsim plan``, the tag list) walks windows until the
  horizon, for many stations at once (vectorised);
- :class:`SessionFeed` gives one running station its sessions in arrival order. Its
  :class:`PlanGroup` (up to :data:`GROUP` stations) plans the next window for all of
  them, vectorised, when the first of them needs it, and drops a window once all
  have left it: a group holds at most two windows of columns, never the run's
  sessions as objects.

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

__all__ = [
    "GROUP",
    "PlanGroup",
    "Planner",
    "SessionFeed",
    "StreamState",
    "Window",
    "feeds",
    "plan_windows",
    "resume",
    "save",
    "window_tags",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StreamState = tuple[int, int, int, int]
# One scratch generator to draw with: a station's stream between windows is four ints
# (PCG64's state), not a Generator object (~2 KiB each, thousands of stations).
_PCG = np.random.PCG64()
_GEN = np.random.Generator(_PCG)


def save(rng: np.random.Generator) -> StreamState:
    """The position of ``rng``'s PCG64 stream, to :func:`resume` later."""
    st = rng.bit_generator.state
    return (int(st["state"]["state"]), int(st["state"]["inc"]), int(st["has_uint32"]),
            int(st["uinteger"]))


def resume(state: StreamState) -> np.random.Generator:
    """A generator at ``state``; valid until the next :func:`resume` (single-threaded)."""
    _PCG.state = {"bit_generator": "PCG64", "state": {"state": state[0], "inc": state[1]},
                  "has_uint32": state[2], "uinteger": state[3]}
    return _GEN


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


# stations planned together: one numpy pass per window for all of them. The pass runs
# on the engine's loop when the group's first station needs the next window: at 256
# stations a uniform window took 8-15 ms of it, at 64 it takes 2-4 ms (an archetype
# day 1.6 ms), for about the same CPU in all (issue 18)
GROUP = 64


class PlanGroup:
    """Stations that plan their windows together (vectorised), each when the first of
    them needs it. A window is dropped once every station has moved past it, so a
    group holds at most the window its stations are in and the next."""

    __slots__ = ("_left", "_planner", "_windows", "planned")

    def __init__(self, planner: Planner) -> None:
        self._planner = planner
        self._windows: dict[int, tuple[Window, list[int]]] = {}
        self._left: dict[int, int] = {}
        self.planned = 0

    def window(self, k: int) -> tuple[Window, list[int]]:
        """Window ``k`` and each station's first row in it (``bounds[pos]:bounds[pos+1]``)."""
        while self.planned <= k:
            w = self._planner.next_window()
            n = len(self._planner.stations)
            bounds = np.searchsorted(w.station, np.arange(n + 1)).tolist()
            self._windows[self.planned], self._left[self.planned] = (w, bounds), n
            self.planned += 1
        return self._windows[k]

    def leave(self, k: int) -> None:
        """One station is done with window ``k``."""
        left = self._left.get(k)
        if left is None:
            return
        if left <= 1:
            del self._windows[k], self._left[k]
        else:
            self._left[k] = left - 1


class SessionFeed:
    """One station's sessions in arrival order, planned a window at a time.

    :meth:`next` plans at most one window per call: ``None`` means nothing plugs in
    before :attr:`planned_until_s` — ask again then. Its windows come from its
    :class:`PlanGroup`. A feed over a fixed tuple (tests) is :meth:`of`.
    """

    __slots__ = ("_fixed", "_group", "_hi", "_k", "_pos", "_row", "_window",
                 "planned_until_s", "station_index", "until_s")

    def __init__(self, group: PlanGroup | None, pos: int, station_index: int,
                 until_s: float = math.inf) -> None:
        self._group, self._pos, self.station_index = group, pos, station_index
        self.until_s = until_s  # the run's simulated end: nothing plugs in from then on
        self._fixed: tuple[Session, ...] | None = None
        self._window: Window | None = None
        self._k, self._row, self._hi = -1, 0, 0
        self.planned_until_s = -math.inf

    @classmethod
    def of(cls, sessions: Sequence[Session]) -> SessionFeed:
        feed = cls(None, 0, sessions[0].station_index if sessions else -1)
        feed._fixed = tuple(sessions)
        feed._hi = len(feed._fixed)
        feed.planned_until_s = math.inf
        return feed

    def next(self) -> Session | None:
        if self._row >= self._hi and not self._advance():
            return None
        r = self._row
        self._row += 1
        if self._fixed is not None:
            return self._fixed[r]
        assert self._window is not None
        if self._window.arrival_s[r] >= self.until_s:
            self._end()
            return None
        return self._window.session(r, self.station_index)

    def _end(self) -> None:
        """Past the run's end: let go of the group's windows for good."""
        if self._group is not None:
            self._group.leave(self._k)
        self._group, self._window = None, None
        self._row = self._hi = 0
        self.planned_until_s = math.inf

    def peek_vehicle(self) -> Vehicle | None:
        """The car of the next planned session, if one is planned (no planning)."""
        if self._row >= self._hi:
            return None
        if self._fixed is not None:
            return self._fixed[self._row].vehicle
        assert self._window is not None
        return self._window.vehicle[self._row]

    def skip_before(self, t_s: float) -> None:
        """Drop the sessions plugging in before ``t_s`` (a station that joins late)."""
        while True:
            if self._row < self._hi:
                t = (self._fixed[self._row].arrival_s if self._fixed is not None
                     else float(self._window.arrival_s[self._row]))  # type: ignore[union-attr]
                if t >= t_s:
                    return
                self._row += 1
            elif self._group is None or self.planned_until_s >= t_s:
                return
            else:
                self._advance()

    def _advance(self) -> bool:
        """Move to the next window (planning it if no station of the group has yet);
        True if this station has sessions in it."""
        if self._group is None:
            return False
        if self.planned_until_s >= self.until_s:
            self._end()
            return False
        self._group.leave(self._k)
        self._k += 1
        w, bounds = self._group.window(self._k)
        self._window = w
        self._row, self._hi = bounds[self._pos], bounds[self._pos + 1]
        self.planned_until_s = w.end_s
        return self._row < self._hi


def feeds(planner: Planner, until_s: float = math.inf) -> list[SessionFeed]:
    """Lazy feeds for the planner's stations, in order, sharing its windows; sessions
    plugging in from ``until_s`` on are not handed out."""
    group = PlanGroup(planner)
    return [SessionFeed(group, pos, spec.index, until_s)
            for pos, spec in enumerate(planner.stations)]
