"""``python -m fleetsim.bench.soak``: do memory and event-loop lag stay flat over a long run?

A compressed multi-day scenario (archetype mix, thousands of stations) against the
ack server in its own process. Prints RSS, live Python memory blocks and loop lag over
the same simulated hours early and late in the run, and the change. RSS is close to a
high-water mark (the allocator seldom returns memory), so the live blocks
(``sys.getallocatedblocks``) tell a leak from a busier hour in between. A benchmark
command, not a CI test.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from typing import Any

import psutil

from fleetsim.bench.figures import start_ack_server

__all__ = ["main"]


async def _soak(url: str, stations: int, days: float, minutes: float) -> list[dict[str, float]]:
    from fleetsim.drivers.registry import plan_fleet
    from fleetsim.metrics.recorder import IntervalStats, Recorder
    from fleetsim.run.station_setup import station_config
    from fleetsim.scenario import build_fleet, parse_scenario
    from fleetsim.station import STATION_CLASSES, Clock
    from fleetsim.transport import Engine, EngineOptions

    wall_s = minutes * 60
    factor = days * 86400 / wall_s
    s = parse_scenario({
        "name": "soak", "seed": 1, "duration": f"{wall_s}s",
        "stations": {"count": stations, "connectors": 2, "connect_rate": 500,
                     "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}},
        "clock": {"time_factor": factor, "start": "2026-01-05T00:00:00Z"},
        "ocpp": {"meter_interval": "900s", "heartbeat_interval": "3600s"},
        "drivers": {"mix": {"residential_ac": 0.4, "public_ac": 0.3, "workplace_ac": 0.3}},
    })
    specs = build_fleet(s)
    plans = plan_fleet(s, specs, horizon_s=days * 86400 + 3600)
    rec = Recorder()
    clock = Clock.start(epoch=s.clock.start, factor=factor, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    cfg = station_config(s)
    sts = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec, config=cfg)
           for sp, pl in zip(specs, plans, strict=True)]
    proc = psutil.Process()
    samples: list[dict[str, float]] = []
    lag_window: list[float] = []

    def on_interval(st: IntervalStats) -> None:
        samples.append({"t_s": st.t_s, "rss_mib": proc.memory_info().rss / 2**20,
                        "blocks_k": sys.getallocatedblocks() / 1000,
                        "lag_p99_ms": rec.loop_lag.percentile_ms(99),
                        "connected": st.gauges.get("connected", 0.0),
                        "sim_day": st.gauges.get("sim_time_s", 0.0) / 86400})
        rec.loop_lag.reset()  # per-interval lag, so a late window is not diluted by early ones
        lag_window.append(samples[-1]["lag_p99_ms"])

    engine = Engine(sts, [f"{url}/{sp.station_id}" for sp in specs], recorder=rec,
                    on_interval=on_interval, options=EngineOptions(connect_rate_per_s=500))
    await engine.run(wall_s)
    return samples


def _window(samples: list[dict[str, float]], lo_day: float, hi_day: float) -> dict[str, float]:
    w = [x for x in samples if lo_day <= x["sim_day"] < hi_day] or samples[-1:]
    lags = sorted(x["lag_p99_ms"] for x in w)
    return {"rss_mib": sum(x["rss_mib"] for x in w) / len(w),
            "blocks_k": sum(x["blocks_k"] for x in w) / len(w),
            "lag_p99_ms": lags[len(lags) // 2], "sim_day": w[-1]["sim_day"]}


def _child(q: Any, url: str, stations: int, days: float, minutes: float) -> None:
    import uvloop

    q.put(uvloop.run(_soak(url, stations, days, minutes)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m fleetsim.bench.soak", description=__doc__)
    ap.add_argument("--stations", type=int, default=3000)
    ap.add_argument("--days", type=float, default=7.0, help="simulated days")
    ap.add_argument("--minutes", type=float, default=10.0, help="wall minutes")
    a = ap.parse_args(argv)
    ctx = mp.get_context("spawn")
    server, url = start_ack_server(ctx)
    q = ctx.Queue()
    child = ctx.Process(target=_child, args=(q, url, a.stations, a.days, a.minutes))
    child.start()
    try:
        samples = q.get(timeout=a.minutes * 60 + 600)
    finally:
        child.join(30)
        server.kill()
    # compare the same simulated hours of day: the last simulated 3 hours against the
    # same 3 hours whole days earlier (after the first day's connect ramp), since the
    # load of a driver-model fleet follows the clock
    last = samples[-1]["sim_day"]
    days_back = max(1, int(last - 1.0))
    end = _window(samples, last - 0.125, last + 1)
    start = _window(samples, last - days_back - 0.125, last - days_back + 1e-9)
    print(f"soak: {a.stations} stations, {a.days:g} simulated days in {a.minutes:g} wall minutes")
    print(f"{'window':10} {'sim day':>8} {'RSS MiB':>9} {'live blocks K':>14} "
          f"{'loop lag p99 ms':>16}")
    for name, w in (("start", start), ("end", end)):
        print(f"{name:10} {w['sim_day']:8.2f} {w['rss_mib']:9.1f} {w['blocks_k']:14.1f} "
              f"{w['lag_p99_ms']:16.2f}")
    print(f"change     {'':8} {end['rss_mib'] - start['rss_mib']:+9.1f} "
          f"{end['blocks_k'] - start['blocks_k']:+14.1f} "
          f"{end['lag_p99_ms'] - start['lag_p99_ms']:+16.2f}")


if __name__ == "__main__":
    main()
