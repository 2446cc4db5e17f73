"""``fleetsim run --workers N``: the fleet under Locust, N engine processes, one results folder.

This process stays plain (it never imports locust, so gevent never patches it):
it starts the embedded CSMS when the scenario targets it, runs ``locust -f
fleetsim/locustfile.py --headless --processes N`` as a child process (the
master plus N workers, each lazily starting one uvloop engine child), prints the
live progress line from the engines' interval files, and at the end merges the
engines' exact histograms, intervals and sessions into the results folder —
beside Locust's own ``locust_stats.csv`` … and ``locust.html``.
"""

from __future__ import annotations

import contextlib
import math
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fleetsim.drivers.registry import plan_fleet
from fleetsim.exceptions import FleetsimError
from fleetsim.run.csms_restart import csms_restarts, read_origin
from fleetsim.run.merge import merge_run, worker_dirs
from fleetsim.run.progress import IntervalTail, ProgressLine
from fleetsim.run.results import ResultsFolder, run_dir
from fleetsim.run.standalone import RunOutcome, embedded_csms
from fleetsim.scenario.fleet import build_fleet
from fleetsim.scenario.model import Scenario
from fleetsim.station.clock import iso_ms

__all__ = ["LOCUSTFILE", "locust_command", "run_with_locust"]

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfile.py"
FINAL_FILES_WAIT_S = 30.0  # engine children finish their graceful stop after Locust exits
STARTUP_ALLOWANCE_S = 120.0  # Locust start, workers connecting, stop grace: then it hangs
_TAIL_CHARS = 1500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def locust_command(s: Scenario, out: Path, *, workers: int,
                   csms_url: str | None) -> list[str]:
    """The headless Locust command line for ``s`` with ``workers`` worker processes."""
    port = str(_free_port())  # never Locust's default 5557: runs must not meet each other
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "--processes", str(workers), "--master-bind-host", "127.0.0.1",
           "--master-bind-port", port, "--master-port", port,
           "--fleetsim-scenario", str(out / "scenario.yaml"), "--fleetsim-out", str(out),
           "--fleetsim-no-merge", "--csv", str(out / "locust"), "--html",
           str(out / "locust.html"), "--exit-code-on-error", "0", "--only-summary",
           "--loglevel", "WARNING"]
    if csms_url is not None:
        cmd += ["--fleetsim-csms", csms_url]
    if s.load is None:  # with a load: section the scenario's shape drives users and the end
        cmd += ["--users", str(s.stations.count), "--spawn-rate",
                f"{s.stations.connect_rate_per_s:g}", "--run-time",
                f"{max(1, math.ceil(s.duration_s))}s"]
    return cmd


def run_with_locust(s: Scenario, *, workers: int, out_base: str | Path = "results",
                    out_dir: str | Path | None = None, progress: bool = True) -> RunOutcome:
    """Run ``s`` under Locust with ``workers`` worker processes; raises on a failed run."""
    if workers < 1:
        raise FleetsimError("--workers must be >= 1 for the Locust path (0: in-process engine)")
    out = run_dir(out_dir, out_base, s.name)
    epoch = s.clock.epoch
    results = ResultsFolder(out, scenario_raw=s.raw, epoch_unix=epoch.timestamp())
    started_at = iso_ms(time.time())
    failure: str | None = None
    plans = []
    if s.csms.embedded:  # the embedded CSMS accepts exactly the fleet's planned tags
        plans = plan_fleet(s, build_fleet(s), horizon_s=s.duration_s * s.clock.time_factor
                           + 3600.0)
    restarts: list[dict[str, Any]] = []
    interrupted = False
    try:
        with embedded_csms(s, out, plans) as csms:
            url = csms.url if csms is not None else None
            # the CSMS is ours, so are its restarts; times count from the master's origin
            with csms_restarts(csms, s.faults.csms_restarts, origin=lambda: read_origin(out),
                               horizon_s=s.duration_s, factor=s.clock.time_factor,
                               day_s_at_origin=epoch.timestamp() % 86400.0) as restarter:
                try:
                    interrupted = _run_locust(
                        s, out, locust_command(s, out, workers=workers, csms_url=url), progress)
                finally:
                    if restarter is not None:
                        restarter.stop()
                        restarts = restarter.events
    except FleetsimError as exc:
        failure = str(exc)
    outcome = merge_run(out, s, started_at=started_at, results=results, failure=failure,
                        csms_restarts=restarts, interrupted=interrupted)
    summary = outcome.summary
    if not summary["completed"] and not summary["interrupted"]:
        raise FleetsimError(f"{summary['failure']} (partial results in {out})")
    return RunOutcome(path=out, summary=summary)


def _run_locust(s: Scenario, out: Path, cmd: list[str], progress: bool) -> bool:
    """Run Locust to its end; True if the user interrupted it (Ctrl-C)."""
    log_path = out / "locust.log"
    tail = IntervalTail(out)
    line = ProgressLine(s.stations.count) if progress else None
    deadline = time.monotonic() + s.duration_s + STARTUP_ALLOWANCE_S
    ctrl_c = 0

    def on_sigint(signum: int, frame: Any) -> None:
        # Locust (same process group) got the same Ctrl-C and stops gracefully; a
        # second one stops waiting for that. A flag, not KeyboardInterrupt, so the
        # interrupt cannot land half-way through writing a progress line.
        nonlocal ctrl_c
        ctrl_c += 1
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT if ctrl_c == 1 else signal.SIGKILL)

    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            while proc.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(0.5)
                if line is not None:
                    for st in tail.poll():
                        line(st)
                if time.monotonic() > deadline:
                    proc.kill()
                    raise FleetsimError(f"Locust did not finish within "
                                        f"{s.duration_s + STARTUP_ALLOWANCE_S:.0f} s: "
                                        f"{_tail(log_path)}")
        finally:
            signal.signal(signal.SIGINT, previous)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    _wait_final_files(out)
    if line is not None:
        for st in tail.poll():
            line(st)
    if not worker_dirs(out):
        raise FleetsimError(f"Locust exited with code {proc.returncode} before any station "
                            f"started: {_tail(log_path)}")
    return ctrl_c > 0


def _wait_final_files(out: Path) -> None:
    deadline = time.monotonic() + FINAL_FILES_WAIT_S
    while time.monotonic() < deadline:
        if all((d / "worker.json").exists() for d in worker_dirs(out)):
            return
        time.sleep(0.1)


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "(no log)"
    return text[-_TAIL_CHARS:] or "(no output)"
