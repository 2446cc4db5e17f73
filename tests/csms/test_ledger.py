"""The ledger: buffered until flushed, read-only readers, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fleetsim.csms import Ledger, TransactionRow
from fleetsim.csms.records import MeterSample, SeqNoAnomaly
from fleetsim.exceptions import FleetsimError


def committed(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        count: int = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return count


def test_writes_are_buffered_until_flush(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    ledger = Ledger.open(db)
    ledger.record_boot("S1", ocpp_version="1.6", at="t0", status="Accepted", vendor="v", model="m")
    ledger.record_boot("S1", ocpp_version="2.0.1", at="t1", status="Pending", vendor="v", model="m")
    ledger.count_message("S1", "Heartbeat", error=False)
    ledger.count_message("S1", "Heartbeat", error=True)
    ledger.put_transaction(TransactionRow(ocpp_version="1.6", station_id="S1", transaction_id="1"))
    ledger.put_transaction(
        TransactionRow(ocpp_version="1.6", station_id="S1", transaction_id="1", events=2)
    )
    ledger.add_samples("S1", "1", [MeterSample("t", "Power.Active.Import", "L1", 1.0, "W")])
    ledger.add_seq_no_anomaly(SeqNoAnomaly("S1", "1", "gap", 3, 1, "t"))
    assert ledger.pending == 6
    assert committed(db, "stations") == 0  # nothing written per message
    ledger.flush()
    assert ledger.pending == 0
    [station] = ledger.stations()
    assert (station.boots, station.first_boot_at, station.last_boot_at) == (2, "t0", "t1")
    assert (station.ocpp_version, station.last_boot_status) == ("2.0.1", "Pending")
    [tx] = ledger.transactions()
    assert tx.events == 2  # the latest state replaced the earlier one
    [count] = ledger.message_counts()
    assert (count.count, count.errors) == (2, 1)
    ledger.count_message("S1", "Heartbeat", error=False)
    assert ledger.action_totals() == {"Heartbeat": 3}  # reads flush first
    assert ledger.meter_values()[0].phase == "L1"
    assert ledger.seq_no_anomalies()[0].kind == "gap"
    ledger.close()
    ledger.close()  # idempotent


def test_readonly_reader_sees_committed_rows_and_cannot_write(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    writer = Ledger.open(db)
    writer.put_transaction(
        TransactionRow(
            ocpp_version="2.0.1", station_id="S", transaction_id="x", missing_seq_nos=(2, 5)
        )
    )
    writer.flush()
    reader = Ledger.open_readonly(db)
    [tx] = reader.transactions("S")
    assert tx.missing_seq_nos == (2, 5)
    assert reader.transactions("other") == []
    assert reader.transaction("S", "x") == tx
    assert reader.transaction("S", "y") is None
    reader.put_transaction(tx)
    with pytest.raises(FleetsimError, match="read-only"):
        reader.flush()
    with pytest.raises(sqlite3.OperationalError):
        reader._db.execute("DELETE FROM transactions")
    reader.close()
    writer.close()


def test_reopening_keeps_rows_and_the_v16_id_sequence(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    ledger = Ledger.open(db)
    for tx_id in ("9", "10"):
        ledger.put_transaction(
            TransactionRow(ocpp_version="1.6", station_id="S", transaction_id=tx_id)
        )
    ledger.put_transaction(
        TransactionRow(ocpp_version="2.0.1", station_id="S", transaction_id="99")
    )
    ledger.close()
    again = Ledger.open(db)
    assert again.max_v16_transaction_id() == 10  # numeric, not text order; 2.x ignored
    assert len(again.transactions()) == 3
    again.close()


def test_open_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(FleetsimError, match=r"cannot open ledger .*missing"):
        Ledger.open(tmp_path / "missing" / "ledger.db")
    with pytest.raises(FleetsimError, match="no such file"):
        Ledger.open_readonly(tmp_path / "nope.db")
    with pytest.raises(FleetsimError, match="in-memory"):
        Ledger.open_readonly(":memory:")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(FleetsimError, match=r"junk\.db"):
        Ledger.open(junk)


def test_memory_ledger_works() -> None:
    ledger = Ledger.open(":memory:")
    ledger.count_message("S", "Heartbeat", error=False)
    assert ledger.action_totals() == {"Heartbeat": 1}
    ledger.close()
