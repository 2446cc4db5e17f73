"""``plots/capacity.png`` from a capacity search folder's ``capacity.json``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from fleetsim.exceptions import ResultsError

__all__ = ["plot_capacity"]


def plot_capacity(folder: Path) -> Path:
    """Throughput and worst p99 against stations, the knee marked; returns the PNG path."""
    path = Path(folder) / "capacity.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        levels = data["levels"]
        knee = data["knee_stations"]
    except (OSError, ValueError, KeyError) as exc:
        raise ResultsError(f"{path}: cannot read capacity results ({exc})") from None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    n = [lv["stations"] for lv in levels]
    ax.plot(n, [lv["messages_per_s"] for lv in levels], "o-", color="tab:blue",
            label="messages/s (sent + received)")
    ax.set_xlabel("stations")
    ax.set_ylabel("messages per second", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(n, [lv["worst_p99_ms"] for lv in levels], "s-", color="tab:red",
             label="worst p99 over actions [ms]")
    ax2.set_ylabel("worst p99 latency [ms]", color="tab:red")
    half = max(1.0, (max(n) - min(n)) * 0.03) if n else 1.0
    for lv in levels:
        if not lv["passed"]:
            ax.axvspan(lv["stations"] - half, lv["stations"] + half, color="tab:red", alpha=0.2,
                       label="failed level")
    if knee is not None:
        ax.axvline(knee, color="k", linestyle="--", label=f"knee: {knee} stations")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left")
    stopped = textwrap.shorten(str(data.get("stopped_by", "?")), 110, placeholder=" …")
    ax.set_title(f"capacity search: last passing level {knee if knee is not None else 'none'} "
                 f"stations\nstopped by {stopped}", fontsize=10)
    fig.tight_layout()
    out = Path(folder) / "plots" / "capacity.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
