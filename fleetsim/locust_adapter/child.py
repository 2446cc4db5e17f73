"""``python -m fleetsim.locust_adapter.child``: the engine process behind one Locust worker.

A clean interpreter — gevent's monkey-patching never reaches it — running the
uvloop station engine. It reads commands from stdin and writes samples to
stdout (the protocol is in :mod:`fleetsim.locust_adapter.wire`), and, when the
run has a folder, streams its exact figures to ``<run>/workers/<tag>/``:
``intervals.jsonl`` (re-indexed to the run's common origin), ``sessions.jsonl``,
and at the end ``recorder.json`` (:meth:`Recorder.to_wire`) and ``worker.json``.

It never outlives its worker: stdin EOF (the worker died, however) or a changed
parent pid stops it gracefully; it runs in its own session so a Ctrl-C in the
terminal reaches Locust, which then tells it to quit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fleetsim.drivers.registry import fleet_feeds, plan_fleet
from fleetsim.drivers.session import StationPlan
from fleetsim.exceptions import FleetsimError
from fleetsim.live.figures import EngineFeed
from fleetsim.locust_adapter.sampler import SampleRecorder
from fleetsim.locust_adapter.wire import SAMPLE_PERIOD_S, RunContext, decode, encode
from fleetsim.metrics.recorder import IntervalStats
from fleetsim.run.station_setup import station_config
from fleetsim.run.worker_folder import WorkerFolder, engine_facts
from fleetsim.scenario import build_fleet, parse_scenario, parse_version
from fleetsim.scenario.model import Scenario
from fleetsim.security.client import engine_security
from fleetsim.station import STATION_CLASSES, Clock
from fleetsim.transport.engine import Engine, EngineOptions, fd_headroom
from fleetsim.transport.faults import FaultInjector
from fleetsim.transport.runner import StationRunner

__all__ = ["EngineChild", "main", "station_plans"]

_LINE_LIMIT = 1 << 26  # a start command for 64K stations is ~500 KB; the context a few KB
# of the time a stop is given, what the engine's accounting, the final files and the exit
# may take on a starved box; the graceful waits (stop spread, answers, closes) get the rest
FILES_RESERVE_S = 5.0
# a stop nobody bounded (SIGTERM — fleetsim run's leftover sweep kills after 10 s —, the
# worker gone): final files within this
UNASKED_STOP_S = 9.0
# Locust's master dispatches a spawn rate's worth of users once a second
# (locust.dispatch: floor(rate) users, floor(rate)/rate s apart); each such batch
# connects spread over that second, as the rate says, not in one burst
LOCUST_STEP_S = 1.0
# stations built per turn of the loop: building one (its fleet entry, session feed and
# station) takes about 0.1 ms, and a batch of 1,000 built in one callback held the
# loop 96 ms (issue 18); 16 at a time keep each turn under 2 ms
BUILD_SLICE = 16


def station_plans(s: Scenario, indices: Iterable[int], horizon_s: float) -> list[StationPlan]:
    """Plans of stations ``indices``: the same for station i whichever worker runs it."""
    specs = build_fleet(s, list(indices))
    return plan_fleet(s, specs, horizon_s=horizon_s)


class EngineChild:
    """One engine on this process's loop; stations come and go by command."""

    def __init__(self, ctx: RunContext, send: Callable[[bytes], None], tag: str) -> None:
        self.ctx, self.send, self.tag = ctx, send, tag
        s = self.s = parse_scenario(dict(ctx.scenario), file=ctx.scenario_file)
        self.cfg = station_config(s)
        self.rec = SampleRecorder()
        epoch = s.clock.epoch
        now_unix, now_mono = time.time(), time.monotonic()
        self.origin_mono = now_mono - (now_unix - ctx.origin_unix)
        self.clock = Clock.start(epoch=epoch, factor=s.clock.time_factor,
                                 wall_timestamps=s.clock.timestamps == "wall",
                                 monotonic=self.origin_mono, unix=ctx.origin_unix)
        self.target = dataclasses.replace(
            s.csms, urls={parse_version(k): v for k, v in ctx.urls.items()})
        self.folder = (WorkerFolder(Path(ctx.out_dir) / "workers" / tag)
                       if ctx.out_dir else None)
        self.running: dict[int, StationRunner] = {}
        self.to_build: dict[int, float] = {}  # started, not built yet: index -> connect by
        self._builder: asyncio.Task[None] | None = None
        self.started: set[int] = set()
        self.booted: set[int] = set()
        self.stop = asyncio.Event()
        self.warned_fd = False
        self.fd_refused = 0
        self.fd_refused_since_s: float | None = None  # since the run's origin
        self.fd_limit: int | None = None  # the sockets this process could still open then
        self.engine: Engine | None = None
        self._offset_s = 0.0
        self._last_index = -1
        self._stopping: set[asyncio.Task[None]] = set()
        self.locust_cpu_percent: float | None = None  # the worker's own CPU, told on quit
        self.stop_asked_late_s: float | None = None  # the quit command read this late
        self.live = EngineFeed(tag, lambda snap: self.send(encode({"t": "live", "snap": snap})))

    # ------------------------------------------------------------------ commands
    def start(self, indices: list[int]) -> None:
        eng = self.engine
        assert eng is not None
        new = [i for i in dict.fromkeys(indices) if i not in self.running and i not in self.to_build]
        room = fd_headroom() - len(eng.runners) - len(self.to_build)
        if len(new) > room:
            refused, new = new[max(0, room):], new[:max(0, room)]
            self.rec.fault("too_many_open_files", len(refused))
            self.fd_refused += len(refused)
            if self.fd_refused_since_s is None:
                self.fd_refused_since_s = round(time.time() - self.ctx.origin_unix, 1)
                self.fd_limit = fd_headroom()
            if not self.warned_fd:
                self.warned_fd = True
                self.send(encode({"t": "warning", "message": (
                    f"engine {self.tag}: one process may hold at most {fd_headroom()} sockets "
                    f"(RLIMIT_NOFILE); {len(refused)} stations not started, e.g. station "
                    f"{refused[0]}: add workers (--processes N) or hosts")}))
        if not new:
            return
        by = time.monotonic() + LOCUST_STEP_S  # the batch connects spread over its second
        self.to_build.update(dict.fromkeys(new, by))
        if self._builder is None or self._builder.done():
            self._builder = asyncio.get_running_loop().create_task(self._build())

    async def _build(self) -> None:
        """Build the started stations :data:`BUILD_SLICE` at a time, the loop free in
        between, and hand each slice to the engine's connect pacer; a station stopped
        before it is built is never built."""
        eng = self.engine
        assert eng is not None
        todo = self.to_build
        while todo and not eng.stopping:
            new = list(itertools.islice(todo, BUILD_SLICE))
            by = todo[new[-1]]
            for i in new:
                del todo[i]
            sim_now = self.clock.sim_s(time.monotonic())
            cores, uris = [], []
            specs = build_fleet(self.s, new)
            for spec, plan in zip(specs, fleet_feeds(self.s, specs,
                                                     horizon_s=self.ctx.horizon_s),
                                  strict=True):
                # a station that joins late never hosted the sessions that arrived before it
                assert plan.feed is not None
                plan.feed.skip_before(sim_now)
                cores.append(STATION_CLASSES[spec.version](spec, plan, clock=self.clock,
                                                           recorder=self.rec, config=self.cfg))
                uris.append(self.target.url_for(spec.version, spec.station_id))
            spread = max(0.0, by - time.monotonic())
            for i, runner in zip(new, eng.add_stations(cores, uris, spread_s=spread),
                                 strict=True):
                self.running[i] = runner
                self.started.add(i)
            if todo:
                await asyncio.sleep(0)

    def stop_some(self, indices: list[int]) -> None:
        eng = self.engine
        assert eng is not None
        for i in indices:
            self.to_build.pop(i, None)  # not built yet: never will be
        gone = [self.running.pop(i) for i in indices if i in self.running]
        if not gone:
            return

        async def stop() -> None:
            await eng.stop_stations(gone)
            self._note_booted(gone)

        task = asyncio.get_running_loop().create_task(stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _note_booted(self, runners: Iterable[StationRunner]) -> None:
        self.booted.update(r.station.spec.index for r in runners if r.station.boots > 0)

    # ------------------------------------------------------------------ sinks
    def on_interval(self, stats: IntervalStats) -> None:
        # one index per second since the run's origin, the same on every worker and host
        idx = max(self._last_index + 1, round(stats.t_s + self._offset_s))
        self._last_index = idx
        stats.index, stats.t_s = idx, float(idx)
        if self.folder is not None:
            self.folder.interval(stats)
        self.live.interval(stats.gauges, self.rec)  # the Fleet tab's and /metrics' figures

    def on_sessions(self, rows: list[dict[str, Any]]) -> None:
        self.live.sessions(rows)
        if self.folder is not None:
            self.folder.sessions(rows)

    def on_messages(self, rows: list[dict[str, Any]]) -> None:
        if self.folder is not None:
            self.folder.messages(rows)

    # ------------------------------------------------------------------ run
    async def run(self, commands: asyncio.StreamReader) -> int:
        """Run until quit, EOF, SIGTERM or a fatal engine error; write the final files."""
        s = self.s
        loop = asyncio.get_running_loop()
        # the run's faults on the run's clock: every engine picks the same stations
        faults = (FaultInjector(s.faults, seed=s.seed, clock=self.clock, origin=self.origin_mono)
                  if s.faults.station_side else None)
        self.engine = eng = Engine([], [], recorder=self.rec, on_interval=self.on_interval,
                                   on_sessions=self.on_sessions,
                                   on_messages=self.on_messages, faults=faults,
                                   options=EngineOptions(
                                       connect_rate_per_s=s.stations.connect_rate_per_s,
                                       # its share of the fleet's pace at the run's end
                                       stop_rate_per_s=s.stations.end_rate_per_s(
                                           int(self.ctx.extra.get("engines", 1))),
                                       connect_timeout_s=s.csms.connect_timeout_s,
                                       source_addresses=s.stations.source_addresses,
                                       stop_spread_s=s.stations.stop_spread_s,
                                       reconnect_per_version=True,
                                       **engine_security(s.csms)))
        self._offset_s = time.monotonic() - self.origin_mono
        run = loop.create_task(eng.run(1e9, self.stop))
        tasks = [loop.create_task(self._read(commands)),
                 loop.create_task(self._sample_loop()), loop.create_task(self._watch_parent())]
        self.send(encode({"t": "ready", "pid": os.getpid(), "fd_headroom": fd_headroom()}))
        failure: str | None = None
        cpu, wall = 0.0, 0.0
        try:
            report = await run
            cpu, wall = report.cpu_percent, report.wall_s
        except FleetsimError as exc:
            failure = str(exc)
            self.send(encode({"t": "fatal", "message": failure}))
        for t in tasks:
            t.cancel()
        self._note_booted(eng.runners)
        self._note_booted(self.running.values())
        self._flush_samples()
        self.live.interval({**eng.gauges(), "cpu_percent": cpu}, self.rec, final=True)
        if self.folder is not None:
            self.folder.finish(self.rec, engine_facts(
                self.tag, eng, started=self.started, booted=self.booted, wall_s=wall,
                cpu_percent=cpu, failure=failure, locust_cpu_percent=self.locust_cpu_percent,
                fd_headroom=self.fd_limit, fd_refused=self.fd_refused,
                fd_refused_since_s=self.fd_refused_since_s,
                stop={**eng.stop_phases, "asked_late_s": self.stop_asked_late_s}))
        self.send(encode({"t": "bye"}))
        return 0

    async def _read(self, commands: asyncio.StreamReader) -> None:
        while True:
            line = await commands.readline()
            if not line:
                break  # the worker is gone
            msg = decode(line)
            op = msg.get("op")
            if op == "start":
                self.start([int(i) for i in msg["stations"]])
            elif op == "stop":
                self.stop_some([int(i) for i in msg["stations"]])
            elif op == "quit":
                if msg.get("locust_cpu_percent") is not None:
                    self.locust_cpu_percent = float(msg["locust_cpu_percent"])
                if msg.get("by_unix") is not None:  # the worker kills us then
                    left = float(msg["by_unix"]) - time.time()
                    self.stop_asked_late_s = round(max(0.0, float(msg["wait_s"]) - left), 3)
                    self.stop_within(left)
                break
        self.stop_within(UNASKED_STOP_S)

    def stop_within(self, seconds: float) -> None:
        """Stop now, final files written within ``seconds`` (the first bound given holds).
        A command read late leaves less: the graceful waits are cut, never the files."""
        eng = self.engine
        if eng is not None and eng.stop_by is None:
            eng.stop_by = time.monotonic() + seconds - FILES_RESERVE_S
        self.stop.set()

    async def _sample_loop(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_PERIOD_S)
            self._flush_samples()

    def _flush_samples(self) -> None:
        batch = self.rec.take()
        if batch is not None:
            self.send(encode(batch))

    async def _watch_parent(self) -> None:
        parent = os.getppid()
        while os.getppid() == parent:
            await asyncio.sleep(1.0)
        self.stop_within(UNASKED_STOP_S)


async def _amain() -> int:
    loop = asyncio.get_running_loop()
    # the protocol owns the real stdout; stray prints go to stderr instead of corrupting it
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    out_transport, _ = await loop.connect_write_pipe(asyncio.Protocol,
                                                     os.fdopen(proto_fd, "wb", buffering=0))
    reader = asyncio.StreamReader(limit=_LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(0, "rb", buffering=0))
    first = await reader.readline()
    if not first:
        return 0
    init = decode(first)
    ctx = RunContext.from_wire(init["ctx"])
    tag = str(init.get("tag", f"p{os.getpid()}"))
    print(f"fleetsim engine child {os.getpid()} for worker {tag}", file=sys.stderr, flush=True)

    def send(data: bytes) -> None:
        if not out_transport.is_closing():  # the worker may be gone: finish the files anyway
            out_transport.write(data)

    child = EngineChild(ctx, send, tag)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, child.stop_within, UNASKED_STOP_S)
    code = await child.run(reader)
    deadline = time.monotonic() + 5.0
    while out_transport.get_write_buffer_size() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # let the last samples and "bye" reach the worker
    out_transport.close()
    return code


def main() -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return asyncio.run(_amain())
    return uvloop.run(_amain())


if __name__ == "__main__":
    sys.exit(main())
