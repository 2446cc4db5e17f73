"""``fleetsim run``: load, override, run, write results, report, judge SLOs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from fleetsim.exceptions import ScenarioError
from fleetsim.report import exitcodes
from fleetsim.report.run_errors import booting_stations, run_errors
from fleetsim.scenario import load_scenario, with_overrides
from fleetsim.scenario.expect import check_expected

__all__ = ["print_table", "run_command"]


def run_command(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from fleetsim.report.slo import parse_slos

    scenario = with_overrides(load_scenario(args.scenario), stations=args.stations,
                              duration_s=args.duration, seed=args.seed, csms_url=args.csms,
                              strict=getattr(args, "strict", False))
    slo_exprs = [*scenario.slo, *args.fail_on]
    expected = [*scenario.expect_errors,
                 *(k.strip() for arg in getattr(args, "expect_errors", ()) for k in arg.split(",")
                   if k.strip())]
    bad = check_expected(expected)
    if bad is not None:
        raise ScenarioError("--expect-errors", "", bad)
    slos = parse_slos(slo_exprs)  # a malformed SLO is a usage error before any load
    from fleetsim.run.layout import ports_note

    note = ports_note(scenario.stations.count, len(scenario.stations.source_addresses))
    if note is not None:
        print(f"fleetsim: warning: {note}", file=sys.stderr)
    workers = getattr(args, "workers", None)
    if workers is None:  # fit the fleet into the cores and the descriptor limit, and say so
        from fleetsim.run.layout import pick_layout
        from fleetsim.transport.engine import fd_headroom

        layout = pick_layout(scenario.stations.count, headroom=fd_headroom())
        workers = layout.workers
        print(f"fleetsim: {layout.describe()}", file=sys.stderr)
    if workers == 0:  # today's in-process engine: one process, easiest to debug
        from fleetsim.run.standalone import run_scenario

        outcome = run_scenario(scenario, out_dir=args.out, progress=not args.quiet,
                               metrics_port=getattr(args, "metrics_port", None),
                               metrics_hold_s=getattr(args, "metrics_hold", None) or 0.0)
    else:
        from fleetsim.run.distributed import run_with_locust

        outcome = run_with_locust(scenario, workers=workers, out_dir=args.out,
                                  progress=not args.quiet,
                                  metrics_port=getattr(args, "metrics_port", None))
    summary = outcome.summary
    print_table(summary, out)
    from fleetsim.report.command import print_verdicts
    from fleetsim.report.histograms import load_figure_histograms
    from fleetsim.report.junit import write_junit
    from fleetsim.report.render import render
    from fleetsim.report.results import JUNIT, SLO_JSON, load_summary
    from fleetsim.report.verdicts import evaluate, write_slo_json

    verdicts = []
    if slos:
        loaded = load_summary(outcome.path)
        verdicts = evaluate(slos, loaded, figure_histograms=load_figure_histograms(outcome.path))
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
    failing, tolerated = run_errors(summary, expected,
                                    booting=booting_stations(outcome.path / "messages.csv"))
    for t in tolerated:
        print(f"expected: {t}", file=out)
    if failing:
        print(f"FAIL  run errors: {'; '.join(failing)} (if the CSMS does this on purpose, "
              "declare it: expect_errors: in the scenario or --expect-errors)", file=out)
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
    if failing:
        code = getattr(args, "exit_code_on_error", None)
        return exitcodes.SLO_FAILED if code is None else code
    return exitcodes.OK


def _reconcile(embedded: bool, path: Path, out: TextIO) -> bool:
    """Against the embedded CSMS, prove nothing was lost (reconcile.json); True if so."""
    if not embedded or not (path / "csms.sqlite").exists():
        return True  # a third-party CSMS: sessions.csv is the ledger to reconcile against
    from fleetsim.reconcile import reconcile

    r = reconcile(path)
    r.write(path)
    calls = sum(t["sent"] for t in r.messages.values())
    if r.messages_unrecorded:
        print(f"note  reconcile: {len(r.messages_unrecorded)} station/action counts the CSMS "
              f"answered but does not hold (reconcile.json → messages_unrecorded)", file=out)
    if r.ok:
        print(f"reconcile: all {r.transactions_stations} transactions match the CSMS ledger; "
              f"{calls:,} CALLs of {len(r.messages)} actions counted on both sides", file=out)
        return True
    print(f"FAIL  reconcile: {len(r.differences)} differences between the stations and the "
          f"CSMS ledger (see {path / 'reconcile.json'}, or: fleetsim reconcile {path})",
          file=out)
    for d in r.differences[:10]:
        print(f"  {d.kind:20} {d.station_id} {d.transaction_id}: {d.detail}", file=out)
    return False


def print_table(summary: dict[str, Any], out: TextIO) -> None:
    """Per action: calls, errors, the service figure (sent → answer: the CSMS's time) and
    the response figure (due → answer), with the share of calls that queued behind their
    own station's calls, so station queueing is never read as CSMS latency."""
    st = summary["stations"]
    print(f"\n{summary['scenario']}: {st['planned']} stations planned, {st['connected_max']} "
          f"connected, {st['booted']} booted, {summary['duration_s']:.0f} s, seed "
          f"{summary['seed']}", file=out)
    print("latency [ms]: service = sent->answer (the CSMS's time); response = due->answer "
          "(what the station saw: + its own queueing); own% = calls that queued behind the "
          "station's own calls", file=out)
    print(f"{'action':30} {'calls':>7} {'errors':>6} | {'service p50':>11} {'p90':>8} "
          f"{'p99':>8} {'max':>9} | {'response p50':>12} {'p99':>8} | {'own%':>5}", file=out)
    censored = 0
    for key, a in summary["actions"].items():
        sv, rs = a.get("service", a), a.get("response", a)
        own = a.get("queued", {}).get("by_cause", {}).get("own_calls", {}).get("calls", 0)
        sent = a.get("sent", a["count"])
        mark = "*" if a.get("censored") else " "
        censored += a.get("censored", 0)
        print(f"{key:30} {a.get('calls', sent):7d} {a['errors']:6d} | {sv['p50_ms']:11.2f} "
              f"{sv['p90_ms']:8.2f} {sv['p99_ms']:8.2f} {sv['max_ms']:8.2f}{mark} | "
              f"{rs['p50_ms']:12.2f} {rs['p99_ms']:8.2f} | "
              f"{own / sent * 100 if sent else 0.0:5.1f}", file=out)
    if censored:
        print(f"* includes {censored} timed-out calls, counted at the time they were given up "
              "(censored: the true answer time is at least that)", file=out)
    for v, c in summary.get("connect", {}).items():
        print(f"connect+handshake {v}: {c['count']} opened, p50 {c['p50_ms']:.1f} ms, p99 "
              f"{c['p99_ms']:.1f} ms, max {c['max_ms']:.1f} ms", file=out)
    boot = summary.get("boot")
    if boot and boot.get("retried"):
        print(f"boot recovery: {boot['booted']} boots, {boot['retried']} needed more than one "
              f"BootNotification; first due -> Accepted p50 {boot['p50_ms']:.0f} ms, max "
              f"{boot['max_ms']:.0f} ms", file=out)
    errs = summary["errors"]["by_kind"]
    if errs:
        print("errors: " + ", ".join(f"{k} {n}" for k, n in sorted(errs.items())), file=out)
    said = summary.get("csms_said") or {}
    for e in (said.get("callerrors") or [])[:5]:  # the CSMS's own words, most frequent first
        print(f"  CSMS said: {e['action']} {e['code']} \"{e['description']}\" x{e['count']}",
              file=out)
    refusals = said.get("refusals") or {}
    if refusals:
        print("  refused: " + ", ".join(f"{k} {n}" for k, n in refusals.items()), file=out)
    gen = summary["generator"]
    pipes = summary.get("pipes", {})
    print(f"generator: loop lag p99 {gen['loop_lag_p99_ms']:.1f} ms, CPU {gen['cpu_percent']:.0f} %"
          f", late sends {gen['late_sends']}, station pipes "
          f"{pipes.get('utilisation', 0.0):.0%} busy ({pipes.get('waited_own_share', 0.0):.0%} "
          f"of calls queued behind their own), valid {str(gen['valid']).lower()}", file=out)
    held = gen.get("after_ramp") or {}
    if held.get("held"):  # the hold, judged apart from the ramp and the stop
        p99 = held.get("loop_lag_p99_ms")
        print(f"  after the ramp (t={held['from_s']}–{held['to_s']} s): loop lag "
              + (f"p99 {p99:.1f} ms, " if p99 is not None else "")
              + f"max {held['loop_lag_max_ms']:.1f} ms (per engine-second p99 "
              f"{held['loop_lag_second_max_p99_ms']:.1f} ms), valid "
              f"{str(held['valid']).lower()}", file=out)
    elif held:
        print(f"  after the ramp: not judged, {held['why']}", file=out)
    for w in summary.get("generator_workers", ()):
        locust_cpu = w.get("locust_cpu_percent")
        print(f"  {w['worker']}: {w['stations']} stations, loop lag p99 "
              f"{w['loop_lag_p99_ms']:.1f} ms, engine CPU {w['cpu_percent']:.0f} %"
              + (f", Locust CPU {locust_cpu:.0f} %" if locust_cpu is not None else "")
              + f", late sends {w['late_sends']}, valid {str(w['valid']).lower()}", file=out)
