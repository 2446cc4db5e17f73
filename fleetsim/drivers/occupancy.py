"""Connector occupancy: who gets a connector, who balks, who queues (ev-models.md §3.1).

Arrivals at a station are served in arrival order. If a connector is free the
car takes the lowest-numbered free one. If all are busy it balks (``balk``:
typical of AC, the driver goes elsewhere) or — ``queue``, DC — waits for the
connector that frees first, if that comes within its patience; otherwise it
balks too. A queued car plugs in when the connector frees and stays its dwell.

Vectorised *across stations*: step k handles the k-th arrival of every station
at once, so a fleet costs (max arrivals per station) numpy steps, not one Python
step per session, and stations never interact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Occupancy", "assign_connectors", "free_connectors", "rank_groups"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def rank_groups(station: IntArray) -> Iterator[IntArray]:
    """Row indices grouped by rank within their station: all first rows, all second rows, …

    ``station`` must be sorted (rows of a station contiguous, in service order).
    Each group holds at most one row per station.
    """
    n = len(station)
    if n == 0:
        return
    first = np.flatnonzero(np.r_[True, station[1:] != station[:-1]])
    rank = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
    order = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[order], np.arange(int(rank.max()) + 2))
    for k in range(len(bounds) - 1):
        yield order[bounds[k]:bounds[k + 1]]


@dataclass(frozen=True, slots=True)
class Occupancy:
    """Outcome per arrival (rows as given): connector 1…C, or 0 if it balked."""

    connector: IntArray
    start_s: FloatArray   # plug-in time (arrival, or later if it queued)
    waited_s: FloatArray  # 0 unless it queued

    @property
    def kept(self) -> BoolArray:
        out: BoolArray = self.connector > 0
        return out


def free_connectors(connectors: IntArray) -> FloatArray:
    """The ``free`` state of stations with ``connectors[s]`` connectors, all free."""
    width = int(connectors.max()) if len(connectors) else 1
    out: FloatArray = np.where(np.arange(width)[None, :] < connectors[:, None], -np.inf, np.inf)
    return out


def assign_connectors(station: IntArray, arrival_s: FloatArray, dwell_s: FloatArray, *,
                      free: FloatArray, patience_s: FloatArray | None) -> Occupancy:
    """Serve arrivals; rows must be sorted by (station, arrival_s).

    ``free[s, c]`` is when station s's connector c+1 frees (``inf`` beyond its connector
    count); it is updated in place, so the next planning window starts where this one
    ended. ``patience_s`` None means balk.
    """
    n = len(station)
    conn = np.zeros(n, dtype=np.int64)
    start = arrival_s.copy()
    waited = np.zeros(n)
    for rows in rank_groups(station):
        s, a = station[rows], arrival_s[rows]
        f = free[s]
        avail = f <= a[:, None]
        any_free = avail.any(axis=1)
        pick = avail.argmax(axis=1)
        t0 = a
        kept = any_free
        if patience_s is not None:
            earliest = f.argmin(axis=1)
            t_free = f[np.arange(len(rows)), earliest]
            queued = ~any_free & (t_free - a <= patience_s[rows])
            pick = np.where(any_free, pick, earliest)
            t0 = np.where(queued, t_free, a)
            kept = any_free | queued
            waited[rows] = np.where(queued, t_free - a, 0.0)
        start[rows] = t0
        conn[rows] = np.where(kept, pick + 1, 0)
        free[s[kept], pick[kept]] = t0[kept] + dwell_s[rows][kept]
    return Occupancy(connector=conn, start_s=start, waited_s=waited)
