"""Reconciliation on a real run against the embedded CSMS, then on a ledger that lost data."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fleetsim.exceptions import ResultsError
from fleetsim.reconcile import reconcile
from fleetsim.run.standalone import run_scenario
from fleetsim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    s = parse_scenario({
        "name": "rec", "seed": 5, "duration": "6s",
        "stations": {"count": 30, "connectors": 2, "connect_rate": 300,
                     "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}},
        "clock": {"time_factor": 900, "intervals": "simulated"},
        "ocpp": {"meter_interval": "300s"},
        "drivers": {"model": "uniform", "overrides": {"uniform": {"sessions_per_day": 12}}},
    })
    return run_scenario(s, out_dir=tmp_path_factory.mktemp("rec") / "run", progress=False).path


def test_a_clean_run_reconciles_with_no_differences(run_dir: Path) -> None:
    r = reconcile(run_dir)
    assert r.transactions_stations > 10
    assert r.ok, r.differences
    assert not r.messages_unrecorded, r.messages_unrecorded
    assert r.transactions_csms == r.transactions_stations
    # every action, counted on both sides: a clean run loses nothing and sends nothing twice
    assert {"BootNotification", "StatusNotification", "TransactionEvent"} <= set(r.messages)
    for action, t in r.messages.items():
        assert t["answered"] + t["callerror"] == t["csms"] == t["sent"], (action, t)


def test_a_ledger_that_lost_data_is_listed_and_fails(run_dir: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "damaged.sqlite"
    ledger.write_bytes((run_dir / "csms.sqlite").read_bytes())
    with sqlite3.connect(ledger) as db:
        (sid, tid), = db.execute(
            "SELECT station_id, transaction_id FROM transactions LIMIT 1 OFFSET 0").fetchall()
        db.execute("DELETE FROM transactions WHERE station_id=? AND transaction_id=?", (sid, tid))
        db.execute(
            "UPDATE transactions SET meter_stop_wh = meter_stop_wh + 5 WHERE transaction_id = "
            "(SELECT transaction_id FROM transactions ORDER BY transaction_id LIMIT 1)")
        db.execute("UPDATE transactions SET stopped_at = NULL WHERE transaction_id = "
                   "(SELECT transaction_id FROM transactions ORDER BY transaction_id DESC LIMIT 1)")
        db.execute("UPDATE messages SET count = count - 1 WHERE action = 'BootNotification'")
        db.execute("INSERT INTO transactions SELECT ocpp_version, station_id, 'ghost', evse_id, "
                   "connector_id, id_tag, id_tag_status, meter_start_wh, meter_stop_wh, "
                   "started_at, stopped_at, stop_reason, events, last_seq_no, missing_seq_nos, "
                   "offline_events FROM transactions LIMIT 1")
    r = reconcile(run_dir, ledger)
    kinds = {d.kind for d in r.differences}
    assert {"missing_in_csms", "meter_stop", "not_stopped", "unknown_to_stations"} <= kinds
    assert len(r.messages_unrecorded) == 30  # every station's boot, reported
    assert {d.kind for d in r.messages_unrecorded} == {"message_unrecorded"}
    assert r.messages["BootNotification"]["csms"] == r.messages["BootNotification"]["sent"] - 30
    assert any(d.station_id == sid and d.transaction_id == tid for d in r.differences)
    cli = subprocess.run([sys.executable, "-m", "fleetsim", "reconcile", str(run_dir),
                          "--ledger", str(ledger)], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert cli.returncode == 3 and "missing_in_csms" in cli.stdout


def test_missing_ledger_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "sessions.csv").write_text("station_id,transaction_id\n")
    with pytest.raises(ResultsError, match=r"csms\.sqlite: missing"):
        reconcile(tmp_path)
