"""``fleetsim capacity SCENARIO --slo EXPR --start N --step N --max N --hold 30s``.

Runs the scenario once per fleet size, judges each run by the SLOs (failure
conditions, as ``--fail-on``) and generator health, stops at the first failing
level and reports the last passing one — the knee — with ``capacity.json`` and
``plots/capacity.png`` (throughput and worst p99 against stations).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from fleetsim.capacity.search import CapacityResult, Level, search
from fleetsim.exceptions import FleetsimError
from fleetsim.report import exitcodes
from fleetsim.scenario import load_scenario, parse_duration_s, with_overrides

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="scenario YAML file (stations.count is replaced)")
    parser.add_argument("--slo", action="append", default=[], metavar="EXPR",
                        help='failure condition per level, e.g. "*/*.p99 > 200ms" (repeatable); '
                             "given, it replaces the scenario's slo: list")
    parser.add_argument("--start", type=int, default=100, help="first fleet size")
    parser.add_argument("--step", type=int, default=100, help="stations added per level")
    parser.add_argument("--max", type=int, default=2000, help="largest fleet size tried")
    parser.add_argument("--hold", default="30s", help="run time per level, e.g. 30s")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="run each level under Locust with N engine workers (default 0: "
                             "one in-process engine)")
    parser.add_argument("--out", metavar="DIR", help="folder for the levels' results "
                        "(default results/capacity-<scenario>-<stamp>)")


def run(ns: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from fleetsim.report.histograms import load_figure_histograms
    from fleetsim.report.results import load_summary
    from fleetsim.report.slo import parse_slos
    from fleetsim.report.verdicts import evaluate
    from fleetsim.run.distributed import run_with_locust
    from fleetsim.run.results import new_run_dir
    from fleetsim.run.standalone import run_scenario

    base = load_scenario(ns.scenario)
    slos = parse_slos(ns.slo or base.slo)
    if not slos:
        raise FleetsimError("capacity: give at least one --slo (or slo: in the scenario)")
    try:
        hold_s = parse_duration_s(ns.hold)
    except ValueError as exc:
        raise FleetsimError(f"capacity: --hold: {exc}") from None
    if ns.start < 1 or ns.step < 1 or ns.max < ns.start:
        raise FleetsimError("capacity: need 1 <= --start <= --max and --step >= 1")
    if ns.workers < 0:
        raise FleetsimError("capacity: --workers must be >= 0")
    folder = Path(ns.out) if ns.out else new_run_dir("results", f"capacity-{base.name}")
    folder.mkdir(parents=True, exist_ok=True)

    def run_level(n: int) -> Level:
        s = with_overrides(base, stations=n, duration_s=hold_s)
        level_dir = folder / f"{n:06d}-stations"
        res = (run_with_locust(s, workers=ns.workers, out_dir=level_dir, progress=False)
               if ns.workers else run_scenario(s, out_dir=level_dir, progress=False))
        summary = res.summary
        verdicts = evaluate(slos, load_summary(res.path),
                            figure_histograms=load_figure_histograms(res.path))
        reasons = [f"{v.expression} ({v.reason})" for v in verdicts if not v.passed]
        gen = summary["generator"]
        # the saturation first, by engine, resource and second: the search stops there
        overload = [w for w in gen["warnings"] if w.startswith("overload: ")]
        reasons = ([f"generator saturated: {w.removeprefix('overload: ')}" for w in overload]
                   + reasons + [f"generator invalid: {w}" for w in gen["warnings"]
                                if w not in overload])
        msgs = summary["messages"]["sent"] + summary["messages"]["received"]
        p99 = max((a["p99_ms"] for a in summary["actions"].values() if a["count"]), default=0.0)
        return Level(stations=n, passed=not reasons, reasons=tuple(reasons),
                     messages_per_s=round(msgs / max(summary["duration_s"], 1e-9), 1),
                     worst_p99_ms=p99, generator_valid=bool(gen["valid"]),
                     results_dir=str(res.path),
                     overload=(summary.get("overload") or {}).get("first") or "")

    def show(lv: Level) -> None:
        verdict = "pass" if lv.passed else "FAIL: " + "; ".join(lv.reasons)
        print(f"{lv.stations:7d} stations  {lv.messages_per_s:9.0f} msg/s  worst p99 "
              f"{lv.worst_p99_ms:9.1f} ms  {verdict}", file=out, flush=True)

    result = search(range(ns.start, ns.max + 1, ns.step), run_level, on_level=show)
    _write(folder, result)
    knee = result.knee
    print(f"knee: {knee if knee is not None else 'none'} stations (stopped by "
          f"{result.stopped_by}); {folder / 'capacity.json'}", file=out)
    return exitcodes.OK if knee is not None else exitcodes.SLO_FAILED


def _write(folder: Path, result: CapacityResult) -> None:
    (folder / "capacity.json").write_text(json.dumps(result.to_json(), indent=2),
                                          encoding="utf-8")
    from fleetsim.report.capacity_plot import plot_capacity

    plot_capacity(folder)
