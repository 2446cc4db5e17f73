"""``fleetsim compare BASELINE_DIR CURRENT_DIR``: regressions between two runs.

Prints an aligned table (baseline, current, change, verdict per action and
metric), writes ``compare.png`` into ``CURRENT_DIR/plots`` (or ``--out``), and
returns ``SLO_FAILED`` (3) when anything regressed, else ``OK``. Unreadable
folders raise ResultsError (the CLI exits ``USAGE``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from fleetsim.report import exitcodes
from fleetsim.report.compare import Tolerance, compare_runs, format_table, split_metric
from fleetsim.report.plots import COMPARE_PLOT, plot_compare
from fleetsim.report.results import LATENCY_METRICS, PLOTS
from fleetsim.report.units import parse_rate

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``compare`` sub-command's arguments to ``parser``."""
    parser.add_argument("baseline", type=Path, metavar="BASELINE_DIR")
    parser.add_argument("current", type=Path, metavar="CURRENT_DIR")
    parser.add_argument("--max-regression", type=_rate, default=0.10, metavar="PCT",
                        help="relative increase tolerated, e.g. 10%% (default 10%%)")
    parser.add_argument("--min-count", type=int, default=100, metavar="N",
                        help="fewer calls than this in either run: insufficient data (default 100)")
    parser.add_argument("--min-tail", type=int, default=10, metavar="N",
                        help="judge a percentile only with N calls above it: p99 needs 100*N "
                             "calls (default 10)")
    parser.add_argument("--floor-ms", type=float, default=1.0, metavar="MS",
                        help="latency increases up to this many ms are noise (default 1.0)")
    parser.add_argument("--error-floor", type=_rate, default=0.001, metavar="PCT",
                        help="error-rate increases up to this are noise (default 0.1%%, "
                             "i.e. 0.1 percentage point)")
    parser.add_argument("--percentiles", type=_percentiles,
                        default=("p50", "p95", "p99", "response.p99"),
                        metavar="LIST", help="comma-separated, from "
                        f"{','.join(LATENCY_METRICS)} (the headline service figure), each "
                        "optionally after a figure: service., response., queued. "
                        "(default p50,p95,p99,response.p99)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help=f"where to write {COMPARE_PLOT} (default CURRENT_DIR/{PLOTS})")


def run(ns: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Execute ``fleetsim compare``; returns an exit code from :mod:`exitcodes`."""
    out = out or sys.stdout
    tolerance = Tolerance(max_regression=ns.max_regression, min_count=ns.min_count,
                          min_tail=ns.min_tail, floor_ms=ns.floor_ms, error_floor=ns.error_floor,
                          percentiles=tuple(ns.percentiles))
    comparison = compare_runs(ns.baseline, ns.current, tolerance)
    print(format_table(comparison), file=out)
    folder: Path = ns.out or ns.current / PLOTS
    folder.mkdir(parents=True, exist_ok=True)
    print(f"plot: {plot_compare(comparison, folder / COMPARE_PLOT)}", file=out)
    return exitcodes.SLO_FAILED if comparison.regressions else exitcodes.OK


def _rate(text: str) -> float:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _percentiles(text: str) -> tuple[str, ...]:
    names = tuple("p999" if p.strip() == "p99.9" else p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in names if split_metric(p)[1] not in LATENCY_METRICS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown percentile {unknown[0] if unknown else text!r} (use {','.join(LATENCY_METRICS)})")
    return names
