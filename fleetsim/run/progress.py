"""The live progress line a run prints every second."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import orjson

from fleetsim.metrics.recorder import IntervalStats

__all__ = ["IntervalTail", "ProgressLine"]


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


class IntervalTail:
    """Follows every ``<run>/workers/*/intervals.jsonl`` and yields merged intervals in order.

    An interval index is complete once every engine that has reported has reached
    it, or two seconds later at the latest (a stalled engine must not freeze the
    line); what arrives after that still lands in the results, just not on screen.
    """

    def __init__(self, run: Path) -> None:
        self.run = run
        self._offsets: dict[Path, int] = {}
        self._last: dict[Path, int] = {}
        self._pending: dict[int, IntervalStats] = {}
        self._emitted = -1

    def poll(self) -> list[IntervalStats]:
        base = self.run / "workers"
        files = sorted(base.glob("*/intervals.jsonl")) if base.is_dir() else []
        for f in files:
            off = self._offsets.get(f, 0)
            try:
                with open(f, "rb") as fh:
                    fh.seek(off)
                    chunk = fh.read()
            except OSError:
                continue
            end = chunk.rfind(b"\n") + 1  # only whole lines; the rest comes next poll
            self._offsets[f] = off + end
            for line in chunk[:end].splitlines():
                if not line.strip():
                    continue
                st = IntervalStats.from_wire(orjson.loads(line))
                self._last[f] = max(self._last.get(f, -1), st.index)
                if st.index <= self._emitted:
                    continue
                mine = self._pending.get(st.index)
                if mine is None:
                    self._pending[st.index] = st
                else:
                    mine.add(st)
        if not self._last:
            return []
        upto = max(min(self._last.values()), max(self._last.values()) - 2)
        out = [self._pending.pop(i) for i in sorted(self._pending) if i <= upto]
        if out:
            self._emitted = out[-1].index
        return out
