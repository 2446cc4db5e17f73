"""OCPP 2.1 V2X and DER control on one station core; every frame both ways is schema-checked."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig, StationCore
from tests.station.harness import Exchange, make, session

V21 = OcppVersion.V21


def station(share: float = 1.0) -> tuple[StationCore, Exchange]:
    cfg = StationConfig(meter_interval_s=60, heartbeat_interval_s=3600, v2x_share=share)
    car = replace(session(10, 4 * 3600, kwh=30), soc_start=0.7)  # well above its 0.3 reserve
    st = make(V21, (car,), config=cfg)
    ex = Exchange(st)
    ex.open()
    ex.run_until(120)
    return st, ex


def readings(ex: Exchange, measurand: str) -> list[float]:
    return [sv["value"] for p in ex.of("TransactionEvent") for mv in p.get("meterValue", ())
            for sv in mv["sampledValue"] if sv["measurand"] == measurand]


def setpoint(ex: Exchange, watts: float) -> Any:
    return ex.csms("SetChargingProfile", {"evseId": 0, "chargingProfile": {
        "id": 7, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": [{
            "id": 1, "chargingRateUnit": "W", "startSchedule": ex.st.clock.iso(ex.now),
            "chargingSchedulePeriod": [{"startPeriod": 0, "operationMode": "CentralSetpoint",
                                        "setpoint": watts}]}]}})


def test_a_negative_setpoint_discharges_a_v2x_car_into_the_export_register() -> None:
    st, ex = station()
    t0 = ex.now
    assert setpoint(ex, -5000)["status"] == "Accepted"
    ex.run_until(1920)
    c = st.connectors[0]
    st.advance(c, ex.now)
    assert c.power_w == -5000.0
    assert abs(c.export_wh - 5000 * (ex.now - t0) / 3600) < 0.01  # exact: 5 kW since t0
    export = readings(ex, "Energy.Active.Export.Register")
    assert export[0] == 0 and export == sorted(export) and export[-1] > 2000
    assert min(readings(ex, "Power.Active.Import")) == -5000.0  # the interval's mean
    st.stop(ex.now)
    ex.pump()
    rec = st.finished_sessions[-1]
    assert rec["export_stop_wh"] - rec["export_start_wh"] == int(c.export_wh)


def test_a_car_that_cannot_discharge_only_stops_drawing() -> None:
    st, ex = station(share=0.0)
    setpoint(ex, -5000)
    ex.run_until(1920)
    assert st.connectors[0].power_w == 0.0 and st.connectors[0].export_wh == 0
    assert not readings(ex, "Energy.Active.Export.Register")


def test_der_controls_set_report_limit_trip_and_clear() -> None:
    st, ex = station()
    stamp = st.clock.iso(ex.now)
    r = ex.csms("SetDERControl", {"isDefault": False, "controlId": "cap", "controlType":
                                  "LimitMaxDischarge", "limitMaxDischarge": {
                                      "priority": 0, "pctMaxDischargePower": 20,
                                      "startTime": stamp, "duration": 3600}})
    assert r["status"] == "Accepted"
    assert ex.of("NotifyDERStartStop")[-1]["started"] is True
    setpoint(ex, -5000)
    ex.run_until(600)
    assert st.connectors[0].power_w == -2200.0  # 20 % of the car's 11 kW rating
    assert ex.csms("GetDERControl", {"requestId": 4})["status"] == "Accepted"
    report = ex.of("ReportDERControl")[-1]
    assert report["requestId"] == 4 and report["limitMaxDischarge"][0]["id"] == "cap"
    # a must-trip curve below nominal voltage trips the station at once
    ex.csms("SetDERControl", {"isDefault": False, "controlId": "trip", "controlType": "HVMustTrip",
                              "curve": {"priority": 0, "yUnit": "Not_Applicable",
                                        "startTime": stamp, "duration": 600,
                                        "curveData": [{"x": 95, "y": 0}]}})
    assert ex.of("NotifyDERAlarm")[-1]["gridEventFault"] == "OverVoltage"
    ex.run_until(700)
    assert st.connectors[0].power_w == 0.0
    r = ex.csms("ClearDERControl", {"isDefault": False, "controlType": "HVMustTrip"})
    assert r["status"] == "Accepted" and ex.of("NotifyDERAlarm")[-1]["alarmEnded"] is True
    ex.run_until(3800)  # the cap's hour is over: it stops by itself
    last = ex.of("NotifyDERStartStop")[-1]
    assert last == {"controlId": "cap", "started": False, "timestamp": last["timestamp"]}
    assert st.connectors[0].power_w == -5000.0
    assert ex.csms("GetDERControl", {"requestId": 5})["status"] == "NotFound"


def test_afrr_signal_moves_the_power_and_needs_a_v2x_car_to_export() -> None:
    st, ex = station()
    r = ex.csms("AFRRSignal", {"timestamp": st.clock.iso(ex.now), "signal": -50})
    assert r["status"] == "Accepted"
    ex.run_until(300)
    assert st.connectors[0].power_w == -5500.0  # half the station's 11 kW, exported
    ex.run_until(1200)  # the activation held AFRR_HOLD_S = 900 s, then charging resumes
    assert st.connectors[0].power_w > 0
    _, ex2 = station(share=0.0)
    assert ex2.csms("AFRRSignal", {"timestamp": "2026-01-05T00:05:00Z",
                                   "signal": -50})["status"] == "Rejected"


def test_after_a_discharge_the_car_charges_back_to_its_target_and_time_moves_on() -> None:
    cfg = StationConfig(meter_interval_s=60, heartbeat_interval_s=3600, v2x_share=1.0)
    car = replace(session(10, 4 * 3600, kwh=5), soc_start=0.7)  # full after ~30 min
    st = make(V21, (car,), config=cfg)
    ex = Exchange(st)
    ex.open()
    ex.run_until(3600)
    c = st.connectors[0]
    assert c.full
    setpoint(ex, -11000)  # exports for good: then the profile is cleared
    ex.run_until(3600 + 900)
    ex.csms("ClearChargingProfile", {"chargingProfileId": 7})
    # the car wants its 5 kWh target back; its delivered energy says "done" already, which
    # once made the station re-check "full" at the same instant forever
    ex.run_until(4 * 3600 - 60)
    assert c.export_wh > 2700 and c.full and c.delivered_wh > 5000 + 2700
