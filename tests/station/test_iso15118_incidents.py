"""ISO 15118 / Plug & Charge messages and background incidents, through the station core;
every message sent is checked against its version's official schema by the harness."""

from __future__ import annotations

import pytest

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig, iso15118
from tests.station.harness import Exchange, make, session


@pytest.mark.parametrize("v", [OcppVersion.V201, OcppVersion.V21])
def test_pnc_car_sends_needs_schedule_certificate_checks_and_authorizes_with_hash_data(
        monkeypatch: pytest.MonkeyPatch, v: OcppVersion) -> None:
    monkeypatch.setattr(iso15118, "INSTALL_SHARE", 1.0)
    cfg = StationConfig(meter_interval_s=600, heartbeat_interval_s=3600, iso15118_share=1.0,
                        pnc_share=1.0)
    ex = Exchange(make(v, (session(100, 900),), config=cfg))  # schema-checked per version
    ex.open()
    ex.run_until(200)
    acts = ex.actions()
    order = [a for a in acts if a in ("NotifyEVChargingNeeds", "NotifyEVChargingSchedule",
                                      "Get15118EVCertificate", "GetCertificateStatus",
                                      "Authorize")]
    assert order == ["NotifyEVChargingNeeds", "NotifyEVChargingSchedule",
                     "Get15118EVCertificate", "GetCertificateStatus", "Authorize"]
    auth = ex.of("Authorize")[0]
    assert auth["idToken"]["type"] == "eMAID"
    assert auth["iso15118CertificateHashData"][0] == ex.of(
        "GetCertificateStatus")[0]["ocspRequestData"]
    needs = ex.of("NotifyEVChargingNeeds")[0]["chargingNeeds"]
    assert needs["acChargingParameters"]["energyAmount"] == 10_000
    cert = ex.of("Get15118EVCertificate")[0]
    if v is OcppVersion.V21:  # 2.1's shape: ISO 15118-20, the car's contracts in order
        assert cert["prioritizedEMAIDs"] == [auth["idToken"]["idToken"]]
        assert "15118:-20" in cert["iso15118SchemaVersion"]
        assert "timestamp" in ex.of("NotifyEVChargingNeeds")[0]
    else:
        assert "prioritizedEMAIDs" not in cert


@pytest.mark.parametrize("v", [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21])
def test_plain_cars_send_no_pnc_and_16_no_15118(v: OcppVersion) -> None:
    cfg = StationConfig(meter_interval_s=600, heartbeat_interval_s=3600, iso15118_share=1.0,
                        pnc_share=0.0 if v is not OcppVersion.V16 else 1.0)
    ex = Exchange(make(v, (session(100, 900),), config=cfg))
    ex.open()
    ex.run_until(200)
    assert "GetCertificateStatus" not in ex.actions()
    assert ("NotifyEVChargingNeeds" in ex.actions()) == (v is not OcppVersion.V16)
    if v is not OcppVersion.V16:
        assert ex.of("Authorize")[0]["idToken"]["type"] == "ISO14443"


@pytest.mark.parametrize("v", [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21])
def test_background_incidents_at_the_scenario_rates(v: OcppVersion) -> None:
    cfg = StationConfig(meter_interval_s=600, heartbeat_interval_s=86_400,
                        security_events_per_day=24, notify_events_per_day=24)
    ex = Exchange(make(v, config=cfg))
    assert ex.st.extra is None
    ex.open()
    ex.run_until(5 * 86_400)  # five simulated days (the harness clock runs at factor 1)
    sec = len(ex.of("SecurityEventNotification"))
    assert 80 <= sec <= 170  # Poisson, mean 120
    faults = [e for p in ex.of("NotifyEvent") for e in p["eventData"]]
    if v is OcppVersion.V16:
        assert not faults  # 1.6 has no NotifyEvent
    else:
        raised = [e for e in faults if not e["cleared"]]
        assert 80 <= len(raised) <= 170
        assert all(e["eventNotificationType"] == "HardWiredNotification" for e in faults)
        assert len(faults) - len(raised) >= len(raised) - 1  # each is cleared again


@pytest.mark.parametrize("v", [OcppVersion.V201, OcppVersion.V21])
def test_an_ems_limit_drops_the_power_is_notified_and_cleared(v: OcppVersion) -> None:
    import random

    from fleetsim.station import ems

    cfg = StationConfig(meter_interval_s=300, heartbeat_interval_s=86_400)
    ex = Exchange(make(v, (session(100, 20_000, kwh=40),), config=cfg))
    ex.open()
    ex.run_until(1000)

    def power() -> float:
        last = ex.of("TransactionEvent")[-1]["meterValue"][0]["sampledValue"]
        return next(float(s["value"]) for s in last if s.get("measurand") == "Power.Active.Import")

    assert power() == 11_000
    ems.impose(ex.st, ex.now, random.Random(1))  # what incidents.py draws at the scenario rate
    ex.st.on_timer(ex.now)
    ex.pump()
    [note] = ex.of("NotifyChargingLimit")
    assert note["chargingLimit"]["chargingLimitSource"] == "EMS" and note["evseId"] == 1
    assert note["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 5500
    ex.run_until(1400)
    assert power() == 5500  # the station applies it: the meter values show it
    ex.run_until(1000 + ems.HOLD_S + 400)
    assert ex.of("ClearedChargingLimit") == [{"chargingLimitSource": "EMS", "evseId": 1}]
    assert power() == 11_000


def test_ems_limits_come_at_the_scenario_rate_on_2x_only() -> None:
    cfg = StationConfig(meter_interval_s=3600, heartbeat_interval_s=86_400, ems_limits_per_day=24)
    for v, expect in ((OcppVersion.V16, False), (OcppVersion.V201, True)):
        ex = Exchange(make(v, config=cfg))
        ex.open()
        ex.run_until(2 * 86_400)
        n = len(ex.of("NotifyChargingLimit"))
        assert (25 <= n <= 60) if expect else n == 0, (v, n)  # Poisson, mean 48 (one EVSE)
        assert len(ex.of("ClearedChargingLimit")) in (n, n - 1)



@pytest.mark.parametrize("shares", [(1.0, 1.0), (1.0, 0.0), (0.0, 0.0)])
def test_with_iso15118_from_vehicles_the_car_decides(shares: tuple[float, float]) -> None:
    import dataclasses

    from fleetsim.scenario import parse_scenario

    ocpp = parse_scenario({"stations": {"count": 1},
                           "ocpp": {"iso15118_share": "vehicles"}}).ocpp
    assert ocpp.iso15118_from_vehicles and ocpp.iso15118_share == ocpp.pnc_share == 0.0
    cfg = StationConfig(meter_interval_s=600, heartbeat_interval_s=3600,
                        iso15118_from_vehicles=True)
    s = session(100, 900)
    car = dataclasses.replace(s.vehicle, iso15118_share=shares[0], pnc_share=shares[1])
    ex = Exchange(make(OcppVersion.V201, (dataclasses.replace(s, vehicle=car),), config=cfg))
    ex.open()
    ex.run_until(200)
    assert ("NotifyEVChargingNeeds" in ex.actions()) == (shares[0] == 1.0)
    assert ex.of("Authorize")[0]["idToken"]["type"] == ("eMAID" if shares[1] else "ISO14443")


@pytest.mark.parametrize("v", [OcppVersion.V201, OcppVersion.V21])
def test_a_dc_car_states_dc_needs(v: OcppVersion) -> None:
    import dataclasses

    from fleetsim.drivers.session import Evse

    cfg = StationConfig(meter_interval_s=600, heartbeat_interval_s=3600, iso15118_share=1.0)
    s = session(100, 900)
    s = dataclasses.replace(s, vehicle=dataclasses.replace(s.vehicle, dc_peak_kw=120))
    ex = Exchange(make(v, (s,), config=cfg, evse=Evse(max_power_w=150_000, phases=1,
                                                      voltage_v=400, dc=True)))
    ex.open()
    ex.run_until(200)  # the harness validates the DC needs against the version's schema
    needs = ex.of("NotifyEVChargingNeeds")[0]["chargingNeeds"]
    assert needs["requestedEnergyTransfer"] == "DC" and "acChargingParameters" not in needs
    assert needs["dcChargingParameters"]["evMaxPower"] == 120_000
