"""Run N station cores on one event loop (uvloop when available).

The engine connects stations at a bounded rate, keeps each station's timers
armed, cuts a metrics interval every second, watches its own health (event-loop
lag, CPU, late sends) and stops gracefully: open transactions are stopped and
answered, then sockets close. It knows nothing of Locust or of result files:
intervals and finished sessions leave through the sinks it is given.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from time import monotonic
from typing import Any

from fleetsim.exceptions import CsmsUnreachable, FleetsimError
from fleetsim.metrics.recorder import IntervalStats, Recorder
from fleetsim.station.core import StationCore
from fleetsim.station.security import note_connect_failure
from fleetsim.transport.connection import describe_failure
from fleetsim.transport.faults import FaultInjector
from fleetsim.transport.gauges import CpuRate, FleetGauges
from fleetsim.transport.heap import SAMPLE_WINDOW_S, SecondFreezer, release_heap, settle_heap
from fleetsim.transport.options import EngineOptions, EngineReport, fd_headroom
from fleetsim.transport.pacing import STOP_SLICE, ConnectPacer, StopPacer
from fleetsim.transport.runner import StationRunner
from fleetsim.transport.wakes import WakeHeap

__all__ = ["Engine", "EngineOptions", "EngineReport", "fd_headroom"]

CLOSE_WAIT_S = 3.0  # the stop's close handshakes, after the answers' grace
DRAIN_SLICE = 128  # stations whose finished sessions are handed over per turn of the loop


class Engine:
    """Runs ``stations`` against ``uris`` (one per station) on the current loop."""

    def __init__(self, stations: Sequence[StationCore], uris: Sequence[str], *,
                 recorder: Recorder, options: EngineOptions,
                 on_interval: Callable[[IntervalStats], None] | None = None,
                 on_sessions: Callable[[list[dict[str, Any]]], None] | None = None,
                 on_progress: Callable[[dict[str, float]], None] | None = None,
                 on_messages: Callable[[list[dict[str, Any]]], None] | None = None,
                 faults: FaultInjector | None = None) -> None:
        self.rec, self.opt = recorder, options
        self.loop = asyncio.get_running_loop()
        self.wakes = WakeHeap(self.loop)  # every station's next wake-up, one loop timer
        self.faults = faults  # the scenario's faults: (set before the runners ask for shapers)
        if faults is not None:
            faults.bind(self)
        self.connect_timeout_s = options.connect_timeout_s
        self.backoff_base_s, self.backoff_cap_s = options.backoff_base_s, options.backoff_cap_s
        self.password, self.ssl_context = options.password, options.ssl_context
        self.compression = options.compression
        sources = options.source_addresses
        self.runners = [StationRunner(self, st, uri, sources[i % len(sources)] if sources else None)
                        for i, (st, uri) in enumerate(zip(stations, uris, strict=True))]
        self.on_interval, self.on_sessions, self.on_progress = on_interval, on_sessions, on_progress
        self.on_messages = on_messages  # each retired station's message counts (its ledger)
        self.stopping = False
        self.connected = 0
        self.connected_max = 0
        self._lag_max_s = 0.0  # this interval's worst event-loop lag (overload, per second)
        self._settled_n = 0  # the fleet size last frozen once all had booted
        self._monitors: list[asyncio.Task[None]] = []  # loop lag, per-second interval
        self.attempts = 0
        self.ever_connected = False
        self.connect_failures: dict[str, int] = {}
        self.first_error: str | None = None
        self._closed = asyncio.Event()
        self._t0 = monotonic()
        self._open_at_stop = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._unreachable: asyncio.Future[str] = self.loop.create_future()
        self._dynamic = False  # stations were added while running (add_stations)
        self._initial = tuple(self.runners)  # the fleet given at construction
        self.pacer = ConnectPacer(self)  # stations waiting for their turn to connect
        self.stops = StopPacer(self)  # ... and to stop, at the run's end or Locust's word
        # monotonic time by which a stop must be over, set by whoever asks for the stop
        # (the engine child: its worker's wait minus the final files' reserve); None: the
        # full grace. Seconds from the stop's start to the end of each of its phases:
        self.stop_by: float | None = None
        self.stop_phases: dict[str, float] = {}
        self._gauges = FleetGauges(self.runners)  # kept from the stations that ran (touch)
        self.freeze_heap = True  # False: nothing leaves the collector's walks (a bench switch)
        self._seconds = SecondFreezer()  # each second's objects frozen (.heap)
        self._stopping_now: set[asyncio.Task[Any]] = set()  # stop_stations still running
        self._cut: IntervalStats | None = None  # an interval cut, not yet to the sinks

    # ---------------------------------------------------------------- public
    async def run(self, duration_s: float, stop: asyncio.Event | None = None) -> EngineReport:
        """Run for ``duration_s`` wall seconds (or until ``stop`` is set), then stop cleanly."""
        if len(self.runners) > fd_headroom():
            raise FleetsimError(
                f"{len(self.runners)} stations need {len(self.runners)} sockets but this process "
                f"may open only {fd_headroom()} (RLIMIT_NOFILE); run more engine processes "
                "(fleetsim run --workers N) or raise the limit")
        self.settle(collect=True)  # set-up objects (stations, plans, modules) leave the GC's walks
        whole, t0 = CpuRate(), monotonic()
        self._t0 = t0
        self._start_monitors(t0)
        if self.faults is not None:
            self.faults.start(t0)
        rate = self.opt.connect_rate_per_s
        self.pacer.queue(self._initial, len(self._initial) / rate if rate > 0 else 0.0)
        waiters: list[asyncio.Future[Any]] = [self._unreachable]
        if stop is not None:
            waiters.append(self.loop.create_task(stop.wait()))
        await asyncio.wait(waiters, timeout=duration_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        self.pacer.cancel()
        stopped_early = stop is not None and stop.is_set()
        for w in waiters:
            if w is not self._unreachable and not w.done():
                w.cancel()
        if self._unreachable.done():
            await self._shutdown(graceful=False)
            release_heap()
            raise CsmsUnreachable(self._unreachable.result())
        await self._shutdown(graceful=True)
        release_heap()  # the run's objects may be collected again once it is over
        wall = monotonic() - t0
        cpu = whole.read()
        booted = sum(1 for r in self.runners if r.station.boots > 0)
        return EngineReport(recorder=self.rec, stations=len(self.runners),
                            connected_max=self.connected_max, booted=booted, wall_s=wall,
                            cpu_percent=round(cpu, 1), connect_failures=dict(self.connect_failures),
                            first_error=self.first_error, stopped_early=stopped_early)

    # ---------------------------------------------------------------- connecting
    def spawn_connect(self, runner: StationRunner) -> None:
        if self.stopping:
            return
        self.touch(runner)  # connecting now
        task = self.loop.create_task(runner.connect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def connect_failed(self, runner: StationRunner, kind: str, detail: str | None = None) -> None:
        if runner.closing:  # a station being stopped: its aborted attempt is no fault
            return
        self.touch(runner)
        self.rec.fault(kind if kind.startswith(("connect", "handshake", "connection", "tls",
                                                "too_many", "no_free", "subprotocol",
                                                "http_"))
                       else f"connect_{kind}")
        self.connect_failures[kind] = self.connect_failures.get(kind, 0) + 1
        note_connect_failure(runner.station, kind, detail, monotonic())  # A04 security events
        if self.first_error is None:
            self.first_error = f"{runner.uri}: {describe_failure(kind, detail)}"
        # a fleet that grows while running (Locust spawning) judges on attempts alone
        limit = self.opt.unreachable_after if self._dynamic else min(self.opt.unreachable_after,
                                                                      len(self.runners))
        if (not self.ever_connected and not self._unreachable.done()
                and sum(self.connect_failures.values()) >= limit):
            self._unreachable.set_result(
                f"cannot reach the CSMS: {self.first_error} "
                f"({sum(self.connect_failures.values())} attempts, none connected)")

    def closed_one(self) -> None:
        if not self.stopping:  # a single station stopped by stop_stations, not the shutdown
            return
        self._open_at_stop -= 1
        if self._open_at_stop <= 0:
            self._closed.set()

    # ---------------------------------------------------------------- fleet changes
    def add_stations(self, stations: Sequence[StationCore], uris: Sequence[str],
                     spread_s: float = 0.0) -> list[StationRunner]:
        """Add stations to the running engine and connect them, spread over the next
        ``spread_s`` seconds with any still waiting (0: now).

        The caller sets the rate (Locust's spawn rate). Source addresses go
        round-robin by station *index*, so station i uses the same address
        whichever engine process runs it.
        """
        if self.stopping:
            return []
        self._dynamic = True
        sources = self.opt.source_addresses
        added = []
        for st, uri in zip(stations, uris, strict=True):
            r = StationRunner(self, st, uri,
                              sources[st.spec.index % len(sources)] if sources else None)
            self.runners.append(r)
            added.append(r)
        self.pacer.queue(added, spread_s)
        return added

    async def stop_stations(self, runners: Sequence[StationRunner]) -> None:
        """Stop these stations as the run's end would, then forget them.

        Open transactions are stopped and their answers awaited (at most
        ``stop_grace_s``), the WebSocket is closed with code 1000, what never got
        an answer counts as interrupted, and finished sessions go to the sink.
        The run's shutdown waits for such a stop rather than cutting its spread.
        """
        task = asyncio.current_task()
        if task is not None:
            self._stopping_now.add(task)
        try:
            await self._stop_and_forget(runners)
        finally:
            if task is not None:
                self._stopping_now.discard(task)

    async def _stop_and_forget(self, runners: Sequence[StationRunner]) -> None:
        mine = [r for r in runners if not r.closing]
        for r in mine:
            r.closing = True  # no reconnect from here on
        await self.stops.spread(mine)
        now = monotonic()
        grace_end = now + self.opt.stop_grace_s
        hard_end = grace_end + max(3.0, self.connect_timeout_s)
        pending = list(mine)
        while pending and not self.stopping:
            t = monotonic()
            still = []
            for r in pending:
                c = r.conn
                if c is None:
                    continue  # closed, or never connected and no attempt in flight
                if c.opened and c.transport is not None:
                    if r.station.idle or t >= grace_end:
                        c.close()
                    if t >= hard_end:
                        c.abort("close_timeout")
                elif c.transport is not None:
                    c.abort("stopped")  # still in the HTTP upgrade: no station yet
                still.append(r)  # TCP connect in flight: its result decides
            pending = still
            if pending:
                await asyncio.sleep(0.05)
        if self.stopping:
            return  # the engine's shutdown closes, accounts and drains them all
        gone = set(mine)
        for r in mine:
            r.cancel()
            r.station.abandon()
        self.runners = [r for r in self.runners if r not in gone]
        self._retire(mine)
        self._gauges.forget(mine)

    def _retire(self, runners: Sequence[StationRunner]) -> None:
        """These stations are done for good: their last sessions and their message
        counts (the station-side ledger, ``messages.csv``) go to the sinks."""
        self.drain_sessions(final=True, runners=runners)
        if self.on_messages is None:
            return
        rows = [{"station_id": r.station.station_id, "ocpp_version": r.station.spec.version.value,
                 "action": action, "sent": n[0], "answered": n[1], "callerror": n[2]}
                for r in runners for action, n in r.station.msg_counts.items()]
        if rows:
            self.on_messages(rows)

    # ---------------------------------------------------------------- monitoring
    def _start_monitors(self, t0: float) -> None:
        self._monitors = [self.loop.create_task(self._lag_monitor()),
                          self.loop.create_task(self._interval_loop(t0))]

    async def _lag_monitor(self) -> None:
        period = 0.05
        expected = monotonic() + period
        while not self.stopping:
            await asyncio.sleep(period)
            now = monotonic()
            lag = max(0.0, now - expected)
            self.rec.record_loop_lag(lag)
            self._lag_max_s = max(self._lag_max_s, lag)
            expected = now + period

    async def _interval_loop(self, t0: float) -> None:
        n = 1
        cpu = CpuRate()
        while not self.stopping:
            await asyncio.sleep(max(0.0, t0 + n * self.opt.interval_s - monotonic()))
            # each second's work in steps, the loop free in between: together they held
            # it 4-9 ms at 2,000 busy stations, the largest share of its lag p99 (issue 18)
            await self._gauges.count_spread()
            cpu_pct = cpu.read()
            # what this second made leaves the collector's walks (.heap) until two
            # samples in a row hold cyclic garbage: frozen, it would stay to the run's end
            sampled = self.freeze_heap and self._seconds.second(n)
            frozen = monotonic()
            self.cut_interval(n * self.opt.interval_s, cpu_pct)
            await asyncio.sleep(0)  # the sinks (encode, write) in a turn of their own
            self.publish_interval()
            await asyncio.sleep(0)
            await self.drain_spread()
            if sampled:
                await asyncio.sleep(max(0.0, frozen + SAMPLE_WINDOW_S - monotonic()))
                if self._seconds.sample():
                    self.rec.fault("gc_freeze_stopped")
            n += 1

    def settle(self, *, collect: bool = False) -> None:
        """What is alive now leaves the collector's walks (:func:`.heap.settle_heap`)."""
        if self.freeze_heap:
            settle_heap(collect=collect)

    def touch(self, runner: StationRunner) -> None:
        """``runner``'s station ran (a timer, a frame, a connect, a loss): its share of the
        gauges is counted again at the next :meth:`gauges`."""
        self._gauges.touched.add(runner)

    def gauges(self) -> dict[str, float]:
        """This second's gauges, with the stations counted by state (``stations_<state>``,
        mutually exclusive: see :data:`fleetsim.live.STATES`) for the live views; only the
        stations that ran since the last call are counted again (:mod:`.gauges`)."""
        self._gauges.count()
        sim = self.runners[0].station.clock.sim_s(monotonic()) if self.runners else 0.0
        self.connected_max = max(self.connected_max, self.connected)
        return {"connected": self.connected, "sim_time_s": sim, **self._gauges.figures()}

    def emit_interval(self, t_s: float, cpu_pct: float) -> None:
        """The interval's gauges and figures to the sinks (the finished sessions go
        separately: :meth:`drain_spread`, :meth:`drain_sessions`)."""
        self.cut_interval(t_s, cpu_pct)
        self.publish_interval()

    def cut_interval(self, t_s: float, cpu_pct: float) -> None:
        """Cut this second's gauges and figures (the next interval starts empty), for
        :meth:`publish_interval`; one cut before and not published yet (the stop cancelled
        the interval loop between the two) goes to the sinks first, in order."""
        self.publish_interval()
        g = self.gauges()
        n = len(self.runners)
        if n and g["booted"] >= n != self._settled_n:
            # every station is up: freeze its connection, protocol and boot state too, or
            # each full collection walks them (250–400 ms at 10,000 stations, issue 18).
            # The freeze after spawning comes before the ramp's connections exist. Once per
            # fleet size: a Locust ramp adds stations in batches.
            self._settled_n = n
            self.settle()
        g["cpu_percent"] = round(cpu_pct, 1)
        g["loop_lag_max_ms"] = round(self._lag_max_s * 1000, 1)
        self._lag_max_s = 0.0
        stats = self._cut = self.rec.interval(t_s, g)
        if self.on_progress is not None:  # the gauges as counted now (cheap)
            self.on_progress({**g, **{k: float(v) for k, v in stats.counts.items()}, "t_s": t_s})

    def publish_interval(self) -> None:
        """The interval cut last to the interval sink (its encoding, its write), once."""
        stats, self._cut = self._cut, None
        if stats is not None and self.on_interval is not None:
            self.on_interval(stats)

    def drain_sessions(self, *, final: bool = False,
                       runners: Sequence[StationRunner] | None = None) -> None:
        """Hand finished sessions to the sink; until the run ends, a session the CSMS has
        not answered yet waits: 1.6, its transaction id still unknown (StartTransaction
        not answered); 2.x, its TransactionEvent Started not answered while transaction
        events are still queued (a car that came while its station was connecting: the
        Started is replayed later). So sessions.csv never records as missing an id or an
        acknowledgement that arrives a moment later."""
        if runners is None and not final:  # the stations holding finished sessions
            self._gauges.count()  # (those that ran since the gauges' last count too)
            runners = list(self._gauges.finished)
        self._drain(self.runners if runners is None else runners, final=final)

    async def drain_spread(self, per_slice: int | None = None) -> None:
        """:meth:`drain_sessions` of the stations counted so far, ``per_slice`` of them
        per turn of the loop (475 sessions a second took 2-8 ms at once, issue 18)."""
        per = per_slice or DRAIN_SLICE
        todo = list(self._gauges.finished)
        for i in range(0, len(todo), per):
            if i:
                await asyncio.sleep(0)
            self._drain(todo[i:i + per], final=False)

    def _drain(self, runners: Sequence[StationRunner], *, final: bool) -> None:
        batch: list[dict[str, Any]] = []
        for r in runners:
            done = r.station.finished_sessions
            if not done:
                self._gauges.finished.discard(r)
                continue
            if final:
                batch.extend(done)
                r.station.finished_sessions = []
                continue
            st = r.station
            waiting = [x for x in done if _unanswered(x.get("tx"), st)]
            if waiting:
                batch.extend(x for x in done if not _unanswered(x.get("tx"), st))
            else:
                batch.extend(done)
                self._gauges.finished.discard(r)
            r.station.finished_sessions = waiting
        if batch and self.on_sessions is not None:
            self.on_sessions(batch)

    # ---------------------------------------------------------------- stopping
    async def _shutdown(self, *, graceful: bool) -> None:
        """Stop transactions and await their answers (at most ``stop_grace_s``), close the
        sockets (at most :data:`CLOSE_WAIT_S`), count what never got an answer as
        interrupted, hand the last sessions over. With :attr:`stop_by` set, every wait is
        cut to end by then: a stop asked late (a starved loop reads its command late) gives
        up waiting rather than its final figures."""
        t0 = monotonic()
        by = self.stop_by if self.stop_by is not None else math.inf
        if graceful:  # transactions end (their rows) even when there is no time to wait
            left = by - CLOSE_WAIT_S - monotonic()  # what the spread and the answers may have
            # the spread may take what the answers' grace leaves, and a quarter at least
            spread_by = t0 + max(left / 4, left - self.opt.stop_grace_s)
            mine = [r for r in self.runners if not r.closing]
            for r in mine:  # no reconnect from here on; each closes once it is idle
                r.closing = True
            await self.stops.spread(mine, by=spread_by)
            if self._stopping_now:  # stations Locust stopped: their spread goes on
                await asyncio.wait(list(self._stopping_now),
                                   timeout=max(0.0, spread_by - monotonic())
                                   if math.isfinite(spread_by) else None)
            deadline = min(monotonic() + self.opt.stop_grace_s, by - CLOSE_WAIT_S)
            while monotonic() < deadline and any(
                    r.conn is not None and r.conn.opened and not r.station.idle
                    for r in self.runners):
                await asyncio.sleep(0.05)
        self.stop_phases["answers_s"] = round(monotonic() - t0, 3)
        self.stopping = True
        for m in self._monitors:  # a sleeping interval loop must not emit after the last
            m.cancel()            # interval, into a results folder already closed
        if self.faults is not None:
            self.faults.stop()
        self.emit_interval(round(monotonic() - self._t0, 3), 0.0)
        self.drain_sessions()
        open_conns = [r for r in self.runners if r.conn is not None and r.conn.transport]
        self._open_at_stop = len(open_conns)
        for r in self.runners:
            r.closing = True
            r.cancel()
        for task in list(self._tasks):
            task.cancel()
        if open_conns:
            for k, r in enumerate(open_conns, 1):  # the loop turns: the closes are answered
                if r.conn is not None:
                    r.conn.close()
                if k % STOP_SLICE == 0:
                    await asyncio.sleep(0)
            try:
                await asyncio.wait_for(self._closed.wait(),
                                       max(0.0, min(CLOSE_WAIT_S, by - monotonic())))
            except TimeoutError:
                for r in open_conns:
                    if r.conn is not None:
                        r.conn.abort("close_timeout")
        self.stop_phases["closed_s"] = round(monotonic() - t0, 3)
        for r in self.runners:
            r.station.abandon()
        self._retire(self.runners)
        self.stop_phases["accounted_s"] = round(monotonic() - t0, 3)


def _unanswered(tx: Any, station: StationCore) -> bool:
    """A finished session's transaction whose start the CSMS may still answer."""
    if tx is None:
        return False
    if tx.id is None:  # 1.6: StartTransaction not answered yet
        return True
    return not tx.acknowledged and station.has_queued("TransactionEvent")
