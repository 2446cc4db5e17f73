"""At-least-once delivery: what a station resends after a reconnect is applied once.

A repeated frame with the same message id on one connection is answered as before;
the latest TransactionEvent again on a new connection is a redelivery, not a
duplicate; a 1.6 StartTransaction again on a new connection gets the same id.
"""

from __future__ import annotations

from pathlib import Path

from fleetsim.csms import CsmsConfig, CsmsServer, Ledger
from fleetsim.csms.versions import OcppVersion

from .clients import raw_station, run_with_csms
from .test_handlers_v2 import event

V201 = OcppVersion.V201
V16 = OcppVersion.V16


def test_the_latest_event_again_on_a_new_connection_is_a_redelivery(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "RD-1", V201) as a:
            for payload in (event("Started", 0, 0, wh=0), event("Updated", 1, 1, wh=100)):
                assert (await a.call("TransactionEvent", payload))[0] == 3
        async with raw_station(server.url, "RD-1", V201) as b:  # reconnected: resends seq 1
            for payload in (event("Updated", 1, 1, wh=100), event("Ended", 2, 2, wh=200)):
                assert (await b.call("TransactionEvent", payload))[0] == 3
            # the same seqNo once more on this connection is a duplicate after all
            assert (await b.call("TransactionEvent", event("Ended", 2, 2, wh=200)))[0] == 3

    run_with_csms(scenario, CsmsConfig(db=str(db)))
    ledger = Ledger.open_readonly(db)
    [row] = ledger.transactions()
    assert (row.events, row.missing_seq_nos, row.meter_stop_wh) == (4, (), 200)
    assert [(a.kind, a.seq_no) for a in ledger.seq_no_anomalies()] == [("duplicate", 2)]


def test_a_frame_repeated_with_its_message_id_is_answered_once_applied_once(
        tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> list[list[object]]:
        async with raw_station(server.url, "RD-2", V201) as st:
            first = await st.call("TransactionEvent", event("Started", 0, 0, wh=0), "same-id")
            again = await st.call("TransactionEvent", event("Started", 0, 0, wh=0), "same-id")
            return [first, again]

    first, again = run_with_csms(scenario, CsmsConfig(db=str(db)))
    assert first == again
    ledger = Ledger.open_readonly(db)
    [row] = ledger.transactions()
    assert row.events == 1 and ledger.seq_no_anomalies() == []


def test_a_16_start_resent_on_a_new_connection_keeps_its_transaction_id(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    start = {"connectorId": 1, "idTag": "FS01", "meterStart": 10,
             "timestamp": "2026-01-05T10:00:00.000Z"}

    async def scenario(server: CsmsServer) -> tuple[int, int, int]:
        async with raw_station(server.url, "RD-3", V16) as a:
            one = (await a.call("StartTransaction", start))[2]["transactionId"]
        async with raw_station(server.url, "RD-3", V16) as b:
            two = (await b.call("StartTransaction", start))[2]["transactionId"]
            other = (await b.call("StartTransaction", {**start, "connectorId": 2}))[2]
        return one, two, other["transactionId"]

    one, two, other = run_with_csms(scenario, CsmsConfig(db=str(db)))
    assert one == two and other != one
    ledger = Ledger.open_readonly(db)
    assert len(ledger.transactions()) == 2


def test_durable_ledger_commits_before_answering(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> int:
        async with raw_station(server.url, "RD-4", V201) as st:
            await st.call("TransactionEvent", event("Started", 0, 0, wh=0))
            return server.ledger.pending  # nothing left in the write buffer once answered

    assert run_with_csms(scenario, CsmsConfig(db=str(db), durable=True)) == 0
