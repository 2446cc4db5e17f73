"""Ctrl-C during ``fleetsim run`` ends the run gracefully and still writes its results.

A real SIGINT to the run's whole process group, as a terminal sends it: the stations
stop their transactions, the embedded CSMS (in its own session) answers them, the
results folder is complete and reconciles — in-process (``--workers 0``) and through
Locust (the default path).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def intervals(out: Path) -> int:
    files = [*out.glob("intervals.jsonl"), *out.glob("workers/*/intervals.jsonl")]
    return sum(len(f.read_bytes().splitlines()) for f in files if f.exists())


@pytest.mark.parametrize("workers", ["0", "1"])
def test_sigint_ends_the_run_gracefully_with_results(workers: str, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetsim", "run", str(tmp_path / "s.yaml"), "--workers", workers,
         "--out", str(out), "--quiet"], cwd=ROOT, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while intervals(out) < 3:  # the fleet runs: a few seconds of intervals are written
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # an interrupted run is not the run planned: exit 4 (incomplete), and it says so
    assert proc.returncode == 4, stdout[-2000:] + stderr[-2000:]
    assert "Traceback" not in stderr
    assert "interrupted by the user" in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] and not summary["completed"]
    assert summary["failure"].startswith("interrupted by the user after")
    assert summary["duration_s"] < 60
    assert (out / "report.html").exists()
    assert summary["stations"]["booted"] == 24
    assert (out / "sessions.csv").read_text().startswith("station_id,")
    assert "reconcile: all" in stdout  # the CSMS answered the stations' last stops
