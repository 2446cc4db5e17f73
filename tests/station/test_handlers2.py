"""OCPP 2.0.1 and 2.1: every CSMS-initiated message, driven through the station core.

Replies are schema-checked against the official response schemas by the
harness; so is everything the station sends afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from tests.station.harness import Exchange, make, session

VERSIONS = [OcppVersion.V201, OcppVersion.V21]
pytestmark = pytest.mark.parametrize("v", VERSIONS)


def booted(v: OcppVersion, sessions: tuple[Any, ...] = (), connectors: int = 2,
           **cfg: Any) -> Exchange:
    config = StationConfig(meter_interval_s=60, heartbeat_interval_s=300, **cfg)
    ex = Exchange(make(v, sessions, connectors=connectors, config=config))
    ex.open()
    return ex


def statuses(ex: Exchange, evse: int) -> list[str]:
    return [p["connectorStatus"] for p in ex.of("StatusNotification") if p["evseId"] == evse]


def events(ex: Exchange) -> list[tuple[str, str]]:
    return [(e["eventType"], e["triggerReason"]) for e in ex.of("TransactionEvent")]


def comp(name: str, evse: int | None = None) -> dict[str, Any]:
    return {"name": name} | ({} if evse is None else {"evse": {"id": evse}})


def test_request_start_opens_a_remote_transaction_and_is_timed(v: OcppVersion) -> None:
    ex = booted(v)
    reply = ex.csms("RequestStartTransaction", {"idToken": {"idToken": "R1", "type": "Central"},
                                                "remoteStartId": 42, "evseId": 2})
    assert reply == {"status": "Accepted"}
    started = ex.of("TransactionEvent")[0]
    assert started["triggerReason"] == "RemoteStart" and started["evse"]["id"] == 2
    assert started["transactionInfo"]["remoteStartId"] == 42
    assert ex.of("Authorize")[-1]["idToken"]["idToken"] == "R1"
    assert events(ex)[1] == ("Updated", "Authorized")
    assert ex.st.rec.flows[f"{v.value}/RequestStartTransaction→TransactionEvent"].count == 1
    assert ex.csms("RequestStartTransaction", {"idToken": {"idToken": "R2", "type": "Central"},
                                               "remoteStartId": 43, "evseId": 2})[
        "status"] == "Rejected"  # busy


def test_request_stop(v: OcppVersion) -> None:
    ex = booted(v, (session(10, 3600),))
    ex.run_until(20)
    assert ex.csms("RequestStopTransaction", {"transactionId": "nope"}) == {"status": "Rejected"}
    assert ex.csms("RequestStopTransaction", {"transactionId": "tx-1"}) == {"status": "Accepted"}
    ended = ex.of("TransactionEvent")[-1]
    assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "RemoteStop")
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"


def test_reset_immediate_and_on_idle(v: OcppVersion) -> None:
    ex = booted(v, (session(10, 3600),))
    ex.run_until(20)
    assert ex.csms("Reset", {"type": "OnIdle"}) == {"status": "Scheduled"}
    assert ex.st.reconnect_after is None
    ex.run_until(3700)  # the session ends: now it resets
    assert ex.reconnect_if_asked()
    assert ex.of("BootNotification")[-1]["reason"] == "RemoteReset"
    ex.run_until(4000)
    ex2 = booted(v, (session(10, 3600),))
    ex2.run_until(20)
    assert ex2.csms("Reset", {"type": "Immediate"}) == {"status": "Accepted"}
    ended = ex2.of("TransactionEvent")[-1]
    assert ended["triggerReason"] == "ResetCommand"
    assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset"
    ex2.run_until(30)
    assert ex2.reconnect_if_asked() and ex2.st.booted


def test_change_availability(v: OcppVersion) -> None:
    ex = booted(v, (session(10, 3600, connector=2),))
    ex.run_until(20)
    assert ex.csms("ChangeAvailability", {"operationalStatus": "Inoperative",
                                          "evse": {"id": 1}}) == {"status": "Accepted"}
    assert statuses(ex, 1)[-1] == "Unavailable"
    assert ex.csms("ChangeAvailability", {"operationalStatus": "Inoperative"}) == {
        "status": "Scheduled"}
    ex.run_until(3700)
    assert statuses(ex, 2)[-1] == "Unavailable"
    ex.csms("ChangeAvailability", {"operationalStatus": "Operative"})
    assert statuses(ex, 1)[-1] == statuses(ex, 2)[-1] == "Available"


def test_get_and_set_variables(v: OcppVersion) -> None:
    ex = booted(v)
    hb = {"component": comp("OCPPCommCtrlr"), "variable": {"name": "HeartbeatInterval"}}
    got = ex.csms("GetVariables", {"getVariableData": [
        hb, {"component": comp("Nope"), "variable": {"name": "X"}},
        {"component": comp("OCPPCommCtrlr"), "variable": {"name": "Nope"}},
        {**hb, "attributeType": "MaxSet"},
        {"component": comp("EVSE", 2), "variable": {"name": "AvailabilityState"}}]})
    res = got["getVariableResult"]
    assert [r["attributeStatus"] for r in res] == [
        "Accepted", "UnknownComponent", "UnknownVariable", "NotSupportedAttributeType",
        "Accepted"]
    assert res[0]["attributeValue"] == "300" and res[4]["attributeValue"] == "Available"
    setr = ex.csms("SetVariables", {"setVariableData": [
        {**hb, "attributeValue": "30"},
        {"component": comp("SampledDataCtrlr"), "variable": {"name": "TxUpdatedInterval"},
         "attributeValue": "120"},
        {"component": comp("TxCtrlr"), "variable": {"name": "TxStartPoint"},
         "attributeValue": "Authorized"},
        {"component": comp("AuthCtrlr"), "variable": {"name": "AuthorizeRemoteStart"},
         "attributeValue": "maybe"}]})
    assert [r["attributeStatus"] for r in setr["setVariableResult"]] == [
        "Accepted", "Accepted", "Rejected", "Rejected"]
    assert ex.st.meter_interval_s == 120
    t0 = ex.now
    ex.run_until(t0 + 61)
    assert len([a for t, a, _ in ex.sent if a == "Heartbeat" and t > t0]) == 2


def test_base_report_is_sent_in_parts(v: OcppVersion) -> None:
    ex = booted(v)
    assert ex.csms("GetBaseReport", {"requestId": 5, "reportBase": "FullInventory"}) == {
        "status": "Accepted"}
    parts = ex.of("NotifyReport")
    assert len(parts) > 1 and [p["seqNo"] for p in parts] == list(range(len(parts)))
    assert [p["tbc"] for p in parts] == [True] * (len(parts) - 1) + [False]
    names = {(d["component"]["name"], d["variable"]["name"]) for p in parts
             for d in p["reportData"]}
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in names and ("EVSE", "Power") in names
    n = len(parts)
    assert ex.csms("GetBaseReport", {"requestId": 6, "reportBase": "ConfigurationInventory"})[
        "status"] == "Accepted"
    writable = [d for p in ex.of("NotifyReport")[n:] for d in p["reportData"]]
    assert all(d["variableAttribute"][0]["mutability"] == "ReadWrite" for d in writable)


def test_get_report_filters(v: OcppVersion) -> None:
    ex = booted(v)
    assert ex.csms("GetReport", {"requestId": 1, "componentVariable": [
        {"component": comp("Nope")}]}) == {"status": "EmptyResultSet"}
    assert ex.csms("GetReport", {"requestId": 2, "componentVariable": [
        {"component": comp("EVSE", 1), "variable": {"name": "Power"}}]}) == {
        "status": "Accepted"}
    data = ex.of("NotifyReport")[-1]["reportData"]
    assert len(data) == 1 and data[0]["component"]["evse"]["id"] == 1


def test_trigger_message(v: OcppVersion) -> None:
    ex = booted(v, (session(10, 3600),))
    ex.run_until(20)
    for what, action in [("Heartbeat", "Heartbeat"), ("StatusNotification", "StatusNotification"),
                         ("MeterValues", "MeterValues"), ("TransactionEvent", "TransactionEvent"),
                         ("FirmwareStatusNotification", "FirmwareStatusNotification"),
                         ("LogStatusNotification", "LogStatusNotification")]:
        n = len(ex.of(action))
        assert ex.csms("TriggerMessage", {"requestedMessage": what, "evse": {"id": 1}}) == {
            "status": "Accepted"}, what
        assert len(ex.of(action)) == n + 1, what
    assert ex.of("TransactionEvent")[-1]["triggerReason"] == "Trigger"
    assert ex.csms("TriggerMessage", {"requestedMessage": "BootNotification"}) == {
        "status": "Rejected"}  # F06.FR.17
    assert ex.csms("TriggerMessage", {"requestedMessage": "SignV2GCertificate"}) == {
        "status": "Accepted"}  # A03 (M): a CSR for the V2G certificate follows
    assert ex.of("SignCertificate")[-1]["certificateType"] == "V2GCertificate"
    assert ex.csms("TriggerMessage", {"requestedMessage": "PublishFirmwareStatusNotification"}) \
        == {"status": "NotImplemented"}


def test_unlock_cache_data_transfer(v: OcppVersion) -> None:
    ex = booted(v, (session(10, 3600),))
    ex.run_until(20)
    assert ex.csms("UnlockConnector", {"evseId": 1, "connectorId": 1}) == {
        "status": "OngoingAuthorizedTransaction"}
    assert ex.csms("UnlockConnector", {"evseId": 2, "connectorId": 1}) == {"status": "Unlocked"}
    assert ex.csms("UnlockConnector", {"evseId": 3, "connectorId": 1}) == {
        "status": "UnknownConnector"}
    assert ex.csms("ClearCache", {}) == {"status": "Accepted"}
    assert ex.csms("DataTransfer", {"vendorId": "acme"}) == {"status": "UnknownVendorId"}


def test_reservations(v: OcppVersion) -> None:
    other, mine = session(100, 900, tag="0BADBAD0"), session(1000, 2000, tag="0C0FFEE0")
    ex = booted(v, (other, mine), connectors=1)
    assert ex.csms("ReserveNow", {"id": 9, "expiryDateTime": "2026-01-05T00:30:00.000Z",
                                  "idToken": {"idToken": "0C0FFEE0", "type": "ISO14443"},
                                  "evseId": 1}) == {"status": "Accepted"}
    assert statuses(ex, 1)[-1] == "Reserved"
    ex.run_until(1500)
    started = ex.of("TransactionEvent")[0]
    assert started["reservationId"] == 9 and ex.st.rec.faults["session_balked"] == 1
    ex2 = booted(v, connectors=1)
    ex2.csms("ReserveNow", {"id": 1, "expiryDateTime": "2026-01-05T00:05:00.000Z",
                            "idToken": {"idToken": "A", "type": "Central"}})
    ex2.run_until(301)
    assert ex2.of("ReservationStatusUpdate") == [{"reservationId": 1,
                                                  "reservationUpdateStatus": "Expired"}]
    assert ex2.csms("CancelReservation", {"reservationId": 1}) == {"status": "Rejected"}


def test_local_list(v: OcppVersion) -> None:
    ex = booted(v)
    assert ex.csms("GetLocalListVersion", {}) == {"versionNumber": 0}
    assert ex.csms("SendLocalList", {"versionNumber": 2, "updateType": "Full",
                                     "localAuthorizationList": [{
                                         "idToken": {"idToken": "A", "type": "Central"},
                                         "idTokenInfo": {"status": "Accepted"}}]}) == {
        "status": "Accepted"}
    assert ex.csms("SendLocalList", {"versionNumber": 1, "updateType": "Differential"}) == {
        "status": "VersionMismatch"}
    assert ex.csms("GetLocalListVersion", {}) == {"versionNumber": 2}


def _profile(pid: int, purpose: str, limit: float, unit: str = "W", **extra: Any) -> dict[str, Any]:
    return {"id": pid, "stackLevel": 0, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute", **extra, "chargingSchedule": [{
                "id": pid, "chargingRateUnit": unit, "startSchedule": "2026-01-05T00:00:00.000Z",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}]}


def test_smart_charging_messages(v: OcppVersion) -> None:
    ex = booted(v, (session(10, 7200, kwh=40),), connectors=1)
    ex.run_until(100)
    c = ex.st.connectors[0]
    assert ex.csms("SetChargingProfile", {"evseId": 1, "chargingProfile": _profile(
        1, "TxDefaultProfile", 8, "A")}) == {"status": "Accepted"}
    assert c.power_w == pytest.approx(8 * 3 * 230)
    assert ex.csms("SetChargingProfile", {"evseId": 1, "chargingProfile": _profile(
        2, "TxProfile", 3000, transactionId="other")}) == {"status": "Rejected"}
    assert ex.csms("SetChargingProfile", {"evseId": 1, "chargingProfile": _profile(
        2, "TxProfile", 3000, transactionId="tx-1")}) == {"status": "Accepted"}
    assert c.power_w == pytest.approx(3000)
    assert ex.csms("SetChargingProfile", {"evseId": 0, "chargingProfile": _profile(
        3, "ChargingStationMaxProfile", 2500)}) == {"status": "Accepted"}
    assert c.power_w == pytest.approx(2500)
    comp_ = ex.csms("GetCompositeSchedule", {"duration": 600, "evseId": 1,
                                             "chargingRateUnit": "W"})
    assert comp_["schedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 2500.0}]
    assert ex.csms("GetChargingProfiles", {"requestId": 7, "chargingProfile": {}}) == {
        "status": "Accepted"}
    reports = ex.of("ReportChargingProfiles")
    assert [r["evseId"] for r in reports] == [0, 1] and reports[-1]["tbc"] is False
    assert sum(len(r["chargingProfile"]) for r in reports) == 3
    assert ex.csms("GetChargingProfiles", {"requestId": 8, "chargingProfile": {
        "stackLevel": 5}}) == {"status": "NoProfiles"}
    assert ex.csms("ClearChargingProfile", {"chargingProfileId": 3}) == {"status": "Accepted"}
    assert c.power_w == pytest.approx(3000)
    assert ex.csms("ClearChargingProfile", {"chargingProfileCriteria": {
        "chargingProfilePurpose": "TxProfile"}}) == {"status": "Accepted"}
    assert ex.csms("ClearChargingProfile", {"chargingProfileId": 3}) == {"status": "Unknown"}
    assert c.power_w == pytest.approx(8 * 3 * 230)


def test_firmware_and_log(v: OcppVersion) -> None:
    ex = booted(v, connectors=1)
    assert ex.csms("UpdateFirmware", {"requestId": 3, "firmware": {
        "location": "https://example.com/fw", "retrieveDateTime": "2026-01-05T00:00:00.000Z"}}) \
        == {"status": "Accepted"}
    ex.run_until(ex.now + 4 * 60)
    assert [p["status"] for p in ex.of("FirmwareStatusNotification")] == [
        "Downloading", "Downloaded", "Installing", "InstallRebooting"]
    assert ex.reconnect_if_asked()
    assert ex.of("BootNotification")[-1]["reason"] == "FirmwareUpdate"
    assert ex.of("FirmwareStatusNotification")[-1] == {"status": "Installed", "requestId": 3}
    reply = ex.csms("GetLog", {"logType": "DiagnosticsLog", "requestId": 4,
                               "log": {"remoteLocation": "https://example.com/up"}})
    assert reply["status"] == "Accepted"
    ex.run_until(ex.now + 120)
    assert [p["status"] for p in ex.of("LogStatusNotification")] == ["Uploading", "Uploaded"]


def test_display_messages(v: OcppVersion) -> None:
    ex = booted(v)
    msg = {"id": 1, "priority": "NormalCycle",
           "message": {"format": "UTF8", "content": "Welcome"}}
    assert ex.csms("SetDisplayMessage", {"message": msg}) == {"status": "Accepted"}
    assert ex.csms("SetDisplayMessage", {"message": {**msg, "id": 2, "message": {
        "format": "HTML", "content": "<b>x</b>"}}}) == {"status": "NotSupportedMessageFormat"}
    assert ex.csms("SetDisplayMessage", {"message": {**msg, "id": 3, "transactionId": "zz"}}) == \
        {"status": "UnknownTransaction"}
    assert ex.csms("GetDisplayMessages", {"requestId": 9}) == {"status": "Accepted"}
    assert ex.of("NotifyDisplayMessages")[-1]["messageInfo"][0]["id"] == 1
    assert ex.csms("GetDisplayMessages", {"requestId": 10, "priority": "AlwaysFront"}) == {
        "status": "Unknown"}
    assert ex.csms("ClearDisplayMessage", {"id": 1}) == {"status": "Accepted"}
    assert ex.csms("ClearDisplayMessage", {"id": 1}) == {"status": "Unknown"}


def test_cost_and_transaction_status(v: OcppVersion) -> None:
    ex = booted(v, (session(10, 3600),))
    ex.run_until(20)
    assert ex.csms("CostUpdated", {"totalCost": 1.25, "transactionId": "tx-1"}) == {}
    assert ex.csms("GetTransactionStatus", {"transactionId": "tx-1"}) == {
        "messagesInQueue": False, "ongoingIndicator": True}
    assert ex.csms("GetTransactionStatus", {}) == {"messagesInQueue": False}


def test_unknown_action_is_not_implemented(v: OcppVersion) -> None:
    ex = booted(v)
    reply = ex.csms("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {
        "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": "wss://x",
        "messageTimeout": 30, "securityProfile": 1, "ocppInterface": "Wired0"}})
    assert reply[2] == "NotSupported"
    ex.st.on_frame(b'[2,"q","NoSuchThing",{}]', ex.now)
    assert b'"NotImplemented"' in ex.st.out[-1]
