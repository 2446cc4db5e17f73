"""2.0.1 monitoring (N): monitors set, reported, tripped and cleared; customer information.
Driven through the station core; every message sent is schema-checked by the harness."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from tests.station.harness import Exchange, make, session

pytestmark = pytest.mark.parametrize("v", [OcppVersion.V201, OcppVersion.V21])
POWER = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}


def booted(v: OcppVersion, sessions: tuple[Any, ...] = ()) -> Exchange:
    ex = Exchange(make(v, sessions, config=StationConfig(meter_interval_s=600,
                                                         heartbeat_interval_s=3600)))
    ex.open()
    return ex


def monitor(kind: str, value: float, severity: int = 5, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "value": value, "severity": severity, **POWER, **extra}


def events(ex: Exchange) -> list[tuple[str, bool | None]]:
    return [(e["trigger"], e.get("cleared")) for p in ex.of("NotifyEvent")
            for e in p["eventData"]]


def test_threshold_trips_while_charging_and_clears_after(v: OcppVersion) -> None:
    ex = booted(v, (session(300, 1200),))
    r = ex.csms("SetVariableMonitoring", {"setMonitoringData": [
        monitor("UpperThreshold", 1000.0),
        {**monitor("UpperThreshold", 1.0), "component": {"name": "Nope"}},
        {**monitor("Delta", 1.0), "variable": {"name": "BasicAuthPassword"},
         "component": {"name": "SecurityCtrlr"}}]})
    assert [x["status"] for x in r["setMonitoringResult"]] == [
        "Accepted", "UnknownComponent", "Rejected"]
    assert ex.st.extra is not None
    ex.run_until(2000)
    assert events(ex) == [("Alerting", False), ("Alerting", True)]  # tripped, then cleared
    ev = ex.of("NotifyEvent")[0]["eventData"][0]
    assert ev["variableMonitoringId"] == r["setMonitoringResult"][0]["id"]
    assert ev["eventNotificationType"] == "CustomMonitor" and float(ev["actualValue"]) > 1000


def test_level_filters_and_clear_removes(v: OcppVersion) -> None:
    ex = booted(v, (session(300, 1200),))
    assert ex.csms("SetMonitoringLevel", {"severity": 4}) == {"status": "Accepted"}
    r = ex.csms("SetVariableMonitoring", {"setMonitoringData": [monitor("Periodic", 120, 8)]})
    mid = r["setMonitoringResult"][0]["id"]
    ex.run_until(600)
    assert not ex.of("NotifyEvent")  # severity 8 is above level 4: not reported
    assert ex.csms("SetMonitoringLevel", {"severity": 9}) == {"status": "Accepted"}
    ex.run_until(900)
    assert events(ex) and {t for t, _ in events(ex)} == {"Periodic"}
    assert ex.csms("ClearVariableMonitoring", {"id": [mid, 999]}) == {"clearMonitoringResult": [
        {"id": mid, "status": "Accepted"}, {"id": 999, "status": "NotFound"}]}
    n = len(ex.of("NotifyEvent"))
    ex.run_until(2000)
    assert len(ex.of("NotifyEvent")) == n


def test_report_in_parts_and_monitoring_base(v: OcppVersion) -> None:
    ex = booted(v)
    assert ex.csms("GetMonitoringReport", {"requestId": 1}) == {"status": "EmptyResultSet"}
    r = ex.csms("SetVariableMonitoring", {"setMonitoringData": [
        monitor("Delta", 500.0), monitor("UpperThreshold", 7000.0)]})
    assert all(x["status"] == "Accepted" for x in r["setMonitoringResult"])
    assert ex.csms("GetMonitoringReport", {"requestId": 2, "monitoringCriteria": [
        "DeltaMonitoring"]}) == {"status": "Accepted"}
    rep = ex.of("NotifyMonitoringReport")[-1]
    assert rep["requestId"] == 2 and rep["tbc"] is False
    assert [m["type"] for m in rep["monitor"][0]["variableMonitoring"]] == ["Delta"]
    assert ex.csms("SetMonitoringBase", {"monitoringBase": "HardWiredOnly"}) == {
        "status": "Accepted"}
    assert ex.csms("GetMonitoringReport", {"requestId": 3}) == {"status": "EmptyResultSet"}


def test_customer_information_reports_and_clears(v: OcppVersion) -> None:
    ex = booted(v)
    ex.csms("SendLocalList", {"versionNumber": 1, "updateType": "Full", "localAuthorizationList": [
        {"idToken": {"idToken": "04AA", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}]})
    assert ex.csms("CustomerInformation", {"requestId": 4, "report": True, "clear": False,
                                           "idToken": {"idToken": "04AA", "type": "ISO14443"}}
                   ) == {"status": "Accepted"}
    info = ex.of("NotifyCustomerInformation")[-1]
    assert info["requestId"] == 4 and "local list: Accepted" in info["data"]
