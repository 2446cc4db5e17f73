"""The engine's side of ``faults:``: mass disconnects, message faults and link latency.

Which stations and which messages are hit follows from the seed alone, never from
global randomness or from which engine process runs a station:

- occurrence *k* of disconnect rule *r* draws one uniform per station index from
  ``SeedSequence(seed, spawn_key=(EVENT_KEY, r, k))`` (a prefix of the same
  sequence in every process); station *i* is hit if its draw is below ``share``;
- per station, message faults draw from ``SeedSequence(seed, spawn_key=(i, 6, 0))``,
  one draw per outgoing CALL of a faulted action (drop if below ``drop``, duplicate
  if below ``drop + duplicate``), and link latency from ``(i, 6, 1)``.

Every injection is counted in the recorder (``faults_injected`` in summary.json),
apart from the CSMS's own faults. Stations without faults carry no shaper, and the
hot path pays one ``is None`` check per flush (:meth:`StationConnection.flush`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from fleetsim.scenario.faults import DisconnectMode, FaultPlan, MessageFault, occurrences
from fleetsim.station.clock import Clock
from fleetsim.station.core import StationCore

if TYPE_CHECKING:
    from fleetsim.transport.connection import StationConnection
    from fleetsim.transport.engine import Engine

__all__ = ["EVENT_KEY", "FAULTS_STREAM", "FaultInjector", "LinkShaper", "call_head",
           "event_uniforms"]

FAULTS_STREAM = 6
EVENT_KEY = 0x66617574  # first spawn-key word of fault events ("faut"): never a station index
CLEAN_CLOSE_WAIT_S = 2.0  # a clean close the CSMS never completes is cut after this


def event_uniforms(seed: int, rule: int, occurrence: int, n: int) -> np.ndarray:
    """One uniform per station index 0 … n-1 for occurrence ``occurrence`` of rule ``rule``."""
    rng = np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(EVENT_KEY, rule, occurrence))))
    return rng.random(n)


def call_head(frame: bytes) -> tuple[str, str] | None:
    """(message id, action) of an encoded CALL ``[2,"id","Action",{…}]``; None otherwise."""
    if not frame.startswith(b'[2,"'):
        return None
    end = frame.find(b'"', 4)
    start = end + 3
    stop = frame.find(b'"', start)
    if end < 0 or stop < 0:
        return None
    return frame[4:end].decode(), frame[start:stop].decode()


class LinkShaper:
    """One station's outgoing link under faults: drop, duplicate, delay, latency; order kept."""

    __slots__ = ("_due", "_handle", "_last_due", "_pending", "conn", "dropped", "jitter_s",
                 "latency_s", "loop", "msg_rng", "net_rng", "rec", "rules", "seen", "station")

    def __init__(self, station: StationCore, loop: asyncio.AbstractEventLoop, *,
                 rules: dict[str, MessageFault], latency_s: float = 0.0, jitter_s: float = 0.0,
                 net_rng: np.random.Generator | None = None) -> None:
        self.station, self.loop, self.rules = station, loop, rules
        self.rec = station.rec
        self.latency_s, self.jitter_s, self.net_rng = latency_s, jitter_s, net_rng
        self.msg_rng = (np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            station.spec.seed, spawn_key=(station.spec.index, FAULTS_STREAM, 0))))
            if rules else None)
        self.seen: dict[str, int] = {}                 # CALLs per faulted action so far
        self.dropped: list[tuple[str, int]] = []       # (action, n-th CALL of it)
        self.conn: StationConnection | None = None
        self._pending: list[tuple[float, bytes]] = []
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._last_due = 0.0

    def bind(self, conn: StationConnection) -> None:
        """A new connection: frames delayed on the old one are gone with it."""
        self.conn = conn
        self._pending.clear()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._last_due = 0.0

    def send(self, frames: list[bytes]) -> None:
        """Pass the station's frames through the faults (called instead of a plain send)."""
        conn = self.conn
        if conn is None:
            return
        now = self.loop.time()
        for frame in frames:
            delay = self.latency_s
            if self.net_rng is not None and self.jitter_s:
                delay += (2.0 * float(self.net_rng.random()) - 1.0) * self.jitter_s
            copies = 1
            if self.rules and frame.startswith(b'[2,"'):
                head = call_head(frame)
                rule = None if head is None else (self.rules.get(head[1]) or self.rules.get("*"))
                if head is not None and rule is not None:
                    copies = self._decide(rule, *head)
                    if copies == 0:
                        continue
                    delay += rule.delay_s
            if delay <= 0 and not self._pending:
                conn.send_frames((frame,) * copies)
                continue
            due = max(now + delay, self._last_due)  # a station's frames never overtake
            self._last_due = due
            self._pending.extend([(due, frame)] * copies)
            self._arm()

    def _decide(self, rule: MessageFault, msg_id: str, action: str) -> int:
        """How many copies of this CALL go out: 0 (dropped), 1, or 2 (duplicated)."""
        assert self.msg_rng is not None
        n = self.seen[action] = self.seen.get(action, 0) + 1
        u = float(self.msg_rng.random())
        st = self.station
        if u < rule.drop:
            self.rec.inject("message_dropped")
            self.dropped.append((action, n))
            if st.dropped_ids is None:
                st.dropped_ids = set()
            st.dropped_ids.add(msg_id)  # its timeout counts as interrupted, not the CSMS's
            return 0
        if rule.delay_s:
            self.rec.inject("message_delayed")
        if u < rule.drop + rule.duplicate:
            self.rec.inject("message_duplicated")
            if st.expect_dup is None:
                st.expect_dup = set()
            st.expect_dup.add(msg_id)  # its second answer is ours, not the CSMS's fault
            return 2
        return 1

    def _arm(self) -> None:
        due = self._pending[0][0]
        if self._handle is None or due < self._due:
            if self._handle is not None:
                self._handle.cancel()
            self._due = due
            self._handle = self.loop.call_at(due, self._release)

    def _release(self) -> None:
        self._handle = None
        now = self.loop.time()
        ready: list[bytes] = []
        pending = self._pending
        while pending and pending[0][0] <= now + 0.0005:  # the loop clock is ms-coarse
            ready.append(pending.pop(0)[1])
        if ready and self.conn is not None:
            self.conn.send_frames(ready)
        if pending:
            self._arm()


class FaultInjector:
    """Schedules the plan's disconnects on the engine and gives stations their shapers.

    ``origin`` is the engine-clock (monotonic) instant the run's wall times count
    from — the same instant on every engine process of a run (None: the engine's
    start).
    """

    def __init__(self, plan: FaultPlan, *, seed: int, clock: Clock,
                 origin: float | None = None) -> None:
        self.plan, self.seed, self.clock, self.origin = plan, seed, clock, origin
        self.engine: Engine | None = None
        self.disconnected: list[tuple[int, int, str]] = []  # (rule, occurrence, station id)
        self._handles: list[asyncio.TimerHandle | None] = []
        self._rules = {m.action: m for m in plan.messages}

    def bind(self, engine: Engine) -> None:
        self.engine = engine

    def shaper_for(self, station: StationCore) -> LinkShaper | None:
        """The station's link shaper, or None when no fault touches its messages."""
        lat = self.plan.latency
        net_rng = None
        if lat is not None:
            net_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
                station.spec.seed, spawn_key=(station.spec.index, FAULTS_STREAM, 1))))
            if float(net_rng.random()) >= lat.share:
                lat, net_rng = None, None
        if lat is None and not self._rules:
            return None
        assert self.engine is not None
        if lat is not None:
            self.engine.rec.inject("latency_stations")
        return LinkShaper(station, self.engine.loop, rules=self._rules,
                          latency_s=lat.ms / 1000 if lat else 0.0,
                          jitter_s=lat.jitter_ms / 1000 if lat else 0.0, net_rng=net_rng)

    def start(self, engine_t0: float) -> None:
        """Arm the first occurrence of every disconnect rule."""
        if self.origin is None:
            self.origin = engine_t0
        sim_origin = self.clock.epoch_unix + self.clock.sim_s(self.origin)
        day_s = sim_origin % 86400.0
        self._handles = [None] * len(self.plan.disconnects)
        for r, rule in enumerate(self.plan.disconnects):
            times = enumerate(occurrences(rule.when, day_s_at_origin=day_s,
                                          factor=self.clock.factor))
            self._arm(r, times)

    def stop(self) -> None:
        for h in self._handles:
            if h is not None:
                h.cancel()
        self._handles = []

    def _arm(self, rule: int, times: Iterator[tuple[int, float]]) -> None:
        assert self.engine is not None and self.origin is not None
        loop = self.engine.loop
        now = loop.time()
        for k, t_s in times:
            if self.origin + t_s >= now - 0.5:  # occurrences before this engine began: not ours
                self._handles[rule] = loop.call_at(self.origin + t_s, self._fire, rule, k, t_s,
                                                   times)
                return
        self._handles[rule] = None

    def _fire(self, rule: int, occurrence: int, t_s: float,
              times: Iterator[tuple[int, float]]) -> None:
        eng = self.engine
        assert eng is not None
        if eng.stopping:
            return
        spec = self.plan.disconnects[rule]
        live = [r for r in eng.runners
                if not r.closing and not r.station.stopping and r.conn is not None
                and r.conn.opened
                and r.conn.injected is None and r.conn.transport is not None]
        n = 1 + max((r.station.spec.index for r in live), default=-1)
        u = event_uniforms(self.seed, rule, occurrence, n)
        hit = [r for r in live if u[r.station.spec.index] < spec.share]
        for r in hit:
            conn = r.conn
            assert conn is not None
            conn.injected = spec.mode.value
            self.disconnected.append((rule, occurrence, r.station.station_id))
            if spec.mode is DisconnectMode.DIRTY:
                conn.abort("injected_dirty")
            elif spec.mode is DisconnectMode.CLEAN:
                conn.close()
                eng.loop.call_later(CLEAN_CLOSE_WAIT_S, _cut, conn)
            else:
                conn.go_silent()
        kind = f"disconnect_{spec.mode.value}"
        eng.rec.inject(kind, len(hit))
        eng.rec.inject_event(f"disconnect/{rule}/{occurrence}", kind, at_s=t_s,
                             stations=len(hit))
        self._arm(rule, times)


def _cut(conn: StationConnection) -> None:
    if conn.transport is not None:
        conn.abort("close_timeout")
