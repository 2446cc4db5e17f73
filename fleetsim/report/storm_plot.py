"""``plots/storm.png``: the fleet around an injected fault (a reconnect storm).

Stations connected and booted (left axis) and transaction messages queued offline
fleet-wide (right axis), per second of wall time around the biggest injected event,
with the event and the headline times of ``summary.json`` → ``storm`` marked: 99 %
and all of the disconnected stations connected again, all booted again.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fleetsim.report.results import RunSummary, StormFigures
from fleetsim.report.timeseries import TimeSeries

__all__ = ["STORM_PLOT", "plot_storm"]

STORM_PLOT = "storm.png"
_BEFORE_S = 10.0  # wall seconds shown before the event
_AFTER_S = 15.0   # … and after the last headline time


def _span(storm: StormFigures, ts: TimeSeries) -> tuple[float, float]:
    marks = [t for t in (storm.t_99_connected_s, storm.t_100_connected_s,
                         storm.t_all_accepted_s) if not math.isnan(t)]
    end = float(ts.t_s[-1]) if len(ts) else storm.event_at_s
    last = storm.event_at_s + max(marks) + _AFTER_S if marks else end
    return max(0.0, storm.event_at_s - _BEFORE_S), min(end, last)


def plot_storm(ts: TimeSeries, summary: RunSummary, path: Path) -> Path:
    """Draw the storm plot of ``summary.storm`` into ``path``; returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    storm = summary.storm
    fig = Figure(figsize=(11, 5.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    title = f"{summary.scenario}: reconnect storm"
    if storm is None or len(ts) == 0:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no injected fault in this run", ha="center", va="center",
                fontsize=16, color="0.4")
        fig.suptitle(title)
        fig.savefig(path, format="png")
        return path
    lo, hi = _span(storm, ts)
    keep = (ts.t_s >= lo) & (ts.t_s <= hi)
    t = ts.t_s[keep]
    ax.step(t, ts.connected[keep], where="post", color="tab:blue", linewidth=1.6,
            label="connected")
    ax.step(t, ts.booted[keep], where="post", color="tab:green", linewidth=1.4, linestyle="--",
            label="booted (BootNotification accepted)")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("stations")
    ax.set_xlabel("wall time since run start [s]")
    queue = ax.twinx()
    queue.fill_between(t, ts.offline_queued[keep], step="post", color="tab:orange", alpha=0.25,
                       linewidth=0)
    queue.step(t, ts.offline_queued[keep], where="post", color="tab:orange", linewidth=1.1,
               label="transaction messages queued offline (right axis)")
    queue.set_ylim(bottom=0, top=max(1.0, float(np.nanmax(ts.offline_queued[keep],
                                                            initial=0.0)) * 1.15))
    queue.set_ylabel("queued offline [messages]")
    for e in summary.fault_events:
        at = float(e.get("at_s", math.nan))
        if lo <= at <= hi:
            ax.axvline(at, color="tab:red", linewidth=1.5)
    ax.axvline(storm.event_at_s, color="tab:red", linewidth=1.5,
               label=f"{storm.event} at {storm.event_at_s:g} s ({storm.disconnected:,} stations)")
    for dt, name, style in ((storm.t_99_connected_s, "99 % connected", ":"),
                            (storm.t_100_connected_s, "all connected", "-."),
                            (storm.t_all_accepted_s, "all booted", "--")):
        if not math.isnan(dt):
            ax.axvline(storm.event_at_s + dt, color="0.3", linestyle=style, linewidth=1.1,
                       label=f"{name}: +{dt:g} s")
    ax.grid(True, alpha=0.3)
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = queue.get_legend_handles_labels()
    ax.legend(lines + more, labels + more_labels, loc="lower right", fontsize=8)
    replay = storm.offline_replay
    drain = replay.get("drain_s_max", math.nan)
    fig.suptitle(f"{title} — offline queue max {replay.get('max_queue_depth', 0):g} per station, "
                 f"drained within {drain:g} s" if not math.isnan(drain) else title)
    fig.savefig(path, format="png")
    return path
