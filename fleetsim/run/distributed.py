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
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fleetsim import lifeline
from fleetsim.exceptions import FleetsimError
from fleetsim.lifeline import become_subreaper, die_with_parent
from fleetsim.run.csms_restart import csms_restarts, read_origin
from fleetsim.run.merge import merge_run
from fleetsim.run.progress import IntervalTail, ProgressLine
from fleetsim.run.results import ResultsFolder, run_dir
from fleetsim.run.standalone import RunOutcome, embedded_csms, run_tags
from fleetsim.run.worker_folder import worker_dirs
from fleetsim.scenario.model import Scenario
from fleetsim.security.secrets import secrets_env
from fleetsim.station.clock import iso_ms

__all__ = ["LOCUSTFILE", "RunSignals", "locust_command", "run_with_locust"]

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfile.py"
FINAL_FILES_WAIT_S = 30.0  # engine children finish their graceful stop after Locust exits
STARTUP_ALLOWANCE_S = 120.0  # Locust start, workers connecting, stop grace: then it hangs
ORPHAN_GRACE_S = 10.0  # a leftover engine's graceful stop after SIGTERM, then SIGKILL
_TAIL_CHARS = 1500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def locust_command(s: Scenario, out: Path, *, workers: int,
                   csms_url: str | None, metrics_port: int | None = None) -> list[str]:
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
    if metrics_port is not None:  # the master serves the merged figures
        cmd += ["--fleetsim-metrics-port", str(metrics_port)]
    if s.load is None:  # with a load: section the scenario's shape drives users and the end
        cmd += ["--users", str(s.stations.count), "--spawn-rate",
                f"{s.stations.connect_rate_per_s:g}", "--run-time",
                f"{max(1, math.ceil(s.duration_s))}s"]
    return cmd


class RunSignals:
    """SIGINT and SIGTERM to ``fleetsim run`` — alone or with its group — while a run is on.

    The first one stops the run gracefully: Locust (in its own session, so it
    never gets the signal twice) is sent SIGINT to its whole group, the master and
    every worker, which stop their engines' stations and write the final figures.
    A second one stops the tree hard. A flag, not ``KeyboardInterrupt``: the
    interrupt can never land half-way through writing a file or a progress line.
    """

    def __init__(self) -> None:
        self.count = 0
        self.locust: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> RunSignals:
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may handle signals (e.g. a test's thread)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.count += 1
        self.forward()

    def forward(self) -> None:
        """Pass the stop on to Locust (if it runs): SIGINT first, SIGKILL after a second signal."""
        proc = self.locust
        if self.count == 0 or proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGINT if self.count == 1 else signal.SIGKILL)


def run_with_locust(s: Scenario, *, workers: int, out_base: str | Path = "results",
                    out_dir: str | Path | None = None, progress: bool = True,
                    metrics_port: int | None = None) -> RunOutcome:
    """Run ``s`` under Locust with ``workers`` worker processes; raises on a failed run."""
    if workers < 1:
        raise FleetsimError("--workers must be >= 1 for the Locust path (0: in-process engine)")
    with RunSignals() as signals:
        become_subreaper()  # a dying Locust's workers and engines are re-parented to us
        try:
            return _run(s, workers=workers, out=run_dir(out_dir, out_base, s.name),
                        progress=progress, signals=signals, metrics_port=metrics_port)
        finally:
            become_subreaper(False)


def _run(s: Scenario, *, workers: int, out: Path, progress: bool,
         signals: RunSignals, metrics_port: int | None = None) -> RunOutcome:
    epoch = s.clock.epoch
    results = ResultsFolder(out, scenario_raw=s.raw, epoch_unix=epoch.timestamp())
    started_at = iso_ms(time.time())
    failure: str | None = None
    # the embedded CSMS accepts exactly the fleet's planned tags
    tokens = run_tags(s) if s.csms.embedded else []
    restarts: list[dict[str, Any]] = []
    before = lifeline.children()  # the caller's own children are not the run's
    try:
        with embedded_csms(s, out, tokens) as csms:
            url = csms.url if csms is not None else None
            # the CSMS is ours, so are its restarts; times count from the master's origin
            with csms_restarts(csms, s.faults.csms_restarts, origin=lambda: read_origin(out),
                               horizon_s=s.duration_s, factor=s.clock.time_factor,
                               day_s_at_origin=epoch.timestamp() % 86400.0) as restarter:
                try:
                    if not signals.count:  # stopped while planning: start nothing
                        _run_locust(s, out, locust_command(s, out, workers=workers,
                                                           csms_url=url,
                                                           metrics_port=metrics_port),
                                    progress, signals, workers=workers)
                finally:
                    # whatever Locust left behind stops before the CSMS it talks to
                    spare = before | ({csms.pid} if csms is not None and csms.pid else set())
                    for line in lifeline.stop_descendants(wait_s=2.0, grace_s=ORPHAN_GRACE_S,
                                                        spare=spare):
                        print(f"fleetsim: stopped a leftover process: {line}", file=sys.stderr)
                    if restarter is not None:
                        restarter.stop()
                        restarts = restarter.events
    except FleetsimError as exc:
        failure = str(exc)
    outcome = merge_run(out, s, started_at=started_at, results=results, failure=failure,
                        csms_restarts=restarts, interrupted=signals.count > 0)
    summary = outcome.summary
    if not summary["completed"] and not summary["interrupted"]:
        raise FleetsimError(f"{summary['failure']} (partial results in {out})")
    return RunOutcome(path=out, summary=summary)


def _run_locust(s: Scenario, out: Path, cmd: list[str], progress: bool,
                signals: RunSignals, *, workers: int = 1) -> None:
    """Run Locust to its end (or until a signal stopped it) and wait for the engines' files."""
    log_path = out / "locust.log"
    tail = IntervalTail(out)
    line = ProgressLine(s.stations.count, clock=s.clock) if progress else None
    # and the busiest engine's paced end
    allowance = STARTUP_ALLOWANCE_S + s.stations.end_spread_s(
        -(-s.stations.count // max(1, workers)), workers)
    deadline = time.monotonic() + s.duration_s + allowance
    with open(log_path, "wb") as log:
        # its own session: a signal to our group reaches it once, through us; it dies with us.
        # The scenario.yaml Locust reads is masked: the real secrets go in the child's
        # environment, read and removed by the master, then to workers over Locust's messages
        env = {**os.environ, **secrets_env(s.raw)}
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                start_new_session=True, preexec_fn=die_with_parent)
        signals.locust = proc
        signals.forward()  # a signal that came while it started
        try:
            while proc.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(0.5)
                if line is not None:
                    for st in tail.poll():
                        line(st, tail.stale)
                if time.monotonic() > deadline:
                    raise FleetsimError(f"Locust did not finish within "
                                        f"{s.duration_s + allowance:.0f} s: "
                                        f"{_tail(log_path)}")
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    _wait_final_files(out, signals)
    if line is not None:
        for st in tail.poll():
            line(st)
    if not worker_dirs(out) and not signals.count:
        raise FleetsimError(f"Locust exited with code {proc.returncode} before any station "
                            f"started: {_tail(log_path)}")


def _wait_final_files(out: Path, signals: RunSignals) -> None:
    deadline = time.monotonic() + FINAL_FILES_WAIT_S
    while time.monotonic() < deadline and signals.count < 2:
        if all((d / "worker.json").exists() for d in worker_dirs(out)):
            return
        time.sleep(0.1)


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "(no log)"
    return text[-_TAIL_CHARS:] or "(no output)"
