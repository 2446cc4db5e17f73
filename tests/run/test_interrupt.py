"""Ctrl-C during ``fleetsim run`` ends the run gracefully and still writes its results.

A real SIGINT to the run's whole process group, as a terminal sends it: the stations
stop their transactions, the embedded CSMS (in its own session) answers them, the
results folder is complete and reconciles — in-process (``--workers 0``) and through
Locust (the default path).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from fleetsim.lifeline import ORPHAN_BOUND_S

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = """\
name: interrupt
seed: 4
duration: 120s
stations: {count: 24, connectors: 2, connect_rate: 200, versions: {"1.6": 1, "2.0.1": 1, "2.1": 1}}
csms: {target: embedded, heartbeat_interval: 1800s}
clock: {time_factor: 600}
ocpp: {meter_interval: 300s}
drivers: {model: uniform, overrides: {uniform: {sessions_per_day: 12}}}
"""


def run_tree(pid: int) -> list[psutil.Process]:
    """The run's processes now: ``fleetsim run`` and everything below it."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def alive(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline()[:5])}")
    return out


def wait_all_gone(procs: list[psutil.Process], timeout_s: float) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while (left := alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def start_run(tmp_path: Path, workers: str) -> tuple[subprocess.Popen[str], Path]:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetsim", "run", str(tmp_path / "s.yaml"), "--workers", workers,
         "--out", str(out), "--quiet"], cwd=ROOT, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    # every engine runs (the in-process one writes at the top): a few seconds of intervals
    while len([f for f in [*out.glob("intervals.jsonl"), *out.glob("workers/*/intervals.jsonl")]
               if len(f.read_bytes().splitlines()) >= 3]) < max(1, int(workers)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.05)
    return proc, out


@pytest.mark.parametrize(("sig", "workers"), [(signal.SIGINT, "1"), (signal.SIGTERM, "2")])
def test_a_signal_to_the_parent_alone_stops_every_process(sig: int, workers: str,
                                                          tmp_path: Path) -> None:
    # a supervisor or CI runner signals the pid it started, not its process group
    proc, out = start_run(tmp_path, workers)
    tree = run_tree(proc.pid)
    try:
        assert len(tree) >= 3 + 2 * int(workers), alive(tree)  # run, CSMS, master, workers, engines
        proc.send_signal(sig)
        # every process the run started is gone within 30 s; the run itself then writes
        # the report (plots take a while on a busy box)
        assert wait_all_gone(tree[1:], 30.0) == []
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        for p in tree:
            with contextlib.suppress(psutil.Error):
                p.kill()
    assert proc.returncode == 4, stdout[-2000:] + stderr[-2000:]
    assert "Traceback" not in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] and not summary["completed"]
    # every engine's final figures reached the results
    finals = [json.loads(f.read_text()) for f in out.glob("workers/*/worker.json")]
    assert len(finals) == int(workers)
    assert summary["stations"]["started"] == 24
    assert summary["stations"]["booted"] == sum(w["booted"] for w in finals) > 0


def test_sigkill_of_the_parent_leaves_no_orphan(tmp_path: Path) -> None:
    proc, _ = start_run(tmp_path, "2")
    tree = run_tree(proc.pid)
    try:
        proc.kill()  # no handler runs: the kernel's parent-death signals must do it
        proc.wait()
        assert wait_all_gone(tree, ORPHAN_BOUND_S) == []
    finally:
        for p in tree:
            with contextlib.suppress(psutil.Error):
                p.kill()
        proc.communicate()
