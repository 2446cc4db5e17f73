"""``fleetsim run`` in one process: embedded CSMS (its own process) + one engine.

Loads nothing itself: it takes a validated :class:`Scenario`, starts the
embedded CSMS when the scenario targets it, plans the fleet, runs the engine on
uvloop and streams its figures to ``workers/engine/`` — the folder a Locust
worker's engine writes — then makes the results from it with the merge every run
uses (:mod:`fleetsim.run.merge`). Ctrl-C stops the run gracefully and still writes
results.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetsim.drivers.registry import fleet_feeds, fleet_tags
from fleetsim.exceptions import FleetsimError
from fleetsim.metrics.recorder import Recorder
from fleetsim.run.csms_restart import csms_restarts
from fleetsim.run.merge import IN_PROCESS_ROLE, merge_run
from fleetsim.run.overload import BoxCpu
from fleetsim.run.progress import ProgressLine
from fleetsim.run.results import ResultsFolder, run_dir
from fleetsim.run.station_setup import station_config
from fleetsim.run.worker_folder import IN_PROCESS_TAG, WorkerFolder, engine_facts
from fleetsim.scenario.fleet import build_fleet
from fleetsim.scenario.model import OcppVersion, Scenario
from fleetsim.security.client import engine_security
from fleetsim.station import STATION_CLASSES, Clock
from fleetsim.station.clock import iso_ms
from fleetsim.transport.engine import Engine, EngineOptions, EngineReport
from fleetsim.transport.faults import FaultInjector

__all__ = ["RunOutcome", "csms_urls", "embedded_csms", "run_scenario", "run_tags"]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    path: Path
    summary: dict[str, Any]


def run_tags(s: Scenario, *, stations: int | None = None,
             wall_s: float | None = None) -> list[str]:
    """The idTags a run of ``s`` uses: those of ``fleetsim plan`` for the run's simulated
    length (``wall_s``, default the duration, x time_factor), planned window by window."""
    specs = build_fleet(s, None if stations is None else range(stations))
    wall = s.duration_s if wall_s is None else wall_s
    return fleet_tags(s, specs, horizon_s=wall * s.clock.time_factor)


@contextlib.contextmanager
def embedded_csms(s: Scenario, out: Path, tokens: list[str]) -> Iterator[Any]:
    """The scenario's embedded CSMS while the block runs (None for a CSMS under test).

    It authorises exactly ``tokens`` (:func:`run_tags`, plus a prefix rule if the
    scenario sets one); anything else is Invalid, as a real CSMS would answer."""
    if not s.csms.embedded:
        yield None
        return
    from fleetsim.csms.embedding import embedded_options
    from fleetsim.csms.process import EmbeddedCsms

    with EmbeddedCsms(db=str(out / "csms.sqlite"),
                      heartbeat_interval_s=max(1, round(s.csms.heartbeat_interval_s)),
                      token_prefix=s.csms.token_prefix or None, tokens=tokens,
                      log_file=str(out / "csms.log"), **embedded_options(s, out)) as csms:
        yield csms


@contextlib.contextmanager
def csms_urls(s: Scenario, out: Path, tokens: list[str]) -> Iterator[dict[OcppVersion, str]]:
    with embedded_csms(s, out, tokens) as csms:
        yield dict(s.csms.urls) if csms is None else {v: csms.url for v in OcppVersion}


def run_scenario(s: Scenario, *, out_base: str | Path = "results", out_dir: str | Path | None = None,
                 progress: bool = True, metrics_port: int | None = None,
                 metrics_hold_s: float = 0.0) -> RunOutcome:
    """Run ``s`` and write its results folder; raises FleetsimError on a failed run.

    The engine writes ``workers/engine/`` as a Locust worker's engine does, and the
    results come from the same merge (:func:`merge_run`); an interrupted run is not
    a failure: its summary says ``interrupted``."""
    out = run_dir(out_dir, out_base, s.name)
    specs = build_fleet(s)
    # lazy: stations plan a window ahead, up to the run's simulated end
    plans = fleet_feeds(s, specs, horizon_s=s.duration_s * s.clock.time_factor)
    results = ResultsFolder(out, scenario_raw=s.raw, epoch_unix=s.clock.epoch.timestamp())
    started_at = iso_ms(time.time())
    failure: str | None = None
    restarts: list[dict[str, Any]] = []
    stopped_early = False
    box = BoxCpu(time.time())  # the box's CPU and this process's, as a Locust master's
    try:
        with embedded_csms(s, out, run_tags(s) if s.csms.embedded else []) as csms:
            urls = dict(s.csms.urls) if csms is None else {v: csms.url for v in OcppVersion}
            with live_metrics(metrics_port, metrics_hold_s) as feed:
                stopped_early = _run_engine(s, specs, plans, urls, out, progress, csms,
                                            restarts, feed, box)
    except FleetsimError as exc:
        failure = str(exc)
    box.write(out, role=IN_PROCESS_ROLE)
    summary = merge_run(out, s, started_at=started_at, results=results, failure=failure,
                        csms_restarts=restarts, interrupted=stopped_early).summary
    if not summary["completed"] and not summary["interrupted"]:
        raise FleetsimError(f"{summary['failure']} (partial results in {out})")
    return RunOutcome(path=out, summary=summary)


def _run_engine(s: Scenario, specs: Any, plans: Any, urls: dict[OcppVersion, str], out: Path,
                progress: bool, csms: Any, restarts: list[dict[str, Any]], feed: Any,
                box: BoxCpu) -> bool:
    """Run the engine to its end into ``out/workers/engine/``; True if a signal stopped it
    early. Its final figures are written even when it fails (then it raises)."""
    cfg = station_config(s)
    line = ProgressLine(s.stations.count, clock=s.clock) if progress else None
    rec = Recorder()
    folder = WorkerFolder(out / "workers" / IN_PROCESS_TAG)

    def on_interval(st: Any) -> None:
        box.sample()  # each engine second: the box's CPU for summary["overload"]
        folder.interval(st)
        if line is not None:
            line(st)
        if feed is not None:
            feed.interval(st.gauges, rec)

    def on_sessions(rows: Any) -> None:
        folder.sessions(rows)
        if feed is not None:
            feed.sessions(rows)

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        # not the main thread (uvloop: ValueError), or no signals here: the caller stops it
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, stop.set)
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        clock = Clock.start(epoch=s.clock.epoch, factor=s.clock.time_factor,
                            wall_timestamps=s.clock.timestamps == "wall",
                            monotonic=time.monotonic(), unix=time.time())
        if s.csms.embedded:  # the CSMS's commands run on this clock
            from fleetsim.csms.embedding import start_commands

            start_commands(s, out, epoch_unix=clock.epoch_unix, origin_unix=clock.unix0)
        stations = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec, config=cfg)
                    for sp, pl in zip(specs, plans, strict=True)]
        target = dataclasses.replace(s.csms, urls=urls)
        uris = [target.url_for(sp.version, sp.station_id) for sp in specs]
        faults = (FaultInjector(s.faults, seed=s.seed, clock=clock)
                  if s.faults.station_side else None)
        engine = Engine(stations, uris, recorder=rec, on_interval=on_interval,
                        on_sessions=on_sessions, on_messages=folder.messages,
                        faults=faults, options=EngineOptions(
                            connect_rate_per_s=s.stations.connect_rate_per_s,
                            stop_rate_per_s=s.stations.end_rate_per_s(),
                            connect_timeout_s=s.csms.connect_timeout_s,
                            source_addresses=s.stations.source_addresses,
                            stop_spread_s=s.stations.stop_spread_s,
                            reconnect_per_version=True,
                            **engine_security(s.csms)))
        origin_unix = time.time()  # the engine's clock starts now: fault times count from here
        report: EngineReport | None = None
        failure: str | None = None
        try:
            with csms_restarts(csms, s.faults.csms_restarts, origin=lambda: origin_unix,
                               horizon_s=s.duration_s, day_s_at_origin=clock.epoch_unix % 86400.0,
                               factor=s.clock.time_factor) as restarter:
                try:
                    report = await engine.run(s.duration_s, stop)
                finally:
                    if restarter is not None:
                        restarts.extend(restarter.events)
            if feed is not None:
                feed.interval({**engine.gauges(), "cpu_percent": report.cpu_percent}, rec,
                              final=True)
            return report.stopped_early
        except FleetsimError as exc:
            failure = str(exc)
            raise
        finally:
            folder.finish(rec, engine_facts(
                IN_PROCESS_TAG, engine, started=(sp.index for sp in specs),
                booted=(r.station.spec.index for r in engine.runners if r.station.boots > 0),
                wall_s=report.wall_s if report else 0.0,
                cpu_percent=report.cpu_percent if report else 0.0, failure=failure))

    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return asyncio.run(main())


@contextlib.contextmanager
def live_metrics(port: int | None, hold_s: float = 0.0) -> Iterator[Any]:
    """An :class:`EngineFeed` into a Prometheus endpoint on ``port`` (None: no endpoint),
    kept up ``hold_s`` after the run so a scraper takes the final figures."""
    if port is None:
        yield None
        return
    from fleetsim.live.figures import Board, EngineFeed
    from fleetsim.live.prometheus import MetricsServer

    board = Board()
    server = MetricsServer(board, port=port)
    try:
        yield EngineFeed("engine", board.update)
        if hold_s > 0:  # Ctrl-C or SIGTERM ends the hold early; results are written after it
            done = threading.Event()
            old = {sig: signal.signal(sig, lambda *_: done.set())
                   for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                done.wait(hold_s)
            finally:
                for sig, handler in old.items():
                    signal.signal(sig, handler)
    finally:
        server.close()
