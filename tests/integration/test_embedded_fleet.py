"""200 stations of mixed versions against the real embedded CSMS over real WebSockets.

The CSMS runs in its own process on 127.0.0.1 and writes its SQLite ledger; the
stations' own record must match it: sessions.csv transaction for transaction,
messages.csv CALL for CALL per station and action.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from fleetsim.csms.ledger import Ledger
from fleetsim.run.standalone import run_scenario
from fleetsim.scenario import parse_scenario


def test_mixed_fleet_against_embedded_csms_ledger_matches(tmp_path: Path) -> None:
    s = parse_scenario({
        "name": "it", "seed": 3, "duration": "15s",
        "stations": {"count": 200, "connectors": 2, "connect_rate": 400,
                     "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}},
        # a deliberately chatty fleet (clock.intervals: simulated): 300 s readings every 0.5 s
        "csms": {"target": "embedded", "heartbeat_interval": "1s"},
        "clock": {"time_factor": 600, "start": "2026-01-05T07:00:00Z", "intervals": "simulated"},
        "ocpp": {"meter_interval": "300s"},
        "drivers": {"model": "uniform", "overrides": {"uniform": {"sessions_per_day": 8,
                                                                  "dwell_h": [0.3, 1.5]}}},
    }, file="it.yaml")
    out = run_scenario(s, out_dir=tmp_path / "run", progress=False)
    summary = json.loads((out.path / "summary.json").read_text())
    assert summary["stations"] == {"planned": 200, "connected_max": 200, "booted": 200,
                                   "started": 200}
    assert summary["errors"]["total"] == 0, summary["errors"]
    for version in ("1.6", "2.0.1", "2.1"):
        assert summary["actions"][f"{version}/BootNotification"]["count"] >= 60
        assert summary["actions"][f"{version}/Heartbeat"]["count"] > 0
        assert summary["actions"][f"{version}/StatusNotification"]["count"] > 0
        assert summary["actions"][f"{version}/Authorize"]["count"] > 0
    gen = summary["generator"]
    assert gen["calls_sent"] == (gen["calls_answered"] + gen["calls_callerror"]
                                 + gen["calls_timed_out"] + gen["calls_interrupted"])

    with open(out.path / "sessions.csv", newline="") as f:
        sessions = list(csv.DictReader(f))
    assert len(sessions) > 200
    ledger = Ledger.open_readonly(out.path / "csms.sqlite")
    try:
        rows = {(t.station_id, t.transaction_id): t for t in ledger.transactions()}
        boots = ledger.boot_counts()
        received = {(m.station_id, m.action): (m.count, m.errors)
                    for m in ledger.message_counts()}
    finally:
        ledger.close()
    assert len(boots) == 200 and set(boots.values()) == {1}  # every station booted exactly once
    # every session the CSMS acknowledged is in its ledger, energy to the Wh; a car that
    # came while its station was still booting at the stop is a row and no transaction
    acked = [x for x in sessions if x["csms_acknowledged"] == "true"]
    assert len(rows) == len(acked) and len(sessions) - len(acked) <= len(sessions) // 50
    for sess in acked:
        row = rows[(sess["station_id"], sess["transaction_id"])]
        assert row.meter_start_wh == float(sess["meter_start_wh"]), sess
        assert row.meter_stop_wh == float(sess["meter_stop_wh"]), sess
        assert row.stopped_at is not None
        if row.ocpp_version != "1.6":
            assert not row.missing_seq_nos and row.last_seq_no == row.events - 1

    # the station-side ledger a third-party CSMS's operator would reconcile against:
    # nothing went unanswered here, so each count is exactly what the CSMS received
    with open(out.path / "messages.csv", newline="") as f:
        sent = {(m["station_id"], m["action"]): m for m in csv.DictReader(f)}
    assert len({sid for sid, _ in sent}) == 200
    assert sum(int(m["sent"]) for m in sent.values()) == gen["calls_sent"]
    assert {k: (int(m["sent"]), int(m["callerror"])) for k, m in sent.items()} == received
    assert all(m["unanswered"] == "0" for m in sent.values())
