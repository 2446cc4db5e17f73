"""What one engine process records: latencies, call accounting, faults, intervals.

The station core calls the ``call_*`` methods on the hot path; keep them cheap.
Every CALL a station sends ends in exactly one of answered / CALLERROR / timed
out / interrupted (connection lost or run stopped), so
``sent == answered + call_errors + timeouts + interrupted`` holds at the end.
Keys are ``"<version>/<Action>"``; station ids never become keys.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fleetsim.metrics.histogram import LatencyHistogram

__all__ = ["DRAIN_KEY", "ActionStats", "IntervalStats", "Recorder"]

LATE_SEND_S = 0.1  # a send more than 100 ms after it was due is "late"
DRAIN_KEY = "~offline_drain"  # interval histogram of offline-queue drains (not an action)
# Per-second histograms only feed the time series: 1 % resolution is plenty there and
# makes them 10x smaller, so cutting an interval does not stall the event loop.
INTERVAL_FIGURES = 2


@dataclass(slots=True)
class ActionStats:
    """Totals for one ``version/Action`` key over the whole run."""

    hist: LatencyHistogram = field(default_factory=LatencyHistogram)
    sent: int = 0
    answered: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, other: ActionStats) -> None:
        self.hist.add(other.hist)
        self.sent += other.sent
        self.answered += other.answered
        self.errors.update(other.errors)


@dataclass(slots=True)
class IntervalStats:
    """One reporting interval of one process; several processes' merge by index."""

    index: int
    t_s: float
    gauges: dict[str, float] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    hists: dict[str, LatencyHistogram] = field(default_factory=dict)

    def add(self, other: IntervalStats) -> None:
        for k, v in other.gauges.items():
            if k == "sim_time_s" or k.endswith("_max"):  # maxima merge as maxima, counts add
                self.gauges[k] = max(self.gauges.get(k, v), v)
            else:
                self.gauges[k] = self.gauges.get(k, 0.0) + v
        self.counts.update(other.counts)
        for k, h in other.hists.items():
            mine = self.hists.get(k)
            if mine is None:
                mine = self.hists[k] = LatencyHistogram(significant_figures=INTERVAL_FIGURES)
            mine.add(h)

    def to_wire(self) -> dict[str, Any]:
        return {"index": self.index, "t_s": self.t_s, "gauges": self.gauges,
                "counts": dict(self.counts), "hists": {k: h.encode() for k, h in self.hists.items()}}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> IntervalStats:
        return cls(index=int(d["index"]), t_s=float(d["t_s"]), gauges=dict(d["gauges"]),
                   counts=Counter(d["counts"]),
                   hists={k: LatencyHistogram.decode(v) for k, v in d["hists"].items()})


class Recorder:
    """Per-process sink for station events; ``interval()`` cuts a time slice."""

    def __init__(self) -> None:
        self.actions: dict[str, ActionStats] = {}
        self.faults: Counter[str] = Counter()
        self.incoming: Counter[str] = Counter()
        self.loop_lag = LatencyHistogram()
        self.late_sends = 0
        self.send_slip = LatencyHistogram()
        self._ihists: dict[str, LatencyHistogram] = {}
        self._icounts: Counter[str] = Counter()
        self._index = 0
        self._iqmax = 0  # the deepest offline queue of a station in this interval
        # protocol depth (issue #5): CSMS→station flows, strict-mode conformance, offline queues
        self.flows: dict[str, LatencyHistogram] = {}
        self.conformance: Counter[str] = Counter()
        self.offline_max_depth = 0
        self.offline_drain = LatencyHistogram()
        self.offline_replayed = 0
        self.offline_dropped = 0
        # faults fleetsim injected on purpose (scenario faults:), apart from the CSMS's own
        self.injected: Counter[str] = Counter()
        self.injected_events: dict[str, dict[str, Any]] = {}

    def _stats(self, key: str) -> ActionStats:
        st = self.actions.get(key)
        if st is None:
            st = self.actions[key] = ActionStats()
        return st

    # -- hot path -------------------------------------------------------------------
    def call_sent(self, key: str, slip_s: float) -> None:
        """A CALL left ``slip_s`` seconds after it was due."""
        self._stats(key).sent += 1
        self._icounts["sent"] += 1
        if slip_s > LATE_SEND_S:
            self.late_sends += 1
            self.send_slip.record_s(slip_s)

    def call_done(self, key: str, latency_s: float) -> None:
        """A CALLRESULT arrived ``latency_s`` after the CALL was due."""
        st = self._stats(key)
        st.answered += 1
        st.hist.record_s(latency_s)
        h = self._ihists.get(key)
        if h is None:
            h = self._ihists[key] = LatencyHistogram(significant_figures=INTERVAL_FIGURES)
        h.record_s(latency_s)
        self._icounts["received"] += 1

    def call_failed(self, key: str, kind: str) -> None:
        """A CALL ended without a CALLRESULT: ``CALLERROR:<code>``, ``timeout``, ``interrupted``."""
        self._stats(key).errors[kind] += 1
        self._icounts["errors"] += 1

    def fault(self, kind: str, n: int = 1) -> None:
        """A station-level fault: connect_failed, connection_lost, malformed_frame, …"""
        self.faults[kind] += n
        self._icounts["faults"] += n

    def received_call(self, key: str) -> None:
        """The CSMS sent a CALL of this key to a station."""
        self.incoming[key] += 1
        self._icounts["received"] += 1

    # -- protocol depth (rare events) --------------------------------------------------
    def flow(self, key: str, latency_s: float) -> None:
        """A CSMS command took ``latency_s`` to its effect, e.g.
        ``2.0.1/RequestStartTransaction→TransactionEvent`` (received → acknowledged)."""
        h = self.flows.get(key)
        if h is None:
            h = self.flows[key] = LatencyHistogram()
        h.record_s(latency_s)

    def violation(self, key: str) -> None:
        """Strict mode: a CSMS message failed its schema (``2.0.1/Heartbeat.response``)."""
        self.conformance[key] += 1

    def offline_drained(self, drain_s: float) -> None:
        """A station's offline queue emptied ``drain_s`` after it reconnected."""
        self.offline_drain.record_s(drain_s)
        h = self._ihists.get(DRAIN_KEY)
        if h is None:
            h = self._ihists[DRAIN_KEY] = LatencyHistogram(significant_figures=INTERVAL_FIGURES)
        h.record_s(drain_s)

    # -- injected faults (rare events) ----------------------------------------------------
    def inject(self, kind: str, n: int = 1) -> None:
        """fleetsim injected ``n`` faults of ``kind`` (``disconnect_dirty``, ``message_dropped``…)."""
        self.injected[kind] += n
        self._icounts["injected"] += n

    def inject_event(self, key: str, kind: str, *, at_s: float, stations: int = 0,
                     **facts: float) -> None:
        """One injected event (a mass disconnect, a CSMS restart) ``at_s`` wall seconds into
        the run; events with the same ``key`` from several engines add their stations."""
        e = self.injected_events.get(key)
        if e is None:
            self.injected_events[key] = {"kind": kind, "at_s": round(at_s, 3),
                                         "stations": stations, **facts}
        else:
            e["stations"] += stations

    def injected_summary(self) -> dict[str, Any]:
        events = sorted(self.injected_events.values(), key=lambda e: (e["at_s"], e["kind"]))
        return {"total": sum(self.injected.values()), "by_kind": dict(sorted(self.injected.items())),
                "events": events}

    def offline_depth(self, depth: int) -> None:
        if depth > self._iqmax:
            self._iqmax = depth
            if depth > self.offline_max_depth:
                self.offline_max_depth = depth

    def offline_summary(self) -> dict[str, Any]:
        d = self.offline_drain
        return {"max_queue_depth": self.offline_max_depth, "drains": d.count,
                "drain_s_p50": round(d.percentile_ms(50) / 1000, 3),
                "drain_s_max": round(d.max_ms() / 1000, 3),
                "replayed": self.offline_replayed, "dropped": self.offline_dropped}

    # -- slow path ------------------------------------------------------------------
    def record_loop_lag(self, lag_s: float) -> None:
        self.loop_lag.record_s(lag_s)

    def interval(self, t_s: float, gauges: dict[str, float]) -> IntervalStats:
        """Cut the current interval; the next one starts empty."""
        if self._iqmax:
            gauges["offline_queue_max"] = max(gauges.get("offline_queue_max", 0), self._iqmax)
            self._iqmax = 0
        out = IntervalStats(index=self._index, t_s=t_s, gauges=gauges, counts=self._icounts,
                            hists=self._ihists)
        self._index += 1
        self._icounts, self._ihists = Counter(), {}
        return out

    def add(self, other: Recorder) -> None:
        """Merge another process's totals (intervals merge separately)."""
        for k, st in other.actions.items():
            self._stats(k).add(st)
        self.faults.update(other.faults)
        self.incoming.update(other.incoming)
        self.loop_lag.add(other.loop_lag)
        self.send_slip.add(other.send_slip)
        self.late_sends += other.late_sends
        for k, h in other.flows.items():
            mine = self.flows.get(k)
            if mine is None:
                mine = self.flows[k] = LatencyHistogram()
            mine.add(h)
        self.conformance.update(other.conformance)
        self.offline_max_depth = max(self.offline_max_depth, other.offline_max_depth)
        self.offline_drain.add(other.offline_drain)
        self.offline_replayed += other.offline_replayed
        self.offline_dropped += other.offline_dropped
        self.injected.update(other.injected)
        for k, e in other.injected_events.items():
            self.inject_event(k, **e)

    def to_wire(self) -> dict[str, Any]:
        return {
            "actions": {k: {"hist": s.hist.encode(), "sent": s.sent, "answered": s.answered,
                            "errors": dict(s.errors)} for k, s in self.actions.items()},
            "faults": dict(self.faults), "incoming": dict(self.incoming),
            "loop_lag": self.loop_lag.encode(), "send_slip": self.send_slip.encode(),
            "late_sends": self.late_sends,
            "flows": {k: h.encode() for k, h in self.flows.items()},
            "conformance": dict(self.conformance),
            "offline": {"max_depth": self.offline_max_depth, "drain": self.offline_drain.encode(),
                        "replayed": self.offline_replayed, "dropped": self.offline_dropped},
            "injected": dict(self.injected), "injected_events": self.injected_events,
        }

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Recorder:
        r = cls()
        for k, s in d["actions"].items():
            r.actions[k] = ActionStats(hist=LatencyHistogram.decode(s["hist"]), sent=s["sent"],
                                       answered=s["answered"], errors=Counter(s["errors"]))
        r.faults.update(d["faults"])
        r.incoming.update(d["incoming"])
        r.loop_lag = LatencyHistogram.decode(d["loop_lag"])
        r.send_slip = LatencyHistogram.decode(d["send_slip"])
        r.late_sends = int(d["late_sends"])
        r.flows = {k: LatencyHistogram.decode(v) for k, v in d.get("flows", {}).items()}
        r.conformance.update(d.get("conformance", {}))
        off = d.get("offline")
        if off:
            r.offline_max_depth = int(off["max_depth"])
            r.offline_drain = LatencyHistogram.decode(off["drain"])
            r.offline_replayed, r.offline_dropped = int(off["replayed"]), int(off["dropped"])
        r.injected.update(d.get("injected", {}))
        r.injected_events = {k: dict(e) for k, e in d.get("injected_events", {}).items()}
        return r
