"""``python -m fleetsim.bench.stalls``: does the engine stall itself? (issue 18)

Runs the two profiles of issue 18 against the ack server (its own process), each
engine in a fresh process, and prints per profile the event-loop lag p99 and max,
the garbage collector's pauses by generation (timed with ``gc.callbacks``), late
sends, planned sessions held as objects and RSS:

- ``busy``: 2,000 OCPP 1.6 stations, two connectors, Heartbeat and MeterValues every
  1 s, sessions of 5–10 s with a mean gap of 1.5 s (``uniform``);
- ``realistic``: 10,000 stations, every 60 s, sessions of 60–120 s, mean gap 22.5 s
  (the mix bench's ``realistic`` profile).

The steady state (from 5 s after the last boot) is printed apart, with the box's idle
share of its cores: a lag with the box idle is the engine's own; without, it may be
the neighbours'.

``GC objs`` counts the objects the collector tracks once the fleet is set up and
``full GC`` times one full collection then: the pause the loop took whenever one
ran. ``--eager`` plans every session of the run (its length + 1 h) up front as
objects and ``--no-freeze`` leaves the set-up objects in the collector's walks, as
fleetsim did before: the causes of the stalls, kept for comparison. A benchmark command, not a CI test; figures depend on the box.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import time
from typing import Any

import psutil

from fleetsim.bench.figures import start_ack_server

__all__ = ["PROFILES", "main"]

SETUP_RUN_S = 300.0  # --seconds 0: the fleet of a 5-minute run, set up but not run
PROFILES: dict[str, dict[str, Any]] = {
    "busy": {"stations": 2000, "interval": "1s", "dwell_s": (5, 10), "gap_s": 1.5},
    "realistic": {"stations": 10000, "interval": "60s", "dwell_s": (60, 120), "gap_s": 22.5},
}


class GcTimer:
    """Pause of every collection, by generation, via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.pauses_before: dict[int, list[float]] = {0: [], 1: [], 2: []}  # the ramp's
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._t0)

    def summary(self) -> dict[int, tuple[int, float, float]]:
        """generation → (collections, max ms, total ms)."""
        return {g: (len(p), max(p, default=0.0) * 1e3, sum(p) * 1e3)
                for g, p in self.pauses.items()}


def scenario(name: str, seconds: float, stations: int | None = None,
             connect_rate: int = 1000) -> Any:
    from fleetsim.scenario import parse_scenario

    p = PROFILES[name]
    lo, hi = p["dwell_s"]
    return parse_scenario({
        "name": f"stalls_{name}", "seed": 1, "duration": f"{seconds}s",
        "stations": {"count": stations or p["stations"], "connectors": 2,
                     "connect_rate": connect_rate, "versions": {"1.6": 1}},
        "ocpp": {"meter_interval": p["interval"], "heartbeat_interval": p["interval"]},
        "drivers": {"model": "uniform", "overrides": {"uniform": {
            "dwell_h": [lo / 3600, hi / 3600], "sessions_per_day": 86400 / p["gap_s"]}}},
    }, file="<bench.stalls>")


async def _run(url: str, name: str, seconds: float, eager: bool, stations: int | None,
               freeze: bool = True, connect_rate: int = 1000) -> dict[str, Any]:
    from fleetsim.drivers.registry import fleet_feeds, plan_fleet
    from fleetsim.metrics.recorder import Recorder
    from fleetsim.run.station_setup import station_config
    from fleetsim.scenario import build_fleet
    from fleetsim.station import STATION_CLASSES, Clock
    from fleetsim.transport import Engine, EngineOptions

    s = scenario(name, seconds or SETUP_RUN_S, stations, connect_rate)
    specs = build_fleet(s)
    t0 = time.perf_counter()
    plans = (plan_fleet(s, specs, horizon_s=s.duration_s + 3600.0) if eager
             else fleet_feeds(s, specs))
    plan_s = time.perf_counter() - t0
    held = sum(len(p.sessions) for p in plans)
    rec = Recorder()
    clock = Clock.start(epoch=s.clock.epoch, factor=1.0, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    cfg = station_config(s)
    sts = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec, config=cfg)
           for sp, pl in zip(specs, plans, strict=True)]
    del plans
    tracked = len(gc.get_objects())
    t0 = time.perf_counter()
    gc.collect()
    full_ms = (time.perf_counter() - t0) * 1e3  # what one full collection costs now
    base = {"profile": name, "stations": len(specs), "eager": eager, "plan_s": plan_s,
            "held": held, "tracked": tracked, "full_ms": full_ms, "freeze": freeze,
            "rss_mib": psutil.Process().memory_info().rss / 2**20}
    if seconds <= 0:  # set-up only: what the collector would walk
        return {**base, "lag_p99_ms": float("nan"), "lag_max_ms": float("nan"), "late": 0,
                "sent": 0, "cpu": 0.0, "gc": {}}
    timer = GcTimer()
    gc.callbacks.append(timer)
    engine = Engine(sts, [f"{url}/{sp.station_id}" for sp in specs], recorder=rec,
                    options=EngineOptions(connect_rate_per_s=connect_rate))
    engine.freeze_heap = freeze
    steady: dict[str, Any] = {}
    stop_at = time.monotonic() + seconds  # the engine's stop begins then: not steady
    watch = asyncio.get_running_loop().create_task(_steady(sts, rec, timer, steady, stop_at))
    report = await engine.run(seconds)
    watch.cancel()
    gc.callbacks.remove(timer)
    before = timer.pauses_before
    full_gc = {g: (len(before[g]) + n, max(max(before[g], default=0.0) * 1e3, mx),
                   sum(before[g]) * 1e3 + tot)
               for g, (n, mx, tot) in timer.summary().items()}
    if "t1" in steady:  # the steady state: from 5 s after every station booted to the stop
        span = steady["t1"] - steady["t0"]
        steady.update(lag_p99_ms=steady["lag"].percentile_ms(99),
                      lag_max_ms=steady["lag"].max_ms(), late=steady["late1"] - steady["late0"],
                      cpu=(steady["cpu1"] - steady["cpu0"]) / span * 100 if span else 0.0,
                      seconds=span,
                      box_idle=(steady["idle1"] - steady["idle0"]) / span * 100
                      / (psutil.cpu_count() or 1) if span else 0.0)
        del steady["lag"]
    return {"profile": name, "stations": len(specs), "eager": eager, "plan_s": plan_s,
            "held": held, "tracked": tracked, "full_ms": full_ms, "freeze": freeze,
            "lag_p99_ms": rec.loop_lag.percentile_ms(99),
            "lag_max_ms": rec.loop_lag.max_ms(), "late": rec.late_sends,
            "sent": sum(a.sent for a in rec.actions.values()), "cpu": report.cpu_percent,
            "rss_mib": psutil.Process().memory_info().rss / 2**20, "gc": full_gc,
            "steady": steady if "t1" in steady else {}}


async def _steady(stations: list[Any], rec: Any, timer: GcTimer, out: dict[str, Any],
                  stop_at: float) -> None:
    """From 5 s after the last station booted until the stop begins, measure loop lag
    and GC pauses afresh: the ramp (connects, boots) and the stop (every session ended at
    once) are bursts of their own, reported in the whole-run figures."""
    from fleetsim.metrics.histogram import LatencyHistogram

    n = len(stations)
    while sum(st.booted for st in stations) < n:
        await asyncio.sleep(0.5)
    await asyncio.sleep(5.0)
    lag = LatencyHistogram()
    original = rec.record_loop_lag

    def both(lag_s: float) -> None:
        original(lag_s)
        if time.monotonic() < stop_at:
            lag.record_s(lag_s)

    rec.record_loop_lag = both
    cpu = psutil.Process().cpu_times()
    timer.pauses_before = {g: list(p) for g, p in timer.pauses.items()}
    for p in timer.pauses.values():
        p.clear()
    out.update(t0=time.monotonic(), lag=lag, late0=rec.late_sends, cpu0=cpu.user + cpu.system,
               idle0=psutil.cpu_times().idle)
    await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
    cpu = psutil.Process().cpu_times()  # the steady state ends where the stop begins
    out.update(t1=time.monotonic(), gc=timer.summary(), late1=rec.late_sends,
               cpu1=cpu.user + cpu.system, idle1=psutil.cpu_times().idle)


def _child(q: Any, url: str, name: str, seconds: float, eager: bool,
           stations: int | None, freeze: bool, connect_rate: int) -> None:
    import uvloop

    try:
        q.put(uvloop.run(_run(url, name, seconds, eager, stations, freeze, connect_rate)))
    except Exception as exc:  # a benchmark reports, never hangs
        q.put({"profile": name, "error": f"{type(exc).__name__}: {exc}"})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m fleetsim.bench.stalls", description=__doc__)
    ap.add_argument("--profile", choices=[*PROFILES, "both"], default="both")
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="wall seconds per profile (0: set the fleet up, measure, no traffic)")
    ap.add_argument("--stations", type=int, help="override the profile's station count")
    ap.add_argument("--connect-rate", type=int, default=1000,
                    help="stations connected per second (default 1000); a ramp shorter than "
                         "the profile's interval crowds every station's timers into part of it")
    ap.add_argument("--eager", action="store_true",
                    help="plan the whole run up front as objects (the old way)")
    ap.add_argument("--no-freeze", action="store_true",
                    help="leave the set-up objects in the collector's walks (the old way)")
    a = ap.parse_args(argv)
    ctx = mp.get_context("spawn")
    server, url = start_ack_server(ctx)
    rows = []
    try:
        for name in (PROFILES if a.profile == "both" else [a.profile]):
            q = ctx.Queue()
            child = ctx.Process(target=_child,
                                args=(q, url, name, a.seconds, a.eager, a.stations,
                                      not a.no_freeze, a.connect_rate))
            child.start()
            try:
                rows.append(q.get(timeout=a.seconds + 600))
            finally:
                child.join(30)
                if child.is_alive():
                    child.kill()
    finally:
        server.kill()
    print(f"{'profile':8} {'stations':>8} {'plan':>6} {'freeze':>6} {'planned':>9} "
          f"{'GC objs':>9} {'full GC':>8} {'lag p99':>8} "
          f"{'lag max':>8} {'late':>6} {'sent':>8} {'CPU %':>6} {'RSS MiB':>8}  "
          f"GC pauses: gen n/max ms/total ms")
    for r in rows:
        if "error" in r:
            print(f"{r['profile']:8} failed: {r['error']}")
            continue
        gcs = "  ".join(f"g{g} {n}/{mx:.1f}/{tot:.0f}" for g, (n, mx, tot) in r["gc"].items())
        print(f"{r['profile']:8} {r['stations']:8d} {'eager' if r['eager'] else 'lazy':>6} "
              f"{'yes' if r['freeze'] else 'no':>6} {r['held']:9d} {r['tracked']:9d} "
              f"{r['full_ms']:8.0f} {r['lag_p99_ms']:8.1f} {r['lag_max_ms']:8.1f} {r['late']:6d} "
              f"{r['sent']:8d} {r['cpu']:6.0f} {r['rss_mib']:8.0f}  {gcs}")
        st = r.get("steady") or {}
        if st:
            gcs = "  ".join(f"g{g} {n}/{mx:.1f}/{tot:.0f}" for g, (n, mx, tot) in st["gc"].items())
            print(f"{'  steady':8} {'after':>8} {'ramp':>6} {st['seconds']:5.0f}s {'':>9} {'':>9} "
                  f"{'':>8} {st['lag_p99_ms']:8.1f} {st['lag_max_ms']:8.1f} {st['late']:6d} "
                  f"{'':>8} {st['cpu']:6.0f} {'':>8}  {gcs}  box idle {st['box_idle']:.0f} %")
        elif r.get("lag_p99_ms") == r.get("lag_p99_ms") and r.get("sent"):
            print(f"{'  steady':8} never reached: not every station booted")


if __name__ == "__main__":
    main()
