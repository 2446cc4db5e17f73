"""OCPP 1.6 transactions end to end: StartTransaction, MeterValues, StopTransaction → ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocpp.v16 import call

from fleetsim.csms import CsmsConfig, CsmsServer, Ledger
from fleetsim.csms.versions import OcppVersion

from .clients import boot, ocpp_station, run_with_csms

V16 = OcppVersion.V16


def sample(value: str, measurand: str | None = None, unit: str | None = None) -> dict[str, Any]:
    out = {"value": value}
    if measurand:
        out["measurand"] = measurand
    if unit:
        out["unit"] = unit
    return out


def test_full_transaction_lands_in_the_ledger(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> None:
        async with ocpp_station(server.url, "CS16-1", V16) as cp:
            await boot(cp, V16)
            start = await cp.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="FS01",
                    meter_start=1200,
                    timestamp="2026-01-01T10:00:00Z",
                ),
                suppress=False,
            )
            assert start.id_tag_info == {"status": "Accepted"}
            tx = start.transaction_id
            meter = [
                {
                    "timestamp": "2026-01-01T10:30:00Z",
                    "sampledValue": [
                        sample("2.2", unit="kWh"),  # default measurand: the energy register
                        sample("7.4", "Power.Active.Import", "kW"),
                        sample("230", "Voltage", "V"),  # not kept
                    ],
                }
            ]
            await cp.call(
                call.MeterValues(connector_id=1, transaction_id=tx, meter_value=meter),
                suppress=False,
            )
            stop = await cp.call(
                call.StopTransaction(
                    meter_stop=4200,
                    timestamp="2026-01-01T11:00:00Z",
                    transaction_id=tx,
                    reason="EVDisconnected",
                    id_tag="FS01",
                    transaction_data=[
                        {"timestamp": "2026-01-01T11:00:00Z", "sampledValue": [sample("4200")]}
                    ],
                ),
                suppress=False,
            )
            assert stop.id_tag_info == {"status": "Accepted"}

    run_with_csms(scenario, CsmsConfig(db=str(db)))
    ledger = Ledger.open_readonly(db)
    [row] = ledger.transactions()
    assert row.ocpp_version == "1.6"
    assert (row.station_id, row.connector_id, row.id_tag, row.id_tag_status) == (
        "CS16-1",
        1,
        "FS01",
        "Accepted",
    )
    assert (row.meter_start_wh, row.meter_stop_wh, row.energy_wh) == (1200, 4200, 3000)
    assert (row.started_at, row.stopped_at) == ("2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z")
    assert row.stop_reason == "EVDisconnected"
    assert row.events == 3  # start, one MeterValues, stop
    values = [(v.measurand, v.value, v.unit) for v in ledger.meter_values(transaction_id="1")]
    assert values == [
        ("Energy.Active.Import.Register", 2200.0, "Wh"),
        ("Power.Active.Import", 7400.0, "W"),
        ("Energy.Active.Import.Register", 4200.0, "Wh"),
    ]
    totals = ledger.action_totals()
    assert totals["StartTransaction"] == totals["StopTransaction"] == totals["MeterValues"] == 1


def test_transaction_ids_are_fresh_and_increasing_across_stations(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"

    async def start(cp: Any, id_tag: str) -> Any:
        return await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag=id_tag, meter_start=0, timestamp="2026-01-01T10:00:00Z"
            ),
            suppress=False,
        )

    async def scenario(server: CsmsServer) -> list[int]:
        ids = []
        async with (
            ocpp_station(server.url, "CS16-A", V16) as a,
            ocpp_station(server.url, "CS16-B", V16) as b,
        ):
            for cp in (a, b, a, b):
                result = await start(cp, "UNKNOWN")
                # 1.6 §6.46: an id is issued even when the idTag is not accepted.
                assert result.id_tag_info["status"] == "Invalid"
                ids.append(result.transaction_id)
        return ids

    ids = run_with_csms(scenario, CsmsConfig(db=str(db)))
    assert ids == sorted(ids) and len(set(ids)) == 4
    # A CSMS restarted on the same ledger continues the sequence.
    again = run_with_csms(scenario, CsmsConfig(db=str(db)))
    assert min(again) > max(ids)


def test_stop_of_unknown_transaction_is_recorded_without_start(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> None:
        async with ocpp_station(server.url, "CS16-U", V16) as cp:
            stop = await cp.call(
                call.StopTransaction(
                    meter_stop=10, timestamp="2026-01-01T11:00:00Z", transaction_id=999
                ),
                suppress=False,
            )
            assert stop.id_tag_info is None  # no idTag in the request, none in the answer

    run_with_csms(scenario, CsmsConfig(db=str(db)))
    [row] = Ledger.open_readonly(db).transactions()
    assert (row.transaction_id, row.meter_start_wh, row.meter_stop_wh) == ("999", None, 10)
    assert row.stop_reason == "Local"  # 1.6: an absent reason means Local
