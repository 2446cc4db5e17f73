"""Plain ``locust -f``: the master owns the embedded CSMS, so it also does the scenario's
injected CSMS restart. The restart is recorded, every station comes back, and the
stations' sessions reconcile with the CSMS ledger: nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from fleetsim.reconcile import reconcile
from tests.integration.test_faults_storm import scenario_dict
from tests.locust_adapter.procs import locust, run

SCENARIO = scenario_dict("locust-crash", {"csms_restart": {"at": "4s", "down_for": "2s"}},
                         count=30)


def test_the_locust_master_restarts_its_embedded_csms_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "crash.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = tmp_path / "run"
    proc = run(locust("--fleetsim-scenario", str(path), "--fleetsim-out", str(out),
                      processes=1), timeout=90, log=tmp_path / "locust.log")
    log = (tmp_path / "locust.log").read_text(errors="replace")
    # Locust exits 1 because it recorded failures: the connections the restart cut and
    # the reconnects it refused, which is what a real CSMS restart does to a fleet
    assert proc.returncode == 1, log[-3000:]
    assert "Traceback" not in log
    assert "ConnectionFailure('connection lost')" in log
    summary = json.loads((out / "summary.json").read_text())
    assert summary["completed"], summary["failure"]
    assert summary["faults_injected"]["by_kind"] == {"csms_restart": 1}
    [event] = summary["faults_injected"]["events"]
    assert 3.9 <= event["at_s"] <= 5.0
    storm = summary["storm"]
    # every station connected when the CSMS died was cut off (on a busy box the ramp may
    # not have reached all 30 by then), and every one of them was accepted again
    assert storm["disconnected"] == storm["connected_before"] >= 1
    assert storm["t_all_accepted_s"] is not None
    assert summary["offline"]["replayed"] > 0 and summary["offline"]["dropped"] == 0
    r = reconcile(out)
    assert r.ok, r.differences[:5]
    assert r.transactions_stations > 10
