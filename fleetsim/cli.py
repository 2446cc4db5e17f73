"""``fleetsim`` command line: parse, delegate, print errors as one line. No logic here."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from fleetsim import __version__
from fleetsim.exceptions import FleetsimError, ModelError, OutputPathError, ScenarioError
from fleetsim.report.exitcodes import OK, RUN_INCOMPLETE, USAGE

__all__ = ["main"]



def _duration(text: str) -> float:
    from fleetsim.scenario.reader import parse_duration_s

    try:
        return parse_duration_s(text if not text.isdigit() else f"{text}s")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fleetsim", description="Load-test OCPP charging-station "
                                "management systems with simulated charging stations.")
    p.add_argument("--version", action="version", version=f"fleetsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a scenario and write results/<scenario>-<stamp>/")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--stations", type=int, help="override stations.count")
    r.add_argument("--duration", type=_duration, help="override duration, e.g. 60s, 5m")
    r.add_argument("--seed", type=int, help="override seed")
    r.add_argument("--csms", metavar="URL", help="target CSMS URL instead of the scenario's")
    r.add_argument("--out", metavar="DIR", help="write results into DIR (default: "
                   "results/<scenario>-<UTC stamp>)")
    r.add_argument("--fail-on", action="append", default=[], metavar="EXPR",
                   help='SLO that fails the run, e.g. "2.0.1/TransactionEvent.p99 > 500ms"')
    r.add_argument("--quiet", action="store_true", help="no live progress line")
    r.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve Prometheus metrics of the live, merged figures on PORT")
    r.add_argument("--metrics-hold", type=_duration, metavar="DURATION",
                   help="with --workers 0: keep --metrics-port up this long after the run "
                        "(e.g. 20s) so a scraper takes the final figures")
    r.add_argument("--strict", action="store_true", help="validate every CSMS message against "
                   "the OCPP schemas; violations per action in summary.json (conformance)")
    r.add_argument("--expect-errors", action="append", default=[], metavar="KINDS",
                   help="errors this run may see without failing, comma-separated: unbooted, "
                   "timeout, callerror, callerror:<Code>, all (added to the scenario's "
                   "expect_errors:)")
    r.add_argument("--exit-code-on-error", type=int, default=None, metavar="N",
                   help="exit code of a run with errors it did not expect (default 3; "
                   "0: report them, do not fail), as Locust's option of the same name")
    r.add_argument("--workers", type=int, metavar="N", help="engine worker processes under "
                   "Locust (default: one per core); 0: one in-process engine, no Locust")

    v = sub.add_parser("validate", help="check a scenario file")
    v.add_argument("scenario", nargs="+")

    from fleetsim.csms import command as csms_command
    csms_command.add_arguments(sub.add_parser("csms", help="run the embedded reference CSMS"))

    if importlib.util.find_spec("fleetsim.drivers.command") is not None:
        from fleetsim.drivers import command as plan_command
        plan_command.add_arguments(sub.add_parser("plan", help="write a session plan (no run)"))

    from fleetsim.report import command as report_command
    report_command.add_arguments(sub.add_parser("report", help="rebuild plots and report.html"))

    from fleetsim.report import compare_command
    compare_command.add_arguments(sub.add_parser("compare", help="compare a run to a baseline"))

    from fleetsim.security import command as certs_command
    certs_command.add_arguments(sub.add_parser("certs", help="mint a test CA, server and "
                                               "station certificates (security profiles 2, 3)"))

    from fleetsim.reconcile import command as reconcile_command
    reconcile_command.add_arguments(sub.add_parser(
        "reconcile", help="check the CSMS ledger holds every transaction the stations made"))

    from fleetsim.capacity import command as capacity_command
    capacity_command.add_arguments(sub.add_parser(
        "capacity", help="raise the fleet in steps until an SLO breaks: find the knee"))
    return p


_DIR_OUTPUTS = {"run", "capacity", "certs", "compare"}  # commands whose --out is a folder


def _probe_folder(path: Path, flag: str, value: object) -> None:
    """What only making a folder can tell (``/proc``, read-only): make it now, before any
    output, and take back what was made — a run refused later leaves no empty folder."""
    made = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{flag} {value}: {exc.strerror or exc}") from None
    for p in made:  # deepest first
        with contextlib.suppress(OSError):
            p.rmdir()


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output path that cannot be written before any work is done.

    ``--out`` (a folder for run/capacity/certs/compare, else a file), ``--db`` and any
    ``--*-out`` file: a file needs an existing folder; a folder needs its nearest
    existing ancestor to be a folder. What only the write can tell (``/proc``, a
    full disk) ends as one line too: see the ``OSError`` case in :func:`main`.
    """
    names = ["out", "db", *(k for k in vars(args) if k.endswith("_out"))]
    for name in names:
        value = getattr(args, name, None)
        if value is None or str(value) == ":memory:" or str(value) == "-":
            continue
        path = Path(value)
        flag = "--" + name.replace("_", "-")
        if name == "out" and args.command in _DIR_OUTPUTS:
            if path.exists() and not path.is_dir():
                raise OutputPathError(f"{flag} {value}: exists and is not a folder")
            ancestor = next(p for p in (path, *path.parents) if p.exists())
            if not ancestor.is_dir():
                raise OutputPathError(f"{flag} {value}: {ancestor} is not a folder")
            _probe_folder(path, flag, value)
            if args.command == "run":
                from fleetsim.run.results import refuse_a_run_folder

                refuse_a_run_folder(path)
            continue
        parent = path.parent
        if not parent.is_dir():
            raise OutputPathError(f"{flag} {value}: no such folder {parent}")
        if path.is_dir():
            raise OutputPathError(f"{flag} {value}: is a folder, a file was expected")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _check_outputs(args)
        if args.command == "run":
            from fleetsim.run.command import run_command

            return run_command(args)
        if args.command == "validate":
            from fleetsim.scenario import load_scenario

            for f in args.scenario:
                s = load_scenario(f)
                print(f"{f}: ok ({s.stations.count} stations, "
                      f"{', '.join(v.value for v in s.stations.versions)}, {s.duration_s:g} s)")
            return OK
        if args.command == "csms":
            from fleetsim.csms import command as csms_command

            return int(csms_command.run(args))
        if args.command == "plan":
            from fleetsim.drivers import command as plan_command

            return int(plan_command.run(args))
        if args.command == "report":
            from fleetsim.report import command as report_command

            return int(report_command.run(args))
        if args.command == "compare":
            from fleetsim.report import compare_command

            return int(compare_command.run(args))
        if args.command == "certs":
            from fleetsim.security import command as certs_command

            return certs_command.run(args)
        if args.command == "reconcile":
            from fleetsim.reconcile import command as reconcile_command

            return int(reconcile_command.run(args))
        if args.command == "capacity":
            from fleetsim.capacity import command as capacity_command

            return int(capacity_command.run(args))
    except (ScenarioError, ModelError, OutputPathError) as exc:  # bad input: nothing ran
        print(f"fleetsim: error: {exc}", file=sys.stderr)
        return USAGE
    except FleetsimError as exc:
        print(f"fleetsim: error: {exc}", file=sys.stderr)
        return RUN_INCOMPLETE if args.command in ("run", "csms", "capacity") else USAGE
    except OSError as exc:  # an output the up-front check could not judge (/proc, disk full)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"fleetsim: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print("fleetsim: interrupted", file=sys.stderr)
        return 130
    return USAGE


if __name__ == "__main__":
    sys.exit(main())
