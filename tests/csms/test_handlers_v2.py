"""OCPP 2.0.1/2.1 TransactionEvents end to end: meters, seqNo tracking and the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleetsim.csms import CsmsConfig, CsmsServer, Ledger
from fleetsim.csms.versions import OcppVersion

from .clients import CALLS, V2, boot, ocpp_station, raw_station, run_with_csms


def stamp(minute: int) -> str:
    return f"2026-01-01T10:{minute:02d}:00.000Z"


def meter(minute: int, wh: float | None = None, kw: float | None = None) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = []
    if wh is not None:
        values.append({"value": wh, "measurand": "Energy.Active.Import.Register"})
    if kw is not None:
        values.append(
            {
                "value": kw,
                "measurand": "Power.Active.Import",
                "unitOfMeasure": {"unit": "kW"},
            }
        )
    return [{"timestamp": stamp(minute), "sampledValue": values}]


def event(
    kind: str,
    seq_no: int,
    minute: int,
    *,
    tx: str = "tx-1",
    wh: float | None = None,
    kw: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": kind,
        "timestamp": stamp(minute),
        "triggerReason": {"Started": "Authorized", "Updated": "MeterValuePeriodic"}.get(
            kind, "EVCommunicationLost"
        ),
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx},
        **extra,
    }
    if wh is not None or kw is not None:
        payload["meterValue"] = meter(minute, wh, kw)
    return payload


@pytest.mark.parametrize("version", V2)
def test_full_transaction_with_library_client(version: OcppVersion, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    call = CALLS[version]

    def energy(minute: int, wh: float) -> list[dict[str, Any]]:
        return [{"timestamp": stamp(minute), "sampled_value": [{"value": wh}]}]

    async def scenario(server: CsmsServer) -> None:
        async with ocpp_station(server.url, "CS2-1", version) as cp:
            await boot(cp, version)
            started = await cp.call(
                call.TransactionEvent(
                    event_type="Started",
                    timestamp=stamp(0),
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info={"transaction_id": "T-1", "charging_state": "Charging"},
                    id_token={"id_token": "FS42", "type": "ISO14443"},
                    evse={"id": 2, "connector_id": 1},
                    meter_value=energy(0, 10_000),
                ),
                suppress=False,
            )
            assert started.id_token_info == {"status": "Accepted"}
            updated = await cp.call(
                call.TransactionEvent(
                    event_type="Updated",
                    timestamp=stamp(15),
                    trigger_reason="MeterValuePeriodic",
                    seq_no=1,
                    transaction_info={"transaction_id": "T-1"},
                    meter_value=energy(15, 12_500),
                ),
                suppress=False,
            )
            assert updated.id_token_info is None  # no idToken in the request
            await cp.call(
                call.TransactionEvent(
                    event_type="Ended",
                    timestamp=stamp(30),
                    trigger_reason="EVCommunicationLost",
                    seq_no=2,
                    transaction_info={"transaction_id": "T-1", "stopped_reason": "EVDisconnected"},
                    meter_value=energy(30, 15_000),
                ),
                suppress=False,
            )

    run_with_csms(scenario, CsmsConfig(db=str(db)))
    ledger = Ledger.open_readonly(db)
    [row] = ledger.transactions()
    assert (row.ocpp_version, row.station_id, row.transaction_id) == (version.label, "CS2-1", "T-1")
    assert (row.evse_id, row.connector_id, row.id_tag, row.id_tag_status) == (
        2,
        1,
        "FS42",
        "Accepted",
    )
    assert (row.meter_start_wh, row.meter_stop_wh, row.energy_wh) == (10_000, 15_000, 5_000)
    assert (row.started_at, row.stopped_at, row.stop_reason) == (
        stamp(0),
        stamp(30),
        "EVDisconnected",
    )
    assert (row.events, row.last_seq_no, row.missing_seq_nos, row.offline_events) == (3, 2, (), 0)
    assert ledger.seq_no_anomalies() == []
    assert len(ledger.meter_values(transaction_id="T-1")) == 3


@pytest.mark.parametrize("version", V2)
def test_seq_no_duplicates_gaps_and_late_arrivals_are_recorded(
    version: OcppVersion, tmp_path: Path
) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS2-SEQ", version) as station:
            for payload in (
                event("Started", 0, 0, wh=100),
                event("Updated", 1, 1, wh=200),
                event("Updated", 1, 1, wh=200),  # duplicate (a resend after a lost reply)
                event("Updated", 4, 4, wh=500, offline=True),  # 2 and 3 skipped
                event("Updated", 2, 2, wh=300, offline=True),  # 2 arrives late
                event("Ended", 5, 5, wh=600),
            ):
                reply = await station.call("TransactionEvent", payload)
                assert reply[0] == 3, reply

    run_with_csms(scenario, CsmsConfig(db=str(db)))
    ledger = Ledger.open_readonly(db)
    [row] = ledger.transactions()
    assert (row.events, row.last_seq_no, row.missing_seq_nos, row.offline_events) == (6, 5, (3,), 2)
    assert row.stop_reason == "Local"  # 2.0.1: stoppedReason omitted means Local
    kinds = [(a.kind, a.seq_no, a.expected_seq_no) for a in ledger.seq_no_anomalies()]
    assert kinds == [("duplicate", 1, 2), ("gap", 4, 2), ("late", 2, 5)]


@pytest.mark.parametrize("version", V2)
def test_meter_start_and_stop_fall_back_to_first_and_last_seen(
    version: OcppVersion, tmp_path: Path
) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS2-FB", version) as station:
            for payload in (
                event("Started", 0, 0, tx="a"),  # no register in Started
                event("Updated", 1, 10, tx="a", wh=1_000, kw=11),
                event("Updated", 2, 20, tx="a", wh=3_000),
                event("Ended", 3, 30, tx="a"),  # no register in Ended
            ):
                assert (await station.call("TransactionEvent", payload))[0] == 3

    run_with_csms(scenario, CsmsConfig(db=str(db)))
    ledger = Ledger.open_readonly(db)
    [row] = ledger.transactions()
    assert (row.meter_start_wh, row.meter_stop_wh) == (1_000, 3_000)
    power = [v for v in ledger.meter_values() if v.measurand == "Power.Active.Import"]
    assert [(v.value, v.unit) for v in power] == [(11_000, "W")]


@pytest.mark.parametrize("version", V2)
def test_late_event_after_end_updates_the_stored_transaction(
    version: OcppVersion, tmp_path: Path
) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS2-LATE", version) as station:
            await station.call("TransactionEvent", event("Started", 0, 0, tx="b", wh=0))
            await station.call("TransactionEvent", event("Ended", 2, 20, tx="b", wh=900))
            server.ledger.flush()  # the ended transaction now lives only in the ledger
            assert server.backend.open_transactions == 0
            await station.call("TransactionEvent", event("Updated", 1, 10, tx="b", wh=400))
            await station.call("TransactionEvent", event("Ended", 2, 20, tx="b", wh=900))

    run_with_csms(scenario, CsmsConfig(db=str(db)))
    ledger = Ledger.open_readonly(db)
    [row] = ledger.transactions()
    assert (row.events, row.missing_seq_nos, row.meter_stop_wh) == (4, (), 900)
    kinds = [a.kind for a in ledger.seq_no_anomalies()]
    assert kinds == ["gap", "late", "duplicate"]


@pytest.mark.parametrize("version", V2)
def test_meter_values_outside_transactions_are_kept(version: OcppVersion, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS2-MV", version) as station:
            reply = await station.call("MeterValues", {"evseId": 0, "meterValue": meter(5, wh=77)})
            assert reply == [3, reply[1], {}]

    run_with_csms(scenario, CsmsConfig(db=str(db)))
    [value] = Ledger.open_readonly(db).meter_values()
    assert (value.station_id, value.transaction_id, value.value) == ("CS2-MV", None, 77)
