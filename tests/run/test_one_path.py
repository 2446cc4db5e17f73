"""One results path: ``--workers 0`` and ``--workers 1`` make the same kind of results.

The in-process engine writes ``workers/engine/`` as a Locust worker's engine writes its
folder, and both runs' results come from the same merge. The same scenario and seed on
both paths: the same summary keys, the same stations, the same planned sessions.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIONS = 24
DURATION_S = 30
FACTOR = 600
START = datetime.fromisoformat("2026-01-05T07:00:00+00:00")
SCENARIO = f"""\
name: onepath
seed: 21
duration: {DURATION_S}s
stations: {{count: {STATIONS}, connectors: 2, connect_rate: 200,
           versions: {{"1.6": 1, "2.0.1": 1, "2.1": 1}}}}
csms: {{target: embedded, heartbeat_interval: 60s}}
clock: {{time_factor: {FACTOR}, start: "2026-01-05T07:00:00Z"}}
ocpp: {{meter_interval: 300s}}
drivers: {{model: uniform, overrides: {{uniform: {{sessions_per_day: 24, dwell_h: [0.2, 1.0]}}}}}}
"""
# maps keyed by data (action, version, engine tag, error kind …), not by summary fields
DATA_KEYED = {"actions", "connect", "versions", "by_kind", "errors_by_kind", "retried_by_kind",
              "incoming_calls", "conformance", "engines", "locust_workers", "attempts",
              "by_cause", "refusals"}
# the planned part of a session row: what the plan decides, not what the run did
PLANNED = ("station_id", "connector_id", "archetype", "id_tag", "arrival", "departure",
           "wanted_kwh", "vehicle")


def key_paths(d: dict[str, Any], prefix: str = "") -> set[str]:
    """Every field's dotted path; under a data-keyed map, its entries' fields as ``*``."""
    out = set()
    for k, v in d.items():
        path = f"{prefix}{k}"
        out.add(path)
        if not isinstance(v, dict):
            continue
        if k in DATA_KEYED:
            for entry in v.values():
                if isinstance(entry, dict):
                    out |= key_paths(entry, f"{path}.*.")
        else:
            out |= key_paths(v, f"{path}.")
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("onepath")
    (tmp / "s.yaml").write_text(SCENARIO)
    got = {}
    for workers in ("0", "1"):
        out = tmp / f"w{workers}"
        proc = subprocess.run(
            [sys.executable, "-m", "fleetsim", "run", str(tmp / "s.yaml"), "--workers", workers,
             "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True, text=True,
            timeout=DURATION_S + 150, stdin=subprocess.DEVNULL, check=False)
        log = proc.stdout[-3000:] + proc.stderr[-3000:]
        assert proc.returncode == 0, log
        assert "Traceback" not in proc.stderr
        assert "reconcile: all" in proc.stdout, log  # both reconcile against the CSMS ledger
        with open(out / "sessions.csv", newline="") as f:
            sessions = list(csv.DictReader(f))
        got[workers] = {"out": out, "summary": json.loads((out / "summary.json").read_text()),
                        "sessions": sessions}
    return got


def test_both_paths_write_the_same_summary_keys_and_engine_folder(
        runs: dict[str, dict[str, Any]]) -> None:
    inproc, locust = runs["0"]["summary"], runs["1"]["summary"]
    assert key_paths(inproc) == key_paths(locust)
    assert set(inproc["actions"]) == set(locust["actions"])
    for r in runs.values():  # every engine's folder, whole
        (engine,) = (r["out"] / "workers").iterdir()
        assert {p.name for p in engine.iterdir()} >= {
            "intervals.jsonl", "sessions.jsonl", "messages.jsonl", "recorder.json",
            "worker.json"}
    assert list(inproc["cpu"]["engines"]) == ["engine"] and inproc["cpu"]["locust_workers"] == {}
    assert inproc["cpu"]["master_role"] == "in-process"
    assert inproc["cpu"]["master_cpu_percent"] is None
    assert locust["cpu"]["master_cpu_percent"] is not None
    for s in (inproc, locust):
        assert s["completed"] and not s["interrupted"] and s["generator"]["workers"] == 1
        held = s["generator"]["after_ramp"]  # the hold, judged apart from ramp and stop
        assert held["held"] and held["booted"] == 24 and held["to_s"] == DURATION_S - 1
        assert 0 <= held["loop_lag_p99_ms"] <= held["loop_lag_max_ms"] + 1  # its own samples


def test_both_paths_run_the_same_stations_and_sessions(runs: dict[str, dict[str, Any]]) -> None:
    inproc, locust = runs["0"]["summary"], runs["1"]["summary"]
    assert inproc["versions"] == locust["versions"]  # station i is station i on both
    assert sum(inproc["versions"].values()) == STATIONS
    assert inproc["stations"] == locust["stations"] == {
        "planned": STATIONS, "connected_max": STATIONS, "booted": STATIONS, "started": STATIONS}
    # The plan is the same; the edges of the run are not (Locust's stations join a moment
    # later and stop on Locust's clock): compare the sessions that arrived well inside both
    lo = START + timedelta(seconds=10 * FACTOR)
    hi = START + timedelta(seconds=(DURATION_S - 8) * FACTOR)

    def planned(r: dict[str, Any]) -> set[tuple[str, ...]]:
        return {tuple(row[k] for k in PLANNED) for row in r["sessions"]
                if lo <= datetime.fromisoformat(row["arrival"]) <= hi}

    inside = planned(runs["0"])
    assert len(inside) >= 20  # enough to mean something
    assert inside == planned(runs["1"])
    for r in runs.values():
        assert r["summary"]["sessions"]["completed"] == len(r["sessions"])
