"""Nothing lost: a fleet against the embedded CSMS through a CSMS crash and a mass drop.

Whole runs (``fleetsim run --workers 0``'s path): the embedded CSMS is SIGKILLed and
restarted on the same port and ledger, or half the stations lose their TCP connection
without a close frame while the CSMS runs on. Every station comes back, the queued
transaction messages are replayed in order (2.x ``offline: true``, no seqNo gaps), and
the reconciliation of the stations' sessions against the CSMS ledger finds nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetsim.csms import Ledger
from fleetsim.reconcile import reconcile
from fleetsim.report.render import render
from fleetsim.run.standalone import run_scenario
from fleetsim.scenario import parse_scenario


def scenario_dict(name: str, fault: dict[str, Any], count: int = 60) -> dict[str, Any]:
    """A mixed-version fleet with fast reconnects and one injected ``fault``."""
    return {
        "name": name, "seed": 21, "duration": "13s",
        "stations": {"count": count, "connectors": 2, "connect_rate": 300,
                     "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}},
        "csms": {"target": "embedded", "heartbeat_interval": "1800s", "call_timeout": "3s"},
        "clock": {"time_factor": 600, "intervals": "simulated"},  # readings every 0.5 s
        "ocpp": {"meter_interval": "300s"},
        "drivers": {"model": "uniform",
                    "overrides": {"uniform": {"sessions_per_day": 10, "dwell_h": [1, 3]}}},
        "reconnect": {"v16": {"mode": "fixed", "wait": "1s"},
                      "v2": {"wait_minimum": "0.5s", "random_range": "1s", "repeat_times": 2}},
        "faults": [fault],
    }


def scenario(name: str, fault: dict[str, Any]) -> Any:
    return parse_scenario(scenario_dict(name, fault))


def check_nothing_lost(path: Path, summary: dict[str, Any]) -> None:
    assert summary["completed"], summary["failure"]
    storm = summary["storm"]
    assert storm["t_100_connected_s"] is not None and storm["t_all_accepted_s"] is not None
    off = summary["offline"]
    assert off["replayed"] > 0 and off["dropped"] == 0
    assert summary["stations"]["booted"] == 60
    r = reconcile(path)
    assert r.ok, r.differences[:5]
    assert r.transactions_stations > 20
    ledger = Ledger.open_readonly(path / "csms.sqlite")
    try:
        rows = ledger.transactions()
        anomalies = ledger.seq_no_anomalies()
    finally:
        ledger.close()
    assert anomalies == []  # replayed in order: no gap, nothing late, no duplicate
    offline = [t for t in rows if t.ocpp_version != "1.6" and t.offline_events > 0]
    assert offline and all(not t.missing_seq_nos for t in offline)


def test_csms_killed_and_restarted_mid_run_loses_nothing(tmp_path: Path) -> None:
    s = scenario("crash", {"csms_restart": {"at": "4s", "down_for": "2s"}})
    out = run_scenario(s, out_dir=tmp_path / "run", progress=False)
    summary = out.summary
    assert summary["faults_injected"]["by_kind"] == {"csms_restart": 1}
    [event] = summary["faults_injected"]["events"]
    assert event["kind"] == "csms_restart" and 3.9 <= event["at_s"] <= 4.5
    storm = summary["storm"]  # everyone connected when the CSMS died was cut off
    assert storm["disconnected"] == storm["connected_before"] >= 30
    check_nothing_lost(out.path, summary)
    render(out.path)  # the storm plot and its report section
    assert (out.path / "plots" / "storm.png").read_bytes()[:4] == b"\x89PNG"
    assert "Injected faults" in (out.path / "report.html").read_text()


def test_dirty_disconnect_of_half_the_fleet_loses_nothing(tmp_path: Path) -> None:
    s = scenario("drop", {"disconnect": {"at": "4s", "share": "50%", "mode": "dirty"}})
    out = run_scenario(s, out_dir=tmp_path / "run", progress=False)
    summary = out.summary
    hit = summary["faults_injected"]["by_kind"]["disconnect_dirty"]
    assert 15 <= hit <= 45 and summary["storm"]["disconnected"] == hit
    assert "connection_lost" not in summary["errors"]["by_kind"]  # ours, not the CSMS's
    check_nothing_lost(out.path, summary)
