"""Merge the engine processes' folders of one run into the standard results folder.

Every engine writes ``<run>/workers/<tag>/`` (:mod:`fleetsim.run.worker_folder`): the
child behind each Locust worker, and the one engine of an in-process run (``fleetsim
run --workers 0``), whose results come from here too. Intervals (indexed by whole
seconds since the run's common origin), finished sessions, and at the end its exact
:class:`Recorder` (``recorder.json``) and facts (``worker.json``). The merge adds
histograms and counters exactly — not Locust's rounded statistics — so counts and
percentiles are those of one big engine.

Workers on other hosts send their folders to the master over Locust's messages
(:mod:`fleetsim.locust_adapter.transfer`); one that could not can be copied beside
the others by hand and merged with ``python -m fleetsim.run.merge RUN_DIR``.

The merge also says where the box saturated (:mod:`fleetsim.run.overload`):
``summary["overload"]`` names each engine, resource and second, ``summary["cpu"]``
counts every process's CPU and the whole box's.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from fleetsim.exceptions import FleetsimError, ResultsError
from fleetsim.locust_adapter.wire import LIVENESS_FILE
from fleetsim.metrics.recorder import LAG_KEY, Recorder
from fleetsim.run.overload import (
    EngineTrace,
    after_ramp,
    box_episodes,
    describe,
    engine_episodes,
    overload_section,
    read_cpu_file,
)
from fleetsim.run.results import ResultsFolder
from fleetsim.run.summary import WorkerFigures, build_summary, workers_generator
from fleetsim.run.worker_folder import read_lines, worker_dirs
from fleetsim.scenario import load_scenario, station_spec
from fleetsim.scenario.model import Scenario

__all__ = ["IN_PROCESS_ROLE", "LIVENESS_FILE", "MergeOutcome", "cpu_section", "liveness_warnings",
           "merge_run"]


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    path: Path
    summary: dict[str, Any]
    workers: int


IN_PROCESS_ROLE = "in-process"  # run_cpu.json's role when the engine ran in the sampling process


def liveness_warnings(out: Path) -> list[str]:
    """The merge's generator warnings from ``<run>/locust_workers.json`` (none if absent)."""
    try:
        rows = orjson.loads((out / LIVENESS_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    return [f"Locust worker {r['worker']} sent no heartbeat for {r['silent_s']} s from "
            f"t={r['since_s']:.0f} s (CPU-starved?)"
            + ("; the master counted it missing" if r.get("missing") else
               "; its stations stayed with it") for r in rows]



def merge_run(run: Path, s: Scenario, *, started_at: str = "",
              results: ResultsFolder | None = None,
              failure: str | None = None,
              csms_restarts: Sequence[Mapping[str, Any]] = (),
              interrupted: bool = False) -> MergeOutcome:
    """Write ``summary.json``, ``histograms.json``, ``timeseries.csv``, ``sessions.csv`` …

    ``results`` is the folder the caller opened at the start (it wrote
    ``scenario.yaml``); without one it is opened here. ``failure`` is the run's
    own failure, if any; a worker's failure (e.g. CSMS unreachable) or missing
    final figures make the run incomplete too. ``csms_restarts`` are the embedded CSMS's
    injected restarts, done by whoever owned it (run/csms_restart.py).
    """
    epoch = s.clock.epoch
    if results is None:
        results = ResultsFolder(run, scenario_raw=s.raw, epoch_unix=epoch.timestamp())
    dirs = worker_dirs(run)
    merged = Recorder()
    figures: list[WorkerFigures] = []
    connected: dict[int, float] = {}
    started: set[int] = set()
    booted: set[int] = set()
    wall = 0.0
    missing: list[str] = []
    episodes: list[dict[str, Any]] = []
    traces: list[EngineTrace] = []
    for d in dirs:
        trace = EngineTrace(d.name)
        for wire in read_lines(d / "intervals.jsonl"):
            results.add_interval_wire(wire)
            trace.add(int(wire["index"]), wire["gauges"], (wire.get("hists") or {}).get(LAG_KEY))
        traces.append(trace)
        info_only = _info(d / "worker.json")
        episodes += engine_episodes(trace, info_only, host=(info_only or {}).get("host"))
        results.add_sessions(read_lines(d / "sessions.jsonl"))
        results.add_messages(read_lines(d / "messages.jsonl"))
        rec_file, info_file = d / "recorder.json", d / "worker.json"
        if not (rec_file.exists() and info_file.exists()):
            missing.append(d.name)
            continue
        try:
            rec = Recorder.from_wire(orjson.loads(rec_file.read_bytes()))
            info = orjson.loads(info_file.read_bytes())
        except (orjson.JSONDecodeError, KeyError) as exc:
            raise ResultsError(f"{d}: unreadable final figures: {exc}") from None
        merged.add(rec)
        figures.append(WorkerFigures(d.name, rec, info))
        started.update(info.get("started_indices", ()))
        booted.update(info.get("booted_indices", ()))
        wall = max(wall, float(info.get("wall_s") or 0.0))
        if info.get("failure") and failure is None:
            failure = str(info["failure"])
    end = max((max(tr.seconds) for tr in traces if tr.seconds), default=-1)
    for tr in traces:
        _add_connected(connected, tr, end)
    if missing and failure is None:  # name every one: a summary must say what it lacks
        failure = (f"{len(missing)} of {len(dirs)} engines left no final figures (killed?): "
                   f"{', '.join(missing)}; their intervals and sessions are merged, their "
                   "totals are not")
    if not dirs and failure is None:
        failure = "no engine process started (no station was spawned)"
    generator = workers_generator(merged, figures)
    if silent := liveness_warnings(run):  # a generator-health fact: the box was saturated
        generator["warnings"] += silent
        generator["valid"] = False
    cpu_file = read_cpu_file(run)
    cores = int(cpu_file.get("cores") or os.cpu_count() or 1)
    episodes += box_episodes(cpu_file.get("box_per_s") or (), cores)
    overload = overload_section(episodes)
    generator["after_ramp"] = after_ramp(traces, s.duration_s, overload["episodes"])
    if overload["saturated"]:  # loud: each episode is a reason the figures are suspect
        generator["warnings"] += [f"overload: {describe(e)}" for e in overload["episodes"]]
        generator["valid"] = False
    versions: dict[str, int] = {}
    for i in sorted(started):
        v = station_spec(s, i).version.value
        versions[v] = versions.get(v, 0) + 1
    # the fleet's per-second total, or one engine's own maximum if that saw more (between
    # two samples): with one engine, exactly that engine's figure
    connected_max = max(max(connected.values(), default=0.0),
                        *(float(f.info.get("connected_max") or 0) for f in figures), 0.0)
    summary = build_summary(s, rec=merged, versions=versions,
                            planned=max(s.stations.count, len(started)),
                            connected_max=round(connected_max),
                            booted=len(booted), wall_s=wall, started_at=started_at,
                            failure=failure, generator=generator,
                            csms_restarts=csms_restarts, interrupted=interrupted)
    summary["stations"]["started"] = len(started)
    summary["overload"] = overload
    summary["cpu"] = cpu_section(figures, cpu_file, cores)
    summary = results.write_final(summary, merged, stop_at_s=s.duration_s)
    return MergeOutcome(path=run, summary=summary, workers=len(dirs))


def _add_connected(connected: dict[int, float], trace: EngineTrace, end: int) -> None:
    """Add one engine's connected stations to each second's total up to ``end``. A second
    it did not report (starved, killed) counts its last report, as the live line does:
    the total never under-counts an engine that fell silent."""
    last = 0.0
    seconds = trace.seconds
    for i in range(min(seconds, default=0), end + 1):
        g = seconds.get(i)
        if g is not None:
            last = float(g.get("connected", 0.0))
        connected[i] = connected.get(i, 0.0) + last


def _info(path: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def cpu_section(figures: Sequence[WorkerFigures], cpu_file: Mapping[str, Any],
                cores: int) -> dict[str, Any]:
    """Every fleetsim process's CPU (each its average over its own life, % of one core),
    their sum, and the whole box's (% of all cores) over the run and per second.

    ``cpu_file`` is the sampling process's ``run_cpu.json``: the Locust master's (``role``
    ``master``), or the in-process run's own, which holds its engine (no master then)."""
    engines = {f.tag: f.cpu_percent for f in figures}
    workers = {f.tag: float(f.info["locust_cpu_percent"]) for f in figures
               if f.info.get("locust_cpu_percent") is not None}
    master = cpu_file.get("process_cpu_percent")
    if cpu_file.get("role") == IN_PROCESS_ROLE:  # the engine ran in that process: count it once
        total, master = float(master or 0.0), None
    else:
        total = sum(engines.values()) + sum(workers.values()) + float(master or 0.0)
    per_s = list(cpu_file.get("box_per_s") or ())
    return {"cores": cores, "fleetsim_cpu_percent": round(total, 1),
            "fleetsim_share_of_box_percent": round(total / cores, 1),
            "master_cpu_percent": master, "master_role": cpu_file.get("role"),
            "engines": engines, "locust_workers": workers,
            "box_cpu_percent": cpu_file.get("box_cpu_percent"),
            "box_peak_percent": max(per_s, default=None), "box_per_s": per_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fleetsim.run.merge", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="run folder holding workers/<tag>/")
    ap.add_argument("--scenario", type=Path, help="scenario (default RUN/scenario.yaml)")
    a = ap.parse_args(argv)
    try:
        s = load_scenario(a.scenario or a.run / "scenario.yaml")
        out = merge_run(a.run, s)
    except FleetsimError as exc:
        print(f"fleetsim: error: {exc}", file=sys.stderr)
        return 2
    print(f"merged {out.workers} engine processes into {out.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
