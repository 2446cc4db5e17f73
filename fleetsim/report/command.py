"""``fleetsim report RESULTS_DIR [--fail-on EXPR ...]``: plots and report.html again.

Without ``--fail-on`` it only redraws (exit 0). With it, the SLOs are evaluated
against the folder (histograms make wildcard percentiles exact), ``slo.json`` and
``junit.xml`` are rewritten, and the exit code is ``SLO_FAILED`` when one fails.
Problems with the folder raise ResultsError, malformed SLOs SloError; the CLI
prints them as one line and exits ``USAGE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from fleetsim.report import exitcodes
from fleetsim.report.histograms import load_figure_histograms
from fleetsim.report.junit import failure_message, write_junit
from fleetsim.report.render import render
from fleetsim.report.results import JUNIT, SLO_JSON, load_summary
from fleetsim.report.slo import parse_slos
from fleetsim.report.verdicts import Verdict, evaluate, write_slo_json

__all__ = ["add_arguments", "print_verdicts", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` sub-command's arguments to ``parser``."""
    parser.add_argument("results_dir", type=Path, metavar="RESULTS_DIR",
                        help="a results/<scenario>-<stamp> folder written by fleetsim run")
    parser.add_argument("--fail-on", action="append", default=[], metavar="EXPR",
                        help="SLO failure condition, e.g. '2.0.1/TransactionEvent.p99 > 500ms' "
                             "(repeatable); writes slo.json and junit.xml, exit 3 on failure")


def run(ns: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Execute ``fleetsim report``; returns an exit code from :mod:`exitcodes`."""
    out = out or sys.stdout
    results_dir: Path = ns.results_dir
    verdicts: list[Verdict] = []
    if ns.fail_on:
        slos = parse_slos(ns.fail_on)  # before touching the folder: bad SLOs are usage errors
        summary = load_summary(results_dir)
        verdicts = evaluate(slos, summary, figure_histograms=load_figure_histograms(results_dir))
        write_slo_json(verdicts, results_dir / SLO_JSON)
        write_junit(verdicts, results_dir / JUNIT, timestamp=summary.started_at or None,
                    duration_s=summary.duration_s)
    written = render(results_dir)
    print(f"report: {written[-1]}", file=out)
    print(f"plots:  {', '.join(p.name for p in written[:-1])} in {written[0].parent}", file=out)
    if verdicts:
        print_verdicts(verdicts, out)
    return exitcodes.SLO_FAILED if any(not v.passed for v in verdicts) else exitcodes.OK


def print_verdicts(verdicts: list[Verdict], out: TextIO) -> None:
    """One line per SLO: ``PASS``/``FAIL``, the expression and why."""
    for v in verdicts:
        detail = v.reason if v.passed else failure_message(v)
        print(f"{'PASS' if v.passed else 'FAIL'}  {v.expression}  ({detail})", file=out)
