"""The live progress line a run prints every second."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import orjson

from fleetsim.metrics.recorder import RESPONSE_KEY, IntervalStats
from fleetsim.run.selfcheck import UTILISATION_LIMIT, WAITED_SHARE_LIMIT
from fleetsim.scenario.model import ClockConfig

__all__ = ["IntervalTail", "ProgressLine", "clock_line"]


def clock_line(clock: ClockConfig) -> str:
    """One line saying which clock the run's message timestamps follow."""
    if clock.timestamps == "wall":
        return "timestamps: wall clock (now)" + (
            f"; driver sessions run {clock.time_factor:g}x" if clock.time_factor != 1 else "")
    start = time.strftime("%Y-%m-%dT%H:%MZ %a", time.gmtime(clock.epoch.timestamp()))
    return (f"timestamps: simulated clock from {start}, {clock.time_factor:g} simulated s per "
            f"wall s (not the wall clock); protocol intervals in {clock.intervals} seconds")


class ProgressLine:
    """One line a second::

        [ 12s sim Mon 07:12] 300/300 connected, 300 booted | 845 msg/s | service p99
        12.3 ms (worst action), response p99 40.1 ms | queued own 2% | errors 0, timeouts 0
        | 45 plugged, 310 kW

    ``sim …`` is the simulated time the messages are stamped with (absent when they
    carry the wall clock; the first line says which clock);
    *service* is the CSMS's time (sent → answer), *response* from due (what the stations
    saw), *queued own* the share of calls that waited behind their own station's calls;
    when that is above 5 % *and* the stations' pipes are more than 10 % busy (the final
    check's two conditions) the line says ``PIPES BUSY``: the response figure is then
    partly the simulator's own queueing (summary.json's ``pipes`` says why and what to
    change)."""

    def __init__(self, planned: int, *, stream: TextIO | None = None, every_s: float = 1.0,
                 clock: ClockConfig | None = None) -> None:
        self.planned, self.stream, self.every_s = planned, stream or sys.stderr, every_s
        self.errors = 0
        self.timeouts = 0
        self._last = -1e9
        # simulated timestamps: each line shows the simulated time its messages carry
        self._sim = (None if clock is None or clock.timestamps == "wall"
                     else (clock.epoch.timestamp(), clock.time_factor))
        self._header = clock_line(clock) if clock is not None else None

    def _stamp(self, t_s: float) -> str:
        if self._sim is None:
            return ""
        epoch, factor = self._sim
        return time.strftime(" sim %a %H:%M", time.gmtime(epoch + t_s * factor))

    def __call__(self, st: IntervalStats, stale: Mapping[str, int] | None = None) -> None:
        """Print ``st`` (at most every ``every_s``); ``stale``: engines late by N s, named."""
        g, c = st.gauges, st.counts
        self.errors += c.get("errors", 0) + c.get("faults", 0)
        self.timeouts += c.get("timeouts", 0)
        if st.t_s - self._last < self.every_s:
            return
        self._last = st.t_s
        if self._header:
            self.stream.write(self._header + "\n")
            self._header = None
        p99 = max((h.percentile_ms(99) for k, h in st.hists.items()
                   if h.count and not k.startswith("~")), default=0.0)
        resp = st.hists.get(RESPONSE_KEY)
        r99 = resp.percentile_ms(99) if resp is not None and resp.count else 0.0
        sent = c.get("sent", 0)
        own = c.get("waited_own", 0) / sent if sent else 0.0
        # the same two conditions as the final check (run/selfcheck.py): calls waited behind
        # their own station AND the offered load keeps a station's pipe > 10 % busy; the
        # plug-in burst (Status, Authorize, Start back to back) alone is not a busy pipe
        timed = [(h.count, h.percentile_ms(50)) for k, h in st.hists.items()
                 if h.count and not k.startswith("~")]
        n = sum(cnt for cnt, _ in timed)
        s50_s = sum(cnt * p50 for cnt, p50 in timed) / n / 1000 if n else 0.0
        connected = g.get("connected", 0.0)
        util = sent / connected * s50_s if connected else 0.0
        busy = (" PIPES BUSY" if own > WAITED_SHARE_LIMIT and util > UTILISATION_LIMIT
                and sent >= 20 else "")
        msgs = sent + c.get("received", 0)
        self.stream.write(
            f"[{st.t_s:5.0f}s{self._stamp(st.t_s)}] "
            f"{int(g.get('connected', 0))}/{self.planned} connected, "
            f"{int(g.get('booted', 0))} booted | {msgs:.0f} msg/s | service p99 {p99:.1f} ms, "
            f"response p99 {r99:.1f} ms | queued own {own:.0%}{busy} | errors {self.errors}, "
            f"timeouts {self.timeouts} | {int(g.get('plugged', 0))} plugged, "
            f"{g.get('power_kw', 0.0):.0f} kW"
            + ("".join(f" | {name} stale {late} s" for name, late in sorted(stale.items()))
               if stale else "") + "\n")
        self.stream.flush()


class IntervalTail:
    """Follows every ``<run>/workers/*/intervals.jsonl`` and yields merged intervals in order.

    An interval index is complete once every engine that has reported has reached
    it, or two seconds later at the latest (a stalled engine must not freeze the
    line). A late engine's last report stands in for it — its stations are still
    connected, so the line never under-counts — and :attr:`stale` names it with
    how many seconds it is behind. What arrives late still lands in the results.
    """

    def __init__(self, run: Path) -> None:
        self.run = run
        self._offsets: dict[Path, int] = {}
        self._last: dict[Path, int] = {}
        self._pending: dict[int, IntervalStats] = {}
        self._emitted = -1
        self._latest: dict[Path, IntervalStats] = {}
        self.stale: dict[str, int] = {}  # engine (its folder's name) -> seconds behind

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
                if st.index > self._last.get(f, -1):
                    self._last[f] = st.index
                    self._latest[f] = st
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
        for st in out:
            for f, last in self._last.items():
                if last < st.index:  # late: its last report stands in, gauges only
                    st.add(IntervalStats(index=st.index, t_s=st.t_s,
                                         gauges=dict(self._latest[f].gauges)))
        if out:
            self._emitted = out[-1].index
            self.stale = {f.parent.name: self._emitted - last
                          for f, last in self._last.items() if last < self._emitted}
        return out
