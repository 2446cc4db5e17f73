"""PNG plots of a results folder: the only place in fleetsim that imports matplotlib.

matplotlib is imported inside the functions (so ``import fleetsim.report`` stays
light) and driven without pyplot: a :class:`~matplotlib.figure.Figure` drawn on an
Agg canvas, no global state, safe in any thread. Every plot states the scenario,
its units and a legend; data that is empty yields a figure saying "no data".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from fleetsim.report.histograms import Histogram, cdf_ms, load_histograms
from fleetsim.report.results import PLOTS, RunSummary, load_summary
from fleetsim.report.timeseries import TimeSeries, load_timeseries

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from fleetsim.report.compare import Comparison

__all__ = [
    "COMPARE_PLOT",
    "PLOT_FILES",
    "plot_compare",
    "plot_fleet_power",
    "plot_latency",
    "plot_latency_cdf",
    "plot_stations",
    "plot_throughput",
    "write_plots",
]

PLOT_FILES: Final = ("latency.png", "latency_cdf.png", "throughput.png", "stations.png",
                     "fleet_power.png")
COMPARE_PLOT: Final = "compare.png"
MAX_PANELS: Final = 9  # busiest actions drawn in latency.png; all are in report.html
MAX_CDF_LINES: Final = 10
_WALL_X: Final = "wall time since run start [s]"
_OUTCOME_COLORS: Final = {"ok": "tab:blue", "REGRESSION": "tab:red", "improved": "tab:green",
                          "insufficient data": "0.75"}
_PERCENTILES: Final = (("p50_ms", "p50", "tab:blue"), ("p95_ms", "p95", "tab:orange"),
                       ("p99_ms", "p99", "tab:red"))


def write_plots(results_dir: Path) -> list[Path]:
    """Draw every plot of ``PLOT_FILES`` into ``results_dir/plots`` (and ``storm.png``
    when faults were injected); return their paths.

    Reads summary.json, timeseries.csv and histograms.json; ResultsError if one is
    missing or garbled.
    """
    results_dir = Path(results_dir)
    summary, ts = load_summary(results_dir), load_timeseries(results_dir)
    histograms = load_histograms(results_dir)
    out = results_dir / PLOTS
    out.mkdir(exist_ok=True)
    name = summary.scenario
    paths = [
        plot_latency(ts, name, out / PLOT_FILES[0]),
        plot_latency_cdf(histograms, name, out / PLOT_FILES[1]),
        plot_throughput(ts, name, out / PLOT_FILES[2]),
        plot_stations(ts, name, out / PLOT_FILES[3], planned=summary.stations.get("planned")),
        plot_fleet_power(ts, summary, out / PLOT_FILES[4]),
    ]
    if summary.storm is not None:  # a run with injected faults: the fleet around the event
        from fleetsim.report.storm_plot import STORM_PLOT, plot_storm

        paths.append(plot_storm(ts, summary, out / STORM_PLOT))
    return paths


def plot_latency(ts: TimeSeries, scenario: str, path: Path) -> Path:
    """p50/p95/p99 per action over time, one panel per action (the busiest MAX_PANELS),
    connected stations shaded on a second axis."""
    title = (f"{scenario}: service latency per action, per interval "
             "(CALL sent → answer: the CSMS's time)")
    totals = {k: float(np.nansum(a.count)) for k, a in ts.actions.items()}
    keys = sorted((k for k, n in totals.items() if n > 0), key=lambda k: (-totals[k], k))
    if not keys or len(ts) == 0:
        return _no_data(title, path, "no calls recorded in timeseries.csv")
    shown = keys[:MAX_PANELS]
    if len(keys) > len(shown):
        title += f"\n({len(shown)} busiest of {len(keys)} actions; all in report.html)"
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig = _figure(max(10.0, 4.6 * cols + 0.6), 2.9 * rows + 1.0)  # title and legend fit
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            ax.set_visible(False)
            continue
        series = ts.actions[shown[i]]
        stations = ax.twinx()
        stations.fill_between(ts.t_s, ts.connected, color="0.6", alpha=0.25, step="post",
                              linewidth=0, label="connected stations (right axis)")
        stations.set_ylim(bottom=0)
        if i % cols == cols - 1 or i == len(shown) - 1:
            stations.set_ylabel("connected stations")
        ax.set_zorder(stations.get_zorder() + 1)
        ax.patch.set_visible(False)
        for column, label, color in _PERCENTILES:
            ax.plot(ts.t_s, getattr(series, column), color=color, label=label, linewidth=1.2,
                    marker=".", markersize=3)
        if np.all(np.isnan(series.p99_ms)) and np.all(np.isnan(series.p50_ms)):
            ax.text(0.5, 0.5, "no latency samples", transform=ax.transAxes, ha="center")
        else:
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
        ax.set_title(f"{shown[i]}  ({totals[shown[i]]:,.0f} calls)", fontsize=10)
        if i % cols == 0:
            ax.set_ylabel("latency [ms]")
        if i >= len(shown) - cols:
            ax.set_xlabel(_WALL_X)
            ax.xaxis.set_tick_params(labelbottom=True)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    shade, shade_label = fig.axes[-1].get_legend_handles_labels()
    fig.legend(handles + shade, labels + shade_label, loc="outside lower center",
               ncols=len(handles) + len(shade), frameon=False)
    fig.suptitle(title)
    return _save(fig, path)


def plot_latency_cdf(histograms: Mapping[str, Histogram], scenario: str, path: Path) -> Path:
    """Latency CDF per action (left) and its tail, the fraction slower than x (right)."""
    title = f"{scenario}: service latency distribution per action (whole run)"
    counts = {k: int(h.get_total_count()) for k, h in histograms.items()}
    keys = sorted((k for k, n in counts.items() if n > 0), key=lambda k: (-counts[k], k))
    if not keys:
        return _no_data(title, path, "no samples in histograms.json")
    if len(keys) > MAX_CDF_LINES:
        title += f" ({MAX_CDF_LINES} busiest of {len(keys)} actions)"
    fig = _figure(13, 5.2)
    cdf_ax, tail_ax = fig.subplots(1, 2)
    for key in keys[:MAX_CDF_LINES]:
        x, y = cdf_ms(histograms[key])
        x, y = np.concatenate(([x[0]], x)), np.concatenate(([0.0], y))  # the rise from 0
        label = f"{key} ({counts[key]:,})"
        (line,) = cdf_ax.step(x, y, where="post", label=label, linewidth=1.3)
        above = 1.0 - y
        keep = above > 0
        tail_ax.step(x[keep], above[keep], where="post", color=line.get_color(), linewidth=1.3)
    cdf_ax.set_ylim(0, 1.01)
    cdf_ax.set_ylabel("fraction of calls answered within x")
    cdf_ax.set_title("CDF")
    tail_ax.set_yscale("log")
    tail_ax.set_ylabel("fraction of calls slower than x")
    tail_ax.set_title("tail (log scale; colours as on the left)")
    for level, name in ((1e-1, "p90"), (1e-2, "p99"), (1e-3, "p99.9")):
        tail_ax.axhline(level, color="0.5", linestyle=":", linewidth=0.8)
        tail_ax.annotate(name, (1.0, level), xycoords=("axes fraction", "data"), fontsize=8,
                         color="0.4", ha="right", va="bottom")
    for ax in (cdf_ax, tail_ax):
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_xlabel("latency [ms] (log scale)")
        ax.grid(True, which="major", alpha=0.3)
    cdf_ax.legend(loc="lower right", fontsize=8, title="action (calls)", title_fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def plot_throughput(ts: TimeSeries, scenario: str, path: Path) -> Path:
    """Messages sent and received per second (top) and errors per second (bottom)."""
    title = f"{scenario}: throughput"
    if len(ts) == 0:
        return _no_data(title, path, "timeseries.csv has no rows")
    width = ts.interval_s()
    title += f" (per {np.median(width):g} s interval)"
    fig = _figure(11, 6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.plot(ts.t_s, ts.sent / width, label="sent", color="tab:blue", linewidth=1.2)
    top.plot(ts.t_s, ts.received / width, label="received", color="tab:green", linewidth=1.2,
             linestyle="--")
    top.set_ylabel("messages / s")
    top.set_ylim(bottom=0)
    top.legend(loc="lower left")
    bottom.bar(ts.t_s, ts.errors / width, width=-width, align="edge", color="tab:red",
               label="errors")
    if not np.nansum(ts.errors):
        bottom.text(0.5, 0.5, "no errors", transform=bottom.transAxes, ha="center",
                    va="center", color="0.4")
    bottom.set_ylim(bottom=0)
    bottom.set_ylabel("errors / s")
    bottom.set_xlabel(_WALL_X)
    bottom.legend(loc="upper left")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    return _save(fig, path)


def plot_stations(ts: TimeSeries, scenario: str, path: Path, *,
                  planned: float | None = None) -> Path:
    """Connected and booted stations over time: ramps and reconnect storms."""
    title = f"{scenario}: stations connected and booted"
    if len(ts) == 0:
        return _no_data(title, path, "timeseries.csv has no rows")
    fig = _figure(11, 4.8)
    ax = fig.subplots()
    ax.step(ts.t_s, ts.connected, where="post", label="connected", color="tab:blue",
            linewidth=1.5)
    ax.step(ts.t_s, ts.booted, where="post", label="booted (BootNotification accepted)",
            color="tab:green", linewidth=1.5, linestyle="--")
    if planned:
        ax.axhline(planned, color="0.4", linestyle=":", linewidth=1,
                   label=f"planned ({planned:,.0f})")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("stations")
    ax.set_xlabel(_WALL_X)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.suptitle(title)
    return _save(fig, path)


def plot_fleet_power(ts: TimeSeries, summary: RunSummary, path: Path) -> Path:
    """Fleet power [kW] and vehicles plugged in / charging, against the simulated clock."""
    title = f"{summary.scenario}: fleet power and vehicles"
    keep = ~np.isnat(ts.sim_time)
    if not keep.any():
        return _no_data(title, path, "timeseries.csv has no simulated time")
    if summary.time_factor and summary.time_factor != 1:
        title += f"  (simulated clock, {summary.time_factor:g}x wall time)"
    import matplotlib.dates as mdates

    when = ts.sim_time[keep]
    fig = _figure(11, 5)
    ax = fig.subplots()
    ax.fill_between(when, ts.power_kw[keep], step="post", color="tab:green", alpha=0.3,
                    linewidth=0)
    ax.step(when, ts.power_kw[keep], where="post", color="tab:green", linewidth=1.3,
            label="fleet power [kW] (left axis)")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("fleet power [kW]")
    cars = ax.twinx()
    cars.step(when, ts.plugged[keep], where="post", color="tab:purple", linewidth=1.2,
              label="vehicles plugged in (right axis)")
    cars.step(when, ts.charging[keep], where="post", color="tab:orange", linewidth=1.2,
              linestyle="--", label="vehicles charging (right axis)")
    cars.set_ylim(bottom=0)
    cars.set_ylabel("vehicles")
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel("simulated time (UTC)")
    ax.grid(True, alpha=0.3)
    lines = ax.get_legend_handles_labels()
    more = cars.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left")
    fig.suptitle(title)
    return _save(fig, path)


def plot_compare(comparison: Comparison, path: Path) -> Path:
    """Baseline (circle) vs current (diamond) latency per action, one panel per compared
    percentile; the current point is red for a regression, green for an improvement."""
    from matplotlib.lines import Line2D

    title = (f"latency: current {comparison.current_name} vs baseline "
             f"{comparison.baseline_name}")
    metrics = [m for m in comparison.metrics if m != "error_rate"]
    rows = {(r.action, r.metric): r for r in comparison.rows
            if r.baseline is not None and r.current is not None}
    actions = sorted({a for a, m in rows if m in metrics})
    if not actions:
        return _no_data(title, path, "no action with latency in both runs")
    fig = _figure(4.4 * len(metrics) + 1.8, 0.4 * len(actions) + 2.0)
    axes: Sequence[Axes] = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        for y, action in enumerate(actions):
            row = rows.get((action, metric))
            if row is None or row.baseline is None or row.current is None:
                continue
            color = _OUTCOME_COLORS.get(row.outcome.value, "tab:blue")
            ax.plot([row.baseline, row.current], [y, y], color=color, linewidth=1, alpha=0.6)
            ax.plot(row.baseline, y, "o", color="0.5", markersize=6)
            ax.plot(row.current, y, "D", color=color, markersize=6)
            ax.annotate(f" {row.change * 100:+.0f}%", (max(row.baseline, row.current), y),
                        fontsize=8, va="center", color=color)
        ax.set_xscale("log")
        ax.margins(x=0.25)
        _plain_log_ticks(ax.xaxis)
        ax.set_title(metric)
        ax.set_xlabel("latency [ms] (log scale)")
        ax.grid(True, axis="x", which="both", alpha=0.25)
    axes[0].set_yticks(range(len(actions)), actions)
    axes[0].set_ylim(len(actions) - 0.5, -0.5)
    marks = [Line2D([], [], marker="o", color="0.5", linestyle="", label="baseline")] + [
        Line2D([], [], marker="D", color=c, linestyle="", label=f"current: {name}")
        for name, c in _OUTCOME_COLORS.items()]
    fig.legend(handles=marks, loc="outside lower center", ncols=len(marks), frameon=False)
    fig.suptitle(title)
    return _save(fig, path)


def _figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def _save(fig: Figure, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.savefig(path, format="png")
    return path


def _no_data(title: str, path: Path, why: str) -> Path:
    fig = _figure(8, 3)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.55, "no data", ha="center", va="center", fontsize=22, color="0.35")
    ax.text(0.5, 0.3, why, ha="center", va="center", fontsize=11, color="0.45")
    fig.suptitle(title)
    return _save(fig, path)


def _plain_log_ticks(axis: Any) -> None:
    """Log-scale tick labels as 0.5, 1, 20 rather than 5x10^-1. Minor ticks are labelled
    (2 and 5, or all) only when the axis spans few decades, so labels never collide."""
    from matplotlib.ticker import FuncFormatter

    def label(value: float, _pos: int | None, *, minor: bool = False) -> str:
        if value <= 0:
            return ""
        if minor:
            low, high = axis.get_view_interval()
            decades = math.log10(high / low) if 0 < low < high else math.inf
            mantissa = round(value / 10 ** math.floor(math.log10(value)))
            wanted = () if decades > 2.5 else (2, 5) if decades > 0.8 else range(2, 10)
            if mantissa not in wanted:
                return ""
        return f"{value:g}"

    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(FuncFormatter(lambda v, pos: label(v, pos, minor=True)))
