"""Benchmark session planning: ``python -m fleetsim.bench_plan [--stations N] [--days D]``.

Plans a fleet with an equal mix of the five archetypes (or ``--model NAME``)
through the scenario path (``build_fleet`` + ``plan_fleet``, models loaded each
time) and prints stations, days, sessions and the median wall time of
``--repeat`` runs. The session table is not written.
"""

from __future__ import annotations

import argparse
import statistics
import time

from fleetsim.drivers.registry import plan_fleet
from fleetsim.scenario import build_fleet, parse_scenario

ARCHETYPES = ("residential_ac", "workplace_ac", "public_ac", "dc_fast", "fleet_depot")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fleetsim.bench_plan", description=__doc__)
    ap.add_argument("--stations", type=int, default=10_000)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--connectors", type=int, default=1)
    ap.add_argument("--model", help="one archetype instead of the equal five-way mix")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ns = ap.parse_args(argv)
    mix = {ns.model: 1} if ns.model else {name: 1 for name in ARCHETYPES}
    scenario = parse_scenario({
        "name": "bench_plan", "seed": ns.seed, "duration": f"{ns.days}d",
        "stations": {"count": ns.stations, "connectors": ns.connectors},
        "drivers": {"mix": mix}}, file="<bench_plan>")
    specs = build_fleet(scenario)
    times, sessions = [], 0
    for _ in range(ns.repeat):
        t0 = time.perf_counter()
        plans = plan_fleet(scenario, specs, horizon_s=ns.days * 86400.0)
        times.append(time.perf_counter() - t0)
        sessions = sum(len(p.sessions) for p in plans)
    print(f"stations {ns.stations}  days {ns.days:g}  connectors {ns.connectors}  "
          f"mix {'+'.join(mix)}  sessions {sessions}  "
          f"seconds {statistics.median(times):.2f} (median of {ns.repeat}: "
          f"{', '.join(f'{t:.2f}' for t in times)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
