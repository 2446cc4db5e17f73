"""Engine children never outlive Locust: after a normal end, an unreachable CSMS, a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import orjson
import yaml

from fleetsim.csms.process import EmbeddedCsms
from tests.locust_adapter.procs import ROOT, alive, child_pids, free_port, locust, run, wait_for

SCENARIO = {
    "name": "life", "seed": 5, "duration": "30s",
    "stations": {"count": 40, "id_prefix": "LF", "versions": {"1.6": 1, "2.0.1": 1}},
    "csms": {"target": "embedded", "connect_timeout": "2s"},
    "clock": {"time_factor": 600},
    "drivers": {"model": "uniform", "overrides": {"uniform": {"sessions_per_day": 24}}},
}


def _scenario(tmp: Path) -> Path:
    path = tmp / "life.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    return path


def test_unreachable_csms_stops_the_test_and_leaves_no_child(tmp_path: Path) -> None:
    out = tmp_path / "run"
    t0 = time.monotonic()
    proc = run(locust("--users", "40", "--spawn-rate", "40", "--run-time", "30s",
                      "--fleetsim-scenario", str(_scenario(tmp_path)),
                      "--fleetsim-csms", f"ws://127.0.0.1:{free_port()}",
                      "--fleetsim-out", str(out), processes=2),
               timeout=60, log=tmp_path / "locust.log")
    log = (tmp_path / "locust.log").read_text(errors="replace")
    assert proc.returncode == 4, log[-3000:]
    assert time.monotonic() - t0 < 25  # stopped by the failure, not by --run-time
    assert "cannot reach the CSMS" in log and "connection refused" in log
    pids = child_pids(out)
    assert pids
    wait_for(lambda: not alive(pids), 10, "engine children to exit")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["completed"] is False and "cannot reach the CSMS" in summary["failure"]


def test_killed_locust_takes_its_child_along(tmp_path: Path) -> None:
    """SIGKILL leaves no chance to clean up: the child sees EOF, stops its stations, exits."""
    out = tmp_path / "run"
    with EmbeddedCsms(db=tmp_path / "csms.sqlite", token_prefix="", heartbeat_interval_s=60) \
            as csms, open(tmp_path / "locust.log", "wb") as log:
        proc = subprocess.Popen(
            locust("--users", "20", "--spawn-rate", "100", "--run-time", "60s",
                   "--fleetsim-scenario", str(_scenario(tmp_path)), "--fleetsim-csms", csms.url,
                   "--fleetsim-out", str(out)),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
        try:
            def booted() -> bool:
                lines = [orjson.loads(x) for f in out.glob("workers/*/intervals.jsonl")
                         for x in f.read_bytes().splitlines() if x.strip()]
                return any(x["gauges"].get("booted", 0) == 20 for x in lines)

            wait_for(booted, 30, "20 stations booted")
            pids = child_pids(out)
            assert len(pids) == 1 and alive(pids)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            wait_for(lambda: not alive(pids), 15, "the orphaned engine child to exit")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    (worker,) = out.glob("workers/*/worker.json")
    info = orjson.loads(worker.read_bytes())
    assert info["booted"] == 20 and info["failure"] is None  # it stopped gracefully
