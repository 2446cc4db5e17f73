"""Ctrl-C ends a run gracefully, on both paths: the stations stop their transactions and
the results, report and reconciliation are written; the run says it was interrupted.

(Apart from ``test_interrupt.py``, whose signal and orphan tests share its helpers, so
the two files run side by side.)"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.run.test_interrupt import start_run


@pytest.mark.parametrize("workers", ["0", "1"])
def test_sigint_ends_the_run_gracefully_with_results(workers: str, tmp_path: Path) -> None:
    proc, out = start_run(tmp_path, workers)
    try:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stdout, stderr = proc.communicate(timeout=180)  # plots take a while on a busy box
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
