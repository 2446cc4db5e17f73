"""``fleetsim run``: load, override, run, write results, report, judge SLOs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from fleetsim.report import exitcodes
from fleetsim.scenario import load_scenario, with_overrides

__all__ = ["print_table", "run_command"]


def run_command(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from fleetsim.report.slo import parse_slos

    scenario = with_overrides(load_scenario(args.scenario), stations=args.stations,
                              duration_s=args.duration, seed=args.seed, csms_url=args.csms,
                              strict=getattr(args, "strict", False))
    slo_exprs = [*scenario.slo, *args.fail_on]
    slos = parse_slos(slo_exprs)  # a malformed SLO is a usage error before any load
    workers = getattr(args, "workers", None)
    if workers is None:
        workers = os.cpu_count() or 1
    if workers == 0:  # today's in-process engine: one process, easiest to debug
        from fleetsim.run.standalone import run_scenario

        outcome = run_scenario(scenario, out_dir=args.out, progress=not args.quiet)
    else:
        from fleetsim.run.distributed import run_with_locust

        outcome = run_with_locust(scenario, workers=workers, out_dir=args.out,
                                  progress=not args.quiet)
    summary = outcome.summary
    print_table(summary, out)
    from fleetsim.report.command import print_verdicts
    from fleetsim.report.histograms import load_histograms
    from fleetsim.report.junit import write_junit
    from fleetsim.report.render import render
    from fleetsim.report.results import JUNIT, SLO_JSON, load_summary
    from fleetsim.report.verdicts import evaluate, write_slo_json

    verdicts = []
    if slos:
        loaded = load_summary(outcome.path)
        verdicts = evaluate(slos, loaded, histograms=load_histograms(outcome.path))
        write_slo_json(verdicts, outcome.path / SLO_JSON)
        write_junit(verdicts, outcome.path / JUNIT, timestamp=loaded.started_at or None,
                    duration_s=loaded.duration_s)
    render(outcome.path)
    gen = summary["generator"]
    for w in gen["warnings"]:
        print(f"WARNING: results invalid: {w}", file=out)
    if verdicts:
        print_verdicts(verdicts, out)
    reconciled = _reconcile(scenario.csms.embedded, outcome.path, out)
    print(f"results: {outcome.path}  (report: {outcome.path / 'report.html'})", file=out)
    if summary["interrupted"]:  # stopped cleanly, results written, but not the run planned
        print(f"fleetsim: {summary['failure']}; the results cover the part that ran",
              file=sys.stderr)
        return exitcodes.RUN_INCOMPLETE
    if summary["stations"]["booted"] == 0:
        print("fleetsim: error: no station was booted by the CSMS", file=sys.stderr)
        return exitcodes.RUN_INCOMPLETE
    if any(not v.passed for v in verdicts) or not reconciled:
        return exitcodes.SLO_FAILED
    return exitcodes.OK


def _reconcile(embedded: bool, path: Path, out: TextIO) -> bool:
    """Against the embedded CSMS, prove nothing was lost (reconcile.json); True if so."""
    if not embedded or not (path / "csms.sqlite").exists():
        return True  # a third-party CSMS: sessions.csv is the ledger to reconcile against
    from fleetsim.reconcile import reconcile

    r = reconcile(path)
    r.write(path)
    if r.ok:
        print(f"reconcile: all {r.transactions_stations} transactions match the CSMS ledger",
              file=out)
        return True
    print(f"FAIL  reconcile: {len(r.differences)} differences between the stations and the "
          f"CSMS ledger (see {path / 'reconcile.json'}, or: fleetsim reconcile {path})",
          file=out)
    for d in r.differences[:10]:
        print(f"  {d.kind:20} {d.station_id} {d.transaction_id}: {d.detail}", file=out)
    return False


def print_table(summary: dict[str, Any], out: TextIO) -> None:
    """Per action: count, errors and latency percentiles (ms, from when each was due)."""
    st = summary["stations"]
    print(f"\n{summary['scenario']}: {st['planned']} stations planned, {st['connected_max']} "
          f"connected, {st['booted']} booted, {summary['duration_s']:.0f} s, seed "
          f"{summary['seed']}", file=out)
    head = f"{'action':32} {'count':>8} {'errors':>7} {'p50':>8} {'p90':>8} {'p99':>8} " \
           f"{'p99.9':>8} {'max':>8}  (ms)"
    print(head, file=out)
    for key, a in summary["actions"].items():
        print(f"{key:32} {a['count']:8d} {a['errors']:7d} {a['p50_ms']:8.2f} {a['p90_ms']:8.2f} "
              f"{a['p99_ms']:8.2f} {a['p999_ms']:8.2f} {a['max_ms']:8.2f}", file=out)
    errs = summary["errors"]["by_kind"]
    if errs:
        print("errors: " + ", ".join(f"{k} {n}" for k, n in sorted(errs.items())), file=out)
    gen = summary["generator"]
    print(f"generator: loop lag p99 {gen['loop_lag_p99_ms']:.1f} ms, CPU {gen['cpu_percent']:.0f} %"
          f", late sends {gen['late_sends']}, valid {str(gen['valid']).lower()}", file=out)
    for w in summary.get("generator_workers", ()):
        locust_cpu = w.get("locust_cpu_percent")
        print(f"  {w['worker']}: {w['stations']} stations, loop lag p99 "
              f"{w['loop_lag_p99_ms']:.1f} ms, engine CPU {w['cpu_percent']:.0f} %"
              + (f", Locust CPU {locust_cpu:.0f} %" if locust_cpu is not None else "")
              + f", late sends {w['late_sends']}, valid {str(w['valid']).lower()}", file=out)
