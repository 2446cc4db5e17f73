"""``fleetsim reconcile RESULTS_DIR [--ledger PATH]``: nothing lost, or the list of what was."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from fleetsim.reconcile.check import reconcile
from fleetsim.report import exitcodes

__all__ = ["add_arguments", "run"]

SHOWN = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    parser.add_argument("--ledger", type=Path, metavar="PATH",
                        help="CSMS ledger (default: RESULTS_DIR/csms.sqlite of the embedded CSMS)")


def run(ns: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    r = reconcile(ns.results_dir, ns.ledger)
    path = r.write(ns.results_dir)
    print(f"reconcile: {r.transactions_stations} transactions by the stations, "
          f"{r.transactions_csms} in the CSMS ledger: "
          f"{'no differences' if r.ok else f'{len(r.differences)} differences'} ({path})",
          file=out)
    for d in r.differences[:SHOWN]:
        print(f"  {d.kind:20} {d.station_id} {d.transaction_id}: {d.detail}", file=out)
    if len(r.differences) > SHOWN:
        print(f"  … {len(r.differences) - SHOWN} more in {path}", file=out)
    return exitcodes.OK if r.ok else exitcodes.SLO_FAILED
