"""What one engine process records: latencies, call accounting, faults, intervals.

The station core calls the ``call_*`` methods on the hot path; keep them cheap.
Keys are ``"<version>/<Action>"``; station ids never become keys.

Three latency figures per key, each a mergeable HdrHistogram (issue #11):

- ``service``  — from when the CALL left the station to its answer: what the CSMS took;
- ``response`` — from when the call was *due* to its answer: what the station experienced
  (coordinated omission: a CSMS that stalls makes the calls behind the stalled one wait);
- ``queued``   — from due to sent, with the share of it per cause in ``queued_by``:
  ``own_calls`` (behind the station's own earlier calls: one CALL in flight, OCPP-J §4.1.1),
  ``offline`` (before the connection was up or the boot accepted) and ``engine`` (the
  generator's own lateness).

Every CALL *attempt* ends in exactly one of answered / CALLERROR / timed out / interrupted
(connection lost or run stopped): ``sent == answered + sum(errors) + sum(retried)``.
``errors`` holds the final fate of calls; ``retried`` the failed attempts a transaction
message was sent again after (TransactionMessageAttempts, offline replay), so one refused
message counts one error, not three. A CALLERROR and a timeout are samples too: a
CALLERROR with its real answer time, a timeout with the time it was given up (at least
the call timeout, counted in ``censored``). Only an interrupted attempt has no time.

Wire format (``to_wire``, one JSON object; histograms HdrHistogram V2 base64, µs): see
:meth:`Recorder.to_wire`; new per-key facts go in
:class:`ActionStats` (and its ``to_wire``/``from_wire``/``add``), run-level ones beside ``connect``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fleetsim.metrics.histogram import LatencyHistogram
from fleetsim.metrics.said import CsmsSaid
from fleetsim.metrics.wire import WireCounts

__all__ = ["DRAIN_KEY", "LAG_KEY", "QUEUE_CAUSES", "QUEUE_MATERIAL_S", "RESPONSE_KEY", "ActionStats",
           "IntervalStats", "Recorder"]

LATE_SEND_S = 0.1  # a send more than 100 ms after it was due is "late"
DRAIN_KEY = "~offline_drain"  # interval histogram of offline-queue drains (not an action)
RESPONSE_KEY = "~response"    # interval histogram of every action's response (due→answer)
LAG_KEY = "~loop_lag"         # interval histogram of the engine's event-loop lag samples
# Per-second histograms only feed the time series: 1 % resolution is plenty there and
# makes them 10x smaller, so cutting an interval does not stall the event loop.
INTERVAL_FIGURES = 2
QUEUE_CAUSES = ("own_calls", "offline", "engine")
QUEUE_MATERIAL_S = 0.001  # a call "waited" for a cause when that cause held it > 1 ms


def _ihist() -> LatencyHistogram:
    return LatencyHistogram(significant_figures=INTERVAL_FIGURES)


def _merge_hists(mine: dict[str, LatencyHistogram], other: dict[str, LatencyHistogram]) -> None:
    for k, h in other.items():
        m = mine.get(k)
        if m is None:
            m = mine[k] = LatencyHistogram()
        m.add(h)


@dataclass(slots=True)
class ActionStats:
    """Totals for one ``version/Action`` key over the whole run."""

    service: LatencyHistogram = field(default_factory=LatencyHistogram)
    response: LatencyHistogram = field(default_factory=LatencyHistogram)
    queued: LatencyHistogram = field(default_factory=LatencyHistogram)
    sent: int = 0          # CALL frames sent: first attempts, retries and replays
    first: int = 0         # first attempts (the calls the station made)
    answered: int = 0      # CALLRESULTs
    censored: int = 0      # timeouts, recorded at the time they were given up
    late: int = 0          # answers that came after their call had timed out
    answer_bytes: int = 0  # the CALLRESULT frames' sizes, summed (Locust's "Average size")
    errors: Counter[str] = field(default_factory=Counter)   # final fate of failed calls
    retried: Counter[str] = field(default_factory=Counter)  # failed attempts sent again
    # cause -> [calls that waited > 1 ms for it, total wait [s], longest wait [s]]
    queued_by: dict[str, list[float]] = field(default_factory=dict)

    def add(self, other: ActionStats) -> None:
        self.service.add(other.service)
        self.response.add(other.response)
        self.queued.add(other.queued)
        self.sent += other.sent
        self.first += other.first
        self.answered += other.answered
        self.censored += other.censored
        self.late += other.late
        self.answer_bytes += other.answer_bytes
        self.errors.update(other.errors)
        self.retried.update(other.retried)
        for cause, (n, total, mx) in other.queued_by.items():
            mine = self.queued_by.setdefault(cause, [0, 0.0, 0.0])
            mine[0] += n
            mine[1] += total
            mine[2] = max(mine[2], mx)

    def to_wire(self) -> dict[str, Any]:
        return {"service": self.service.encode(), "response": self.response.encode(),
                "queued": self.queued.encode(), "sent": self.sent, "first": self.first,
                "answered": self.answered, "censored": self.censored, "late": self.late,
                "answer_bytes": self.answer_bytes,
                "errors": dict(self.errors), "retried": dict(self.retried),
                "queued_by": self.queued_by}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> ActionStats:
        if "service" not in d:  # an older recorder: one due→answer histogram, no causes
            old = LatencyHistogram.decode(d["hist"])
            return cls(response=old, sent=d["sent"], first=d["sent"], answered=d["answered"],
                       errors=Counter(d["errors"]))
        return cls(service=LatencyHistogram.decode(d["service"]),
                   response=LatencyHistogram.decode(d["response"]),
                   queued=LatencyHistogram.decode(d["queued"]), sent=int(d["sent"]),
                   first=int(d["first"]), answered=int(d["answered"]),
                   censored=int(d["censored"]), late=int(d.get("late", 0)),
                   answer_bytes=int(d.get("answer_bytes", 0)),
                   errors=Counter(d["errors"]), retried=Counter(d["retried"]),
                   queued_by={k: list(v) for k, v in d["queued_by"].items()})


@dataclass(slots=True)
class IntervalStats:
    """One reporting interval of one process; several processes' merge by index.

    ``hists`` holds each action key's *service* figure and :data:`RESPONSE_KEY` (every
    action's response); ``counts`` ``sent``, ``received``, ``errors``, ``timeouts``,
    ``waited_own`` (calls that waited > 1 ms behind their station's own calls), …"""

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
                mine = self.hists[k] = _ihist()
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
        # connect + handshake per OCPP version; boot recovery (first Boot due → Accepted)
        self.connect: dict[str, LatencyHistogram] = {}
        self.boot = LatencyHistogram()
        self.boot_attempts: Counter[str] = Counter()
        self.wire = WireCounts()  # 2.1 SEND / CALLRESULTERROR: no latency, counted apart
        self.said = CsmsSaid()  # CALLERROR descriptions, refused idTags (metrics/said.py)

    def _stats(self, key: str) -> ActionStats:
        st = self.actions.get(key)
        if st is None:
            st = self.actions[key] = ActionStats()
        return st

    # -- hot path -------------------------------------------------------------------
    def call_sent(self, key: str, *, own_s: float, offline_s: float, engine_s: float,
                  first: bool = True) -> None:
        """A CALL left the station ``own_s + offline_s + engine_s`` after it was due:
        behind its own earlier calls, offline/before boot, and late through the engine."""
        st = self._stats(key)
        st.sent += 1
        st.first += first
        ic = self._icounts
        ic["sent"] += 1
        queued = own_s + offline_s + engine_s
        st.queued.record_s(queued)
        if queued > QUEUE_MATERIAL_S:
            qb = st.queued_by
            for cause, wait in (("own_calls", own_s), ("offline", offline_s),
                                ("engine", engine_s)):
                if wait > QUEUE_MATERIAL_S:
                    c = qb.get(cause)
                    if c is None:
                        c = qb[cause] = [0, 0.0, 0.0]
                    c[0] += 1
                    c[1] += wait
                    if wait > c[2]:
                        c[2] = wait
            if own_s > QUEUE_MATERIAL_S:
                ic["waited_own"] += 1
        if engine_s > LATE_SEND_S:
            self.late_sends += 1
            self.send_slip.record_s(engine_s)

    def _sample(self, st: ActionStats, key: str, response_s: float, service_s: float) -> None:
        st.service.record_s(service_s)
        st.response.record_s(response_s)
        ih = self._ihists
        h = ih.get(key)
        if h is None:
            h = ih[key] = _ihist()
        h.record_s(service_s)
        h = ih.get(RESPONSE_KEY)
        if h is None:
            h = ih[RESPONSE_KEY] = _ihist()
        h.record_s(response_s)

    def call_done(self, key: str, response_s: float, service_s: float, size: int = 0) -> None:
        """A CALLRESULT of ``size`` bytes arrived ``service_s`` after the CALL was sent,
        ``response_s`` after it was due."""
        st = self._stats(key)
        st.answered += 1
        st.answer_bytes += size
        self._sample(st, key, response_s, service_s)
        self._icounts["received"] += 1

    def call_failed(self, key: str, kind: str, response_s: float | None = None,
                    service_s: float = 0.0, *, retried: bool = False) -> None:
        """A CALL attempt ended without a CALLRESULT: ``CALLERROR:<code>`` (answered: times
        given), ``timeout`` (times given: censored at the timeout), ``interrupted`` or
        ``connection_lost`` (no time). ``retried``: the message will be sent again."""
        st = self._stats(key)
        if retried:
            st.retried[kind] += 1
        else:
            st.errors[kind] += 1
        ic = self._icounts
        ic["errors"] += 1
        if response_s is not None:
            self._sample(st, key, response_s, service_s)
            if kind == "timeout":
                st.censored += 1
                ic["timeouts"] += 1
            else:
                ic["received"] += 1

    def late_answer(self, key: str) -> None:
        """An answer to a CALL that had already timed out (counted, not a protocol fault)."""
        self._stats(key).late += 1

    def connected(self, version: str, seconds: float) -> None:
        """A WebSocket opened ``seconds`` after the connect began (TCP, TLS, HTTP upgrade)."""
        h = self.connect.get(version)
        if h is None:
            h = self.connect[version] = LatencyHistogram()
        h.record_s(seconds)

    def boot_accepted(self, seconds: float, attempts: int) -> None:
        """A boot was accepted ``seconds`` after its first BootNotification was due,
        at the ``attempts``-th BootNotification."""
        self.boot.record_s(seconds)
        self.boot_attempts[str(attempts)] += 1

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
            h = self._ihists[DRAIN_KEY] = _ihist()
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
        h = self._ihists.get(LAG_KEY)  # per second too: the hold after the ramp is judged apart
        if h is None:
            h = self._ihists[LAG_KEY] = _ihist()
        h.record_s(lag_s)

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
        _merge_hists(self.flows, other.flows)
        self.conformance.update(other.conformance)
        self.offline_max_depth = max(self.offline_max_depth, other.offline_max_depth)
        self.offline_drain.add(other.offline_drain)
        self.offline_replayed += other.offline_replayed
        self.offline_dropped += other.offline_dropped
        self.injected.update(other.injected)
        for k, e in other.injected_events.items():
            self.inject_event(k, **e)
        _merge_hists(self.connect, other.connect)
        self.boot.add(other.boot)
        self.boot_attempts.update(other.boot_attempts)
        self.wire.add(other.wire)
        self.said.add(other.said)

    def to_wire(self) -> dict[str, Any]:
        """The engine's exact totals as one JSON-able object (``recorder.json``).

        ``actions``: key → :meth:`ActionStats.to_wire` (``service``/``response``/``queued``
        histograms, ``sent``, ``first``, ``answered``, ``censored``, ``late``, ``errors``,
        ``retried``, ``queued_by``); ``connect``: version → histogram; ``boot``: histogram
        and ``attempts`` (count of boots per number of BootNotifications); the rest as named.
        Readers must ignore keys they do not know.
        """
        return {
            "actions": {k: s.to_wire() for k, s in self.actions.items()},
            "faults": dict(self.faults), "incoming": dict(self.incoming),
            "loop_lag": self.loop_lag.encode(), "send_slip": self.send_slip.encode(),
            "late_sends": self.late_sends,
            "flows": {k: h.encode() for k, h in self.flows.items()},
            "conformance": dict(self.conformance),
            "offline": {"max_depth": self.offline_max_depth, "drain": self.offline_drain.encode(),
                        "replayed": self.offline_replayed, "dropped": self.offline_dropped},
            "injected": dict(self.injected), "injected_events": self.injected_events,
            "connect": {v: h.encode() for v, h in self.connect.items()},
            "boot": {"hist": self.boot.encode(), "attempts": dict(self.boot_attempts)},
            "wire": self.wire.to_wire(),
            "said": self.said.to_wire(),
        }

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Recorder:
        r = cls()
        for k, s in d["actions"].items():
            r.actions[k] = ActionStats.from_wire(s)
        r.wire = WireCounts.from_wire(d.get("wire"))
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
        r.connect = {v: LatencyHistogram.decode(h) for v, h in d.get("connect", {}).items()}
        boot = d.get("boot")
        if boot:
            r.boot = LatencyHistogram.decode(boot["hist"])
            r.boot_attempts.update(boot["attempts"])
        r.said = CsmsSaid.from_wire(d.get("said"))
        return r
