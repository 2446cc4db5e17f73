"""``python -m fleetsim.bench.live_cost``: what the Fleet tab and /metrics add to generator CPU.

The live views cost the generator two things, both measured here on real objects:

- per engine, once a second, :func:`engine_snapshot` copies every action's three
  HdrHistograms' non-zero counts (the station states come from the walk
  :meth:`Engine.gauges` makes every second anyway; its cost, states included, is
  printed too);
- on the master (or the single process), each scrape or tab refresh merges the engines'
  snapshots (at most once a second) for a Fleet-tab refresh (every 2 s while the tab is
  open), and renders the exposition for a Prometheus scrape (every ``--scrape-s``).

It builds ``--stations`` real station cores of the scenario (not connected: the walk
costs the same) and a recorder holding ``--samples`` latencies over the scenario's
actions, times each step (median of ``--repeat``), and prints the CPU share of one
core at one snapshot every 2 s, one tab refresh every ``--tab-s`` and one scrape every
``--scrape-s`` seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from fleetsim.live.figures import LIVE_PERIOD_S, Board, engine_snapshot
from fleetsim.metrics.recorder import Recorder

__all__ = ["main"]

KEYS = [f"{v}/{a}" for v in ("1.6", "2.0.1", "2.1") for a in (
    "BootNotification", "Heartbeat", "StatusNotification", "Authorize", "MeterValues",
    "TransactionEvent" if v != "1.6" else "StartTransaction")]


def _stations(path: str, n: int, rec: Recorder) -> list[Any]:
    from fleetsim.locust_adapter.child import station_plans
    from fleetsim.run.station_setup import station_config
    from fleetsim.scenario import build_fleet, load_scenario, with_overrides
    from fleetsim.station import STATION_CLASSES, Clock

    s = with_overrides(load_scenario(path), stations=n)
    clock = Clock.start(epoch=s.clock.epoch, factor=s.clock.time_factor, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    cfg = station_config(s)
    idx = list(range(n))
    cores = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec, config=cfg)
             for sp, pl in zip(build_fleet(s, idx), station_plans(s, idx, 7200.0), strict=True)]
    return [SimpleNamespace(station=c, conn=None, attempts=1) for c in cores]


def _median_s(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fleetsim.bench.live_cost")
    p.add_argument("--scenario", default="scenarios/quickstart.yaml")
    p.add_argument("--stations", type=int, default=10_000)
    p.add_argument("--samples", type=int, default=200_000)
    p.add_argument("--engines", type=int, default=2, help="snapshots the master merges")
    p.add_argument("--tab-s", type=float, default=2.0,
                   help="seconds between Fleet-tab refreshes (the UI polls every 2 s)")
    p.add_argument("--scrape-s", type=float, default=15.0,
                   help="seconds between Prometheus scrapes (a common scrape_interval)")
    p.add_argument("--repeat", type=int, default=15)
    a = p.parse_args(argv)
    rec = Recorder()
    rng = np.random.default_rng(1)
    for key, lat in zip(rng.choice(KEYS, a.samples), rng.lognormal(-3.0, 1.0, a.samples),
                        strict=True):
        rec.call_sent(str(key), own_s=0.0, offline_s=0.0, engine_s=0.0)
        rec.call_done(str(key), float(lat), float(lat))
    from fleetsim.transport.engine import Engine

    engine: Any = SimpleNamespace(runners=_stations(a.scenario, a.stations, rec), connected=0,
                                  connected_max=0)
    gauges = Engine.gauges(engine)
    walk_s = _median_s(lambda: Engine.gauges(engine), a.repeat)
    snap_s = _median_s(lambda: engine_snapshot(gauges, rec, tag="e", sessions_finished=0),
                       a.repeat)
    snaps = [engine_snapshot(gauges, rec, tag=f"e{i}", sessions_finished=0)
             for i in range(a.engines)]
    from prometheus_client import generate_latest

    from fleetsim.live.prometheus import registry_for
    from fleetsim.locust_adapter.webui import fleet_rows

    board = Board()

    def tab() -> None:  # a Fleet-tab refresh: the engines' snapshots merged, rows built
        for s in snaps:  # every engine's snapshot changed since the last refresh (worst case)
            board.update(s)
        f = board.figures()
        fleet_rows(f)
        f.table()

    registry = registry_for(board)
    tab_s = _median_s(tab, a.repeat)
    scrape_s = _median_s(lambda: generate_latest(registry), a.repeat)  # on merged figures
    engine_pct = snap_s / LIVE_PERIOD_S * 100.0
    tab_pct, scrape_pct = tab_s / a.tab_s * 100.0, scrape_s / a.scrape_s * 100.0
    print(f"stations per engine      {a.stations}")
    print(f"actions with samples     {len(rec.actions)} ({a.samples} latencies)")
    print(f"gauges walk (pre-existing, now with states)  {walk_s * 1000:.1f} ms once a second")
    print(f"engine snapshot          {snap_s * 1000:.1f} ms, "
          f"every {LIVE_PERIOD_S:g} s: {engine_pct:.2f} % of one core per engine")
    print(f"tab: merge {a.engines} engines + rows  {tab_s * 1000:.1f} ms, every "
          f"{a.tab_s:g} s: {tab_pct:.2f} % of one core on the master")
    print(f"/metrics exposition      {scrape_s * 1000:.1f} ms, every {a.scrape_s:g} s: "
          f"{scrape_pct:.2f} % of one core on the master")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
