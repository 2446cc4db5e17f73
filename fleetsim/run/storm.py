"""Reconnect-storm figures: how fast the fleet came back after each injected fault.

Computed from the run's merged per-second intervals (gauges ``connected``,
``booted``, ``offline_queued`` at each interval's end; the ``~offline_drain``
histogram of queue drains that ended in it) around each injected event (a mass
disconnect or a CSMS restart, ``faults_injected.events``). Times are seconds after
the event, to the resolution of the intervals (1 s), as upper bounds:

- ``t_99_connected_s`` / ``t_100_connected_s``: until 99 % / all of the stations
  that went away were connected again (the connected count back to within 1 % of
  the disconnected, or to where it was before the event);
- ``t_all_accepted_s``: until as many stations were booted (BootNotification
  accepted, or resumed without one) as before;
- ``offline_replay``: the deepest station offline queue after the event (and the
  most messages queued fleet-wide at once), and the p50 and max of the per-station
  drains (reconnect → queue empty) in its window.

A window runs from the event to the next event (or the end of the run); a figure
the fleet never reached in its window is null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleetsim.metrics.histogram import LatencyHistogram
from fleetsim.metrics.recorder import DRAIN_KEY, INTERVAL_FIGURES, IntervalStats

__all__ = ["storm_figures"]

_EDGE_S = 0.25


def storm_figures(intervals: Sequence[IntervalStats], events: Sequence[Mapping[str, Any]],
                  *, until_s: float = float("inf")) -> list[dict[str, Any]]:
    """One figures dict per event (in time order) that has intervals before and after it.
    ``until_s``: the run's stop began then; its closes are no storm of the event's."""
    rows = sorted((st for st in intervals if st.t_s < until_s), key=lambda st: st.t_s)
    ordered = sorted(events, key=lambda e: float(e["at_s"]))
    out = []
    for i, event in enumerate(ordered):
        end = float(ordered[i + 1]["at_s"]) if i + 1 < len(ordered) else float("inf")
        figures = _one(rows, event, end)
        if figures is not None:
            out.append(figures)
    return out


def _one(rows: Sequence[IntervalStats], event: Mapping[str, Any],
         end_s: float) -> dict[str, Any] | None:
    at = float(event["at_s"])
    # an interval cut at the very instant of the event may already show it: "before" is
    # the last interval that ended a moment earlier
    edge = at - _EDGE_S
    before = [r for r in rows if r.t_s <= edge]
    window = [r for r in rows if edge < r.t_s <= end_s]
    if not before or not window:
        return None
    g0 = before[-1].gauges
    c0, b0 = g0.get("connected", 0.0), g0.get("booted", 0.0)
    connected = [r.gauges.get("connected", 0.0) for r in window]
    trough = min(range(len(window)), key=lambda j: connected[j])
    gone = int(event.get("stations") or 0) or max(0, round(c0 - connected[trough]))

    def first(cond: Any) -> float | None:
        for r in window[trough:]:
            if cond(r.gauges):
                return round(max(0.0, r.t_s - at), 3)
        return None

    drains = LatencyHistogram(significant_figures=INTERVAL_FIGURES)
    for r in window:
        h = r.hists.get(DRAIN_KEY)
        if h is not None:
            drains.add(h)
    return {
        "event": str(event.get("kind", "")), "event_at_s": round(at, 3), "disconnected": gone,
        "connected_before": round(c0), "booted_before": round(b0),
        "t_99_connected_s": first(lambda g: g.get("connected", 0.0) >= c0 - 0.01 * gone),
        "t_100_connected_s": first(lambda g: g.get("connected", 0.0) >= c0),
        "t_all_accepted_s": first(lambda g: g.get("booted", 0.0) >= b0),
        "offline_replay": {
            # the deepest station queue (as summary.offline), and the whole fleet's
            "max_queue_depth": round(max(r.gauges.get("offline_queue_max", 0.0) for r in window)),
            "max_queued_fleet": round(max(r.gauges.get("offline_queued", 0.0) for r in window)),
            "drains": drains.count,
            "drain_s_p50": round(drains.percentile_ms(50) / 1000, 3) if drains.count else None,
            "drain_s_max": round(drains.max_ms() / 1000, 3) if drains.count else None,
        },
    }
