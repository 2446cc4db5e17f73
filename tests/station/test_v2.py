"""OCPP 2.0.1 and 2.1 station core, driven message by message without sockets."""

from __future__ import annotations

import pytest

from fleetsim.scenario.model import OcppVersion
from tests.station.harness import Exchange, default_answer, make, session

VERSIONS = [OcppVersion.V201, OcppVersion.V21]


@pytest.mark.parametrize("version", VERSIONS)
def test_boot_then_status_per_evse(version: OcppVersion) -> None:
    ex = Exchange(make(version, connectors=2))
    ex.open()
    assert ex.actions() == ["BootNotification", "StatusNotification", "StatusNotification"]
    assert [(p["evseId"], p["connectorId"], p["connectorStatus"])
            for p in ex.of("StatusNotification")] == [(1, 1, "Available"), (2, 1, "Available")]
    assert ex.of("BootNotification")[0]["reason"] == "PowerUp"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("status", ["Pending", "Rejected"])
def test_boot_retry(version: OcppVersion, status: str) -> None:
    replies = iter([{"status": status, "currentTime": "2026-01-05T00:00:00Z", "interval": 20},
                    {"status": "Accepted", "currentTime": "2026-01-05T00:00:00Z",
                     "interval": 300}])
    base = default_answer(version)
    ex = Exchange(make(version), lambda a, p: next(replies) if a == "BootNotification"
                  else base(a, p))
    ex.open()
    ex.run_until(19.9)
    assert ex.actions() == ["BootNotification"]
    ex.run_until(21)
    assert ex.actions()[:3] == ["BootNotification", "BootNotification", "StatusNotification"]


@pytest.mark.parametrize("version", VERSIONS)
def test_full_transaction_seq_no_and_meter(version: OcppVersion) -> None:
    ex = Exchange(make(version, (session(100, 100 + 2 * 3600, kwh=15),)))
    ex.open()
    ex.run_until(3 * 3600)
    events = ex.of("TransactionEvent")
    kinds = [(e["eventType"], e["triggerReason"]) for e in events]
    assert kinds[0] == ("Started", "CablePluggedIn")
    assert kinds[1] == ("Updated", "Authorized")
    assert ("Updated", "MeterValuePeriodic") in kinds
    assert ("Updated", "ChargingStateChanged") in kinds  # 15 kWh at 11 kW: full before leaving
    assert kinds[-1] == ("Ended", "EVDeparted")
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert {e["transactionInfo"]["transactionId"] for e in events} == {"tx-1"}
    assert events[-1]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    regs = [v["value"] for e in events for mv in e.get("meterValue", [])
            for v in mv["sampledValue"] if v["measurand"] == "Energy.Active.Import.Register"]
    assert regs == sorted(regs) and regs[-1] - regs[0] == 15_000
    statuses = [p["connectorStatus"] for p in ex.of("StatusNotification")]
    assert statuses == ["Available", "Occupied", "Available"]
    assert ex.of("Authorize")[0]["idToken"] == {"idToken": "04A1B2C3", "type": "ISO14443"}


@pytest.mark.parametrize("version", VERSIONS)
def test_deauthorised_token_ends_transaction(version: OcppVersion) -> None:
    base = default_answer(version)
    ex = Exchange(make(version, (session(10, 3600),)),
                  lambda a, p: {"idTokenInfo": {"status": "Invalid"}} if a == "Authorize"
                  else base(a, p))
    ex.open()
    ex.run_until(4000)
    events = ex.of("TransactionEvent")
    assert [e["eventType"] for e in events] == ["Started", "Ended"]
    assert events[-1]["transactionInfo"]["stoppedReason"] == "DeAuthorized"
    assert ex.of("StatusNotification")[-1]["connectorStatus"] == "Available"


@pytest.mark.parametrize("version", VERSIONS)
def test_timestamps_are_utc_with_millisecond_precision(version: OcppVersion) -> None:
    ex = Exchange(make(version, (session(10.1234, 3600),)))
    ex.open()
    ex.run_until(4000)
    stamps = [e["timestamp"] for e in ex.of("TransactionEvent")]
    assert stamps and all(len(s) == 24 and s.endswith("Z") and s[19] == "." for s in stamps)
    assert stamps[0] == "2026-01-05T00:00:10.123Z"
