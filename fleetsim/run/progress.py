"""The live progress line a run prints every second."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import orjson

from fleetsim.metrics.recorder import RESPONSE_KEY, IntervalStats
from fleetsim.run.selfcheck import WAITED_SHARE_LIMIT

__all__ = ["IntervalTail", "ProgressLine"]


class ProgressLine:
    """One line a second::

        [ 12s] 300/300 connected, 300 booted | 845 msg/s | service p99 12.3 ms (worst
        action), response p99 40.1 ms | queued own 2% | errors 0, timeouts 0 | 45 plugged, 310 kW

    *service* is the CSMS's time (sent → answer), *response* from due (what the stations
    saw), *queued own* the share of calls that waited behind their own station's calls;
    above 5 % the line says ``PIPES BUSY``: the response figure is then partly the
    simulator's own queueing (summary.json's ``pipes`` says why and what to change)."""

    def __init__(self, planned: int, *, stream: TextIO | None = None, every_s: float = 1.0) -> None:
        self.planned, self.stream, self.every_s = planned, stream or sys.stderr, every_s
        self.errors = 0
        self.timeouts = 0
        self._last = -1e9

    def __call__(self, st: IntervalStats) -> None:
        g, c = st.gauges, st.counts
        self.errors += c.get("errors", 0) + c.get("faults", 0)
        self.timeouts += c.get("timeouts", 0)
        if st.t_s - self._last < self.every_s:
            return
        self._last = st.t_s
        p99 = max((h.percentile_ms(99) for k, h in st.hists.items()
                   if h.count and not k.startswith("~")), default=0.0)
        resp = st.hists.get(RESPONSE_KEY)
        r99 = resp.percentile_ms(99) if resp is not None and resp.count else 0.0
        sent = c.get("sent", 0)
        own = c.get("waited_own", 0) / sent if sent else 0.0
        busy = " PIPES BUSY" if own > WAITED_SHARE_LIMIT and sent >= 20 else ""
        msgs = sent + c.get("received", 0)
        self.stream.write(
            f"[{st.t_s:5.0f}s] {int(g.get('connected', 0))}/{self.planned} connected, "
            f"{int(g.get('booted', 0))} booted | {msgs:.0f} msg/s | service p99 {p99:.1f} ms, "
            f"response p99 {r99:.1f} ms | queued own {own:.0%}{busy} | errors {self.errors}, "
            f"timeouts {self.timeouts} | {int(g.get('plugged', 0))} plugged, "
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
