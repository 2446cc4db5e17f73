"""The live progress line a run prints every second."""

from __future__ import annotations

import sys
from typing import TextIO

from fleetsim.metrics.recorder import IntervalStats

__all__ = ["ProgressLine"]


class ProgressLine:
    """``[ 12s] 300/300 connected, 300 booted | 845 msg/s | p99 12.3 ms | errors 0 | 45 plugged, 310 kW``."""

    def __init__(self, planned: int, *, stream: TextIO | None = None, every_s: float = 1.0) -> None:
        self.planned, self.stream, self.every_s = planned, stream or sys.stderr, every_s
        self.errors = 0
        self._last = -1e9

    def __call__(self, st: IntervalStats) -> None:
        g, c = st.gauges, st.counts
        self.errors += c.get("errors", 0) + c.get("faults", 0)
        if st.t_s - self._last < self.every_s:
            return
        self._last = st.t_s
        p99 = max((h.percentile_ms(99) for h in st.hists.values() if h.count), default=0.0)
        msgs = c.get("sent", 0) + c.get("received", 0)
        self.stream.write(
            f"[{st.t_s:5.0f}s] {int(g.get('connected', 0))}/{self.planned} connected, "
            f"{int(g.get('booted', 0))} booted | {msgs:.0f} msg/s | worst p99 {p99:.1f} ms | "
            f"errors {self.errors} | {int(g.get('plugged', 0))} plugged, "
            f"{g.get('power_kw', 0.0):.0f} kW\n")
        self.stream.flush()
