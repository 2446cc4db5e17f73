"""TransactionState: seqNo bookkeeping and meter start/stop rules, without a network."""

from __future__ import annotations

from fleetsim.csms.metering import ENERGY_REGISTER
from fleetsim.csms.records import MeterSample
from fleetsim.csms.transactions import TransactionEventData, TransactionState


def event(kind: str, seq_no: int, wh: float | None = None) -> TransactionEventData:
    samples = [] if wh is None else [MeterSample("t", ENERGY_REGISTER, None, wh, "Wh")]
    return TransactionEventData(
        event_type=kind, timestamp=f"t{seq_no}", seq_no=seq_no, transaction_id="x", samples=samples
    )


def test_seq_nos_baseline_gap_late_duplicate() -> None:
    tx = TransactionState(ocpp_version="2.0.1", station_id="S", transaction_id="x")
    results = [
        tx.apply_event(event(kind, seq), id_token_status=None)
        for kind, seq in [
            ("Started", 7),
            ("Updated", 8),
            ("Updated", 11),
            ("Updated", 9),
            ("Updated", 9),
        ]
    ]
    assert results == [None, None, ("gap", 9), ("late", 12), ("duplicate", 12)]
    assert (tx.last_seq_no, tx.missing_seq_nos, tx.events) == (11, {10}, 5)
    assert tx.row().missing_seq_nos == (10,)


def test_started_and_ended_registers_win_over_first_and_last_seen() -> None:
    tx = TransactionState(ocpp_version="2.1", station_id="S", transaction_id="x")
    tx.apply_event(event("Updated", 1, wh=150), id_token_status=None)  # Started not yet seen
    assert (tx.meter_start_wh, tx.meter_stop_wh) == (150, 150)
    tx.apply_event(event("Started", 0, wh=100), id_token_status=None)  # arrives late, wins
    tx.apply_event(event("Ended", 3, wh=400), id_token_status=None)
    tx.apply_event(event("Updated", 2, wh=300), id_token_status=None)  # late, after the end
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.stop_reason) == (100, 400, "Local")
    assert TransactionState.from_row(tx.row()) == tx
