"""A whole ``fleetsim run`` in which the embedded CSMS sends commands, over mutual TLS.

Scenario → commands file → CSMS process → stations, and back: remote starts are
timed station-side, a site-wide cap lowers the power, a reset storm makes every
station boot again, strict mode finds the embedded CSMS conformant, and the
password appears in no result file.
"""

from __future__ import annotations

import json
from pathlib import Path

from fleetsim.csms.ledger import Ledger
from fleetsim.run.standalone import run_scenario
from fleetsim.scenario import parse_scenario
from fleetsim.security.certs import mint

PASSWORD = "pw-Zq8-{station_id}"


def test_commands_profiles_and_strict_mode_end_to_end(tmp_path: Path) -> None:
    ids = [f"CMD{i:02d}" for i in range(6)]
    certs = mint(tmp_path / "certs", ids)
    s = parse_scenario({
        "name": "commands", "seed": 5, "duration": "8s",
        "stations": {"count": 6, "id_prefix": "CMD", "id_digits": 2, "connect_rate": 200,
                     "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}},
        "csms": {"target": "embedded", "heartbeat_interval": "3600s", "password": PASSWORD,
                 "tls": {"certs": str(certs.root), "mutual": True}},
        # readings every 0.5 s of wall time show the cap: a chatty fleet, asked for
        "clock": {"time_factor": 600, "start": "2026-01-05T12:00:00Z", "intervals": "simulated"},
        "ocpp": {"meter_interval": "300s", "strict": True},
        "drivers": {"model": "uniform", "overrides": {"uniform": {"sessions_per_day": 0.01}}},
        "csms_commands": [
            {"action": "RemoteStart", "at": "+20m"},  # 2 s: every station is connected by then
            {"action": "SetChargingProfile", "at": "12:35", "limit": "2kW", "duration": "1h"},
            {"action": "GetConfiguration", "every": "15m"},
            {"action": "Reset", "at": "+55m", "share": "100%"},
        ],
    }, file="commands.yaml")
    out = run_scenario(s, out_dir=tmp_path / "run", progress=False)
    summary = json.loads((out.path / "summary.json").read_text())
    actions, n = summary["actions"], summary["versions"]  # stations per version
    assert actions["1.6/RemoteStartTransaction→StartTransaction"]["count"] == n["1.6"]
    assert actions["2.0.1/RequestStartTransaction→TransactionEvent"]["count"] == n["2.0.1"]
    assert actions["2.1/RequestStartTransaction→TransactionEvent"]["count"] == n["2.1"]
    incoming = summary["incoming_calls"]
    assert incoming["1.6/SetChargingProfile"] == n["1.6"]
    assert incoming["2.1/SetChargingProfile"] == n["2.1"]
    assert incoming["1.6/GetConfiguration"] >= 2 * n["1.6"]
    assert incoming["2.0.1/GetVariables"] >= 2 * n["2.0.1"]
    assert summary["errors"]["total"] == 0, summary["errors"]
    assert summary["conformance"] == {}  # strict mode: the embedded CSMS is conformant
    assert summary["stations"]["booted"] == 6 and summary["offline"]["dropped"] == 0

    ledger = Ledger.open_readonly(out.path / "csms.sqlite")
    try:
        outcomes = ledger.command_outcomes()
        boots = ledger.boot_counts()
        capped = [r for r in ledger.meter_values() if r.measurand == "Power.Active.Import"
                  and "T12:41" <= r.timestamp[10:16] <= "T12:54"]  # an interval on
    finally:
        ledger.close()
    assert outcomes[("RemoteStartTransaction", "Accepted")] == n["1.6"]
    assert outcomes[("RequestStartTransaction", "Accepted")] == n["2.0.1"] + n["2.1"]
    assert outcomes[("SetChargingProfile", "Accepted")] == 6
    assert outcomes[("Reset", "Accepted")] == 6
    assert set(boots.values()) == {2}  # the reset storm: every station booted again
    assert capped and max(r.value for r in capped) <= 2000.0  # the site-wide cap held

    for f in out.path.iterdir():  # the password is in no result file
        if f.is_file():
            assert b"pw-Zq8" not in f.read_bytes(), f.name
    assert "***" in (out.path / "scenario.yaml").read_text()
