"""OCPP 1.6: every CSMS-initiated message, driven through the station core without sockets.

Each test asserts the reply (schema-checked by the harness), the state change and
the messages the station sends afterwards (schema-checked too).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from tests.station.harness import Exchange, make, session

V16 = OcppVersion.V16


def booted(sessions: tuple[Any, ...] = (), connectors: int = 2, **cfg: Any) -> Exchange:
    config = StationConfig(meter_interval_s=60, heartbeat_interval_s=300, **cfg)
    ex = Exchange(make(V16, sessions, connectors=connectors, config=config))
    ex.open()
    return ex


def statuses(ex: Exchange, connector: int) -> list[str]:
    return [p["status"] for p in ex.of("StatusNotification") if p["connectorId"] == connector]


def test_remote_start_authorises_then_starts_and_is_timed() -> None:
    ex = booted()
    assert ex.csms("RemoteStartTransaction", {"idTag": "REMOTE01", "connectorId": 2}) == {
        "status": "Accepted"}
    assert ex.of("Authorize")[-1] == {"idTag": "REMOTE01"}
    start = ex.of("StartTransaction")[-1]
    assert start["connectorId"] == 2 and start["idTag"] == "REMOTE01"
    assert statuses(ex, 2)[-2:] == ["Preparing", "Charging"]
    assert ex.st.rec.flows["1.6/RemoteStartTransaction→StartTransaction"].count == 1


def test_remote_start_without_authorize_when_configured_off() -> None:
    ex = booted()
    assert ex.csms("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests",
                                           "value": "false"}) == {"status": "Accepted"}
    ex.csms("RemoteStartTransaction", {"idTag": "REMOTE01"})
    assert not ex.of("Authorize") and ex.of("StartTransaction")[-1]["connectorId"] == 1


def test_remote_start_rejected_on_busy_or_unavailable_connector() -> None:
    ex = booted((session(10, 3600),), connectors=1)
    ex.run_until(20)
    assert ex.csms("RemoteStartTransaction", {"idTag": "X", "connectorId": 1})["status"] == \
        "Rejected"
    ex2 = booted(connectors=1)
    ex2.csms("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert ex2.csms("RemoteStartTransaction", {"idTag": "X"})["status"] == "Rejected"


def test_remote_stop_stops_that_transaction() -> None:
    ex = booted((session(10, 3600),))
    ex.run_until(20)
    tx = ex.st.connectors[0].tx
    assert tx is not None and isinstance(tx.id, int)
    assert ex.csms("RemoteStopTransaction", {"transactionId": tx.id + 99})["status"] == "Rejected"
    assert ex.csms("RemoteStopTransaction", {"transactionId": tx.id})["status"] == "Accepted"
    stop = ex.of("StopTransaction")[-1]
    assert stop["reason"] == "Remote" and stop["transactionId"] == tx.id
    assert statuses(ex, 1)[-1] == "Finishing"  # the car is still plugged in
    ex.run_until(3700)
    assert statuses(ex, 1)[-1] == "Available"


@pytest.mark.parametrize(("kind", "reason"), [("Soft", "SoftReset"), ("Hard", "HardReset")])
def test_reset_stops_sessions_reconnects_and_boots_again(kind: str, reason: str) -> None:
    ex = booted((session(10, 3600),))
    ex.run_until(20)
    assert ex.csms("Reset", {"type": kind}) == {"status": "Accepted"}
    assert ex.of("StopTransaction")[-1]["reason"] == reason
    ex.run_until(30)
    boots = len(ex.of("BootNotification"))
    assert ex.reconnect_if_asked()
    assert len(ex.of("BootNotification")) == boots + 1 and ex.st.booted


def test_change_availability_now_or_scheduled() -> None:
    ex = booted((session(10, 3600, connector=2),))
    ex.run_until(20)
    assert ex.csms("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})[
        "status"] == "Accepted"
    assert statuses(ex, 1)[-1] == "Unavailable"
    assert ex.csms("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})[
        "status"] == "Scheduled"
    assert statuses(ex, 2)[-1] == "Charging"
    ex.run_until(3700)  # the session ends: the change applies
    assert statuses(ex, 2)[-1] == "Unavailable"
    assert ex.csms("ChangeAvailability", {"connectorId": 0, "type": "Operative"})[
        "status"] == "Accepted"
    assert statuses(ex, 1)[-1] == statuses(ex, 2)[-1] == "Available"


def test_arrival_at_unavailable_connector_balks() -> None:
    ex = booted((session(100, 3600),), connectors=1)
    ex.csms("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    ex.run_until(200)
    assert not ex.of("StartTransaction") and ex.st.rec.faults["session_balked"] == 1


def test_get_and_change_configuration() -> None:
    ex = booted()
    conf = ex.csms("GetConfiguration", {})
    keys = {k["key"]: k for k in conf["configurationKey"]}
    assert keys["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True,
                                          "value": "2"}
    assert keys["HeartbeatInterval"]["value"] == "300"
    some = ex.csms("GetConfiguration", {"key": ["MeterValueSampleInterval", "Nope"]})
    assert some["configurationKey"][0]["value"] == "60" and some["unknownKey"] == ["Nope"]
    assert ex.csms("ChangeConfiguration", {"key": "Nope", "value": "1"})["status"] == \
        "NotSupported"
    assert ex.csms("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "3"})[
        "status"] == "Rejected"
    assert ex.csms("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "ten"})[
        "status"] == "Rejected"
    assert ex.csms("ChangeConfiguration", {"key": "MeterValuesSampledData",
                                           "value": "Energy.Active.Import.Register,Bogus"})[
        "status"] == "Rejected"
    assert ex.csms("ChangeConfiguration", {"key": "LocalPreAuthorize", "value": "true"})[
        "status"] == "Accepted"
    got = ex.csms("GetConfiguration", {"key": ["LocalPreAuthorize"]})["configurationKey"][0]
    assert got["value"] == "true"


def test_heartbeat_interval_change_takes_effect() -> None:
    ex = booted()
    ex.csms("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "20"})
    t0 = ex.now
    ex.run_until(t0 + 65)
    beats = [t for t, a, _ in ex.sent if a == "Heartbeat"]
    assert len(beats) == 3 and beats[0] == pytest.approx(t0 + 20, abs=0.01)


def test_sample_interval_and_measurands_take_effect() -> None:
    ex = booted((session(10, 7200, kwh=30),), connectors=1)
    ex.csms("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "600"})
    ex.csms("ChangeConfiguration", {"key": "MeterValuesSampledData",
                                    "value": "Energy.Active.Import.Register,SoC"})
    ex.run_until(10 + 1800.5)
    meters = ex.of("MeterValues")
    assert len(meters) == 3  # every 600 s, not every 60 s
    measurands = {v["measurand"] for v in meters[0]["meterValue"][0]["sampledValue"]}
    assert measurands == {"Energy.Active.Import.Register"}  # SoC: AC cannot report it


def test_trigger_message_sends_the_message_after_the_reply() -> None:
    ex = booted((session(10, 3600),))
    ex.run_until(20)
    for what, action in [("Heartbeat", "Heartbeat"), ("StatusNotification", "StatusNotification"),
                         ("MeterValues", "MeterValues"), ("BootNotification", "BootNotification"),
                         ("FirmwareStatusNotification", "FirmwareStatusNotification"),
                         ("DiagnosticsStatusNotification", "DiagnosticsStatusNotification")]:
        n = len(ex.of(action))
        assert ex.csms("TriggerMessage", {"requestedMessage": what, "connectorId": 1}) == {
            "status": "Accepted"}
        assert len(ex.of(action)) == n + 1, what
    mv = ex.of("MeterValues")[-1]
    assert mv["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    assert "transactionId" in mv
    assert ex.csms("TriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": 7})[
        "status"] == "Rejected"


def test_unlock_connector_stops_the_transaction_first() -> None:
    ex = booted((session(10, 3600),))
    ex.run_until(20)
    assert ex.csms("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    assert ex.of("StopTransaction")[-1]["reason"] == "UnlockCommand"
    assert ex.csms("UnlockConnector", {"connectorId": 9}) == {"status": "NotSupported"}


def test_clear_cache_and_data_transfer() -> None:
    ex = booted()
    assert ex.csms("ClearCache", {}) == {"status": "Accepted"}
    assert ex.csms("DataTransfer", {"vendorId": "acme"}) == {"status": "UnknownVendorId"}


def test_reservation_is_honoured_and_expires() -> None:
    other, mine = session(100, 900, tag="0BADBAD0"), session(1000, 2000, tag="0C0FFEE0")
    ex = booted((other, mine), connectors=1)
    reply = ex.csms("ReserveNow", {"connectorId": 1, "expiryDate": "2026-01-05T00:30:00.000Z",
                                   "idTag": "0C0FFEE0", "reservationId": 7})
    assert reply == {"status": "Accepted"} and statuses(ex, 1)[-1] == "Reserved"
    ex.run_until(200)
    assert not ex.of("StartTransaction") and ex.st.rec.faults["session_balked"] == 1
    ex.run_until(1500)  # 00:25: the holder arrives and uses the reservation
    start = ex.of("StartTransaction")[-1]
    assert start["idTag"] == "0C0FFEE0" and start["reservationId"] == 7
    assert ex.csms("CancelReservation", {"reservationId": 7}) == {"status": "Rejected"}
    ex2 = booted(connectors=1)
    ex2.csms("ReserveNow", {"connectorId": 1, "expiryDate": "2026-01-05T00:10:00.000Z",
                            "idTag": "A", "reservationId": 1})
    assert ex2.csms("ReserveNow", {"connectorId": 0, "expiryDate": "2026-01-05T00:10:00.000Z",
                                   "idTag": "A", "reservationId": 2})["status"] == "Rejected"
    ex2.run_until(601)
    assert statuses(ex2, 1)[-2:] == ["Reserved", "Available"]
    ex2.csms("ReserveNow", {"connectorId": 1, "expiryDate": "2026-01-05T01:10:00.000Z",
                            "idTag": "A", "reservationId": 3})
    assert ex2.csms("CancelReservation", {"reservationId": 3}) == {"status": "Accepted"}
    assert statuses(ex2, 1)[-1] == "Available"


def test_local_list_versions() -> None:
    ex = booted()
    assert ex.csms("GetLocalListVersion", {}) == {"listVersion": 0}
    full = {"listVersion": 3, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "A", "idTagInfo": {"status": "Accepted"}}]}
    assert ex.csms("SendLocalList", full) == {"status": "Accepted"}
    assert ex.csms("GetLocalListVersion", {}) == {"listVersion": 3}
    assert ex.csms("SendLocalList", {"listVersion": 3, "updateType": "Differential"}) == {
        "status": "VersionMismatch"}
    assert ex.csms("SendLocalList", {"listVersion": 4, "updateType": "Differential",
                                     "localAuthorizationList": [{"idTag": "A"}]}) == {
        "status": "Accepted"}
    assert ex.st.extra is not None and ex.st.extra["local_list"] == (4, {})


def test_charging_profile_lowers_power_and_composite_schedule_reports_it() -> None:
    ex = booted((session(10, 7200, kwh=40),), connectors=1)
    ex.run_until(100)
    c = ex.st.connectors[0]
    assert c.power_w == pytest.approx(11_000)
    profile = {"chargingProfileId": 1, "stackLevel": 0,
               "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
               "chargingSchedule": {"chargingRateUnit": "A", "startSchedule":
                                    "2026-01-05T00:00:00.000Z", "chargingSchedulePeriod": [
                                        {"startPeriod": 0, "limit": 10},
                                        {"startPeriod": 600, "limit": 6}]}}
    assert ex.csms("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}) == {
        "status": "Accepted"}
    assert c.limit_w == pytest.approx(6900) and c.power_w == pytest.approx(6900)
    ex.run_until(700)  # the schedule's next period starts at 600 s
    assert c.power_w == pytest.approx(6 * 3 * 230)
    mv = ex.of("MeterValues")[-1]["meterValue"][0]["sampledValue"]
    assert [v["value"] for v in mv if v["measurand"] == "Power.Active.Import"] == ["4140.0"]
    comp = ex.csms("GetCompositeSchedule", {"connectorId": 1, "duration": 3600,
                                            "chargingRateUnit": "W"})
    assert comp["status"] == "Accepted"
    assert comp["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 4140.0}]
    cap = {"chargingProfileId": 2, "stackLevel": 0,
           "chargingProfilePurpose": "ChargePointMaxProfile", "chargingProfileKind": "Absolute",
           "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [
               {"startPeriod": 0, "limit": 2000}]}}
    assert ex.csms("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": cap})[
        "status"] == "Rejected"  # a max profile belongs to connector 0
    assert ex.csms("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": cap})[
        "status"] == "Accepted"
    assert c.power_w == pytest.approx(2000)
    assert ex.csms("ClearChargingProfile", {"id": 99}) == {"status": "Unknown"}
    assert ex.csms("ClearChargingProfile", {"chargingProfilePurpose": "ChargePointMaxProfile"}) \
        == {"status": "Accepted"}
    assert c.power_w == pytest.approx(4140)
    assert ex.csms("ClearChargingProfile", {}) == {"status": "Accepted"}
    assert c.limit_w is None and c.power_w == pytest.approx(11_000)


def test_tx_profile_needs_a_transaction() -> None:
    ex = booted(connectors=1)
    tx_profile = {"chargingProfileId": 5, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                  "chargingProfileKind": "Relative", "chargingSchedule": {
                      "chargingRateUnit": "W", "chargingSchedulePeriod": [
                          {"startPeriod": 0, "limit": 3000}]}}
    assert ex.csms("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": tx_profile})[
        "status"] == "Rejected"
    assert ex.csms("RemoteStartTransaction", {"idTag": "R", "chargingProfile": tx_profile})[
        "status"] == "Accepted"
    assert ex.st.connectors[0].power_w == pytest.approx(3000)
    ex.csms("RemoteStopTransaction", {"transactionId": ex.st.connectors[0].tx.id})  # type: ignore[union-attr]
    assert ex.st.limits is not None and not ex.st.limits.profiles  # gone with its transaction


def test_firmware_update_walks_its_statuses_then_reboots() -> None:
    ex = booted(connectors=1)
    assert ex.csms("UpdateFirmware", {"location": "https://example.com/fw.bin",
                                      "retrieveDate": "2026-01-05T00:01:00.000Z"}) == {}
    ex.run_until(60 + 4 * 60)
    assert [p["status"] for p in ex.of("FirmwareStatusNotification")] == [
        "Downloading", "Downloaded", "Installing", "Installed"]
    assert ex.reconnect_if_asked()
    assert ex.of("BootNotification")[-1]["firmwareVersion"] == "0.1.0+upd"


def test_get_diagnostics_uploads() -> None:
    ex = booted()
    reply = ex.csms("GetDiagnostics", {"location": "ftp://example.com/"})
    assert reply["fileName"] == "diagnostics-T000001.log"
    ex.run_until(ex.now + 120)
    assert [p["status"] for p in ex.of("DiagnosticsStatusNotification")] == [
        "Uploading", "Uploaded"]


def test_unknown_and_unsupported_actions_get_the_spec_errors() -> None:
    ex = booted()
    ex.st.on_frame(b'[2,"z1","FooBar",{}]', ex.now)
    ex.st.on_frame(b'[2,"z2","Heartbeat",{}]', ex.now)  # a station's message: known, unsupported
    ex.st.on_frame(b'[2,"z3","Reset",{"type":"Sideways"}]', ex.now)
    codes = [f[1:3] for f in (orjson.loads(x) for x in ex.st.out)]
    assert [c[0] for c in codes] == ["z1", "z2", "z3"]
    assert [c[1] for c in codes] == ["NotImplemented", "NotSupported",
                                     "PropertyConstraintViolation"]
    assert ex.st.rec.faults["unsupported_call"] == 2
    assert ex.st.rec.incoming["1.6/FooBar"] == 1
