"""Time compression keeps stations honest (issue 11.3, 11.4; clock.py "Which timers compress").

Sans-I/O: a station core on a compressed clock (600 simulated s per wall s) against a
scripted CSMS. What the CSMS sets means wall seconds; the driver's sessions and the
energy drawn run on the simulated clock; every value in a reading is the state at the
reading's sample time, so a charging limit shows in the first reading after it applies.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import Clock, StationConfig
from tests.station.harness import Exchange, make, session

FACTOR = 600.0
EPOCH = 1_767_571_200.0  # 2026-01-05T00:00:00Z
V16, V201 = OcppVersion.V16, OcppVersion.V201


def compressed(v: OcppVersion, *, config: StationConfig | None = None) -> Exchange:
    """A station plugged in at simulated 00:10 (1 wall s), staying 6 simulated hours."""
    clock = Clock(wall0=0.0, epoch_unix=EPOCH, factor=FACTOR, unix0=EPOCH + 3e7)
    st = make(v, (session(600, 6 * 3600, kwh=60),), clock=clock,
              config=config or StationConfig(meter_interval_s=60, heartbeat_interval_s=None))
    return Exchange(st, rtt=0.001)


def power_readings(ex: Exchange) -> list[tuple[float, float]]:
    """(wall time sent, Power.Active.Import W) of every periodic reading."""
    out = []
    for t, action, p in ex.sent:
        if action not in ("MeterValues", "TransactionEvent"):
            continue
        for mv in p.get("meterValue", []):
            for sv in mv["sampledValue"]:
                if (sv["measurand"] == "Power.Active.Import"
                        and sv.get("context") == "Sample.Periodic"):
                    out.append((t, float(sv["value"])))
    return out


def set_interval(ex: Exchange, seconds: int) -> None:
    if ex.st.spec.version is V16:
        r = ex.csms("ChangeConfiguration", {"key": "MeterValueSampleInterval",
                                            "value": str(seconds)})
        assert r == {"status": "Accepted"}
    else:
        r = ex.csms("SetVariables", {"setVariableData": [{
            "component": {"name": "SampledDataCtrlr"},
            "variable": {"name": "TxUpdatedInterval"}, "attributeValue": str(seconds)}]})
        assert r["setVariableResult"][0]["attributeStatus"] == "Accepted"


def cap(ex: Exchange, watts: float) -> None:
    st = ex.st
    tx = st.connectors[0].tx
    assert tx is not None and tx.id is not None
    sched: dict[str, Any] = {"chargingRateUnit": "W",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}]}
    prof: dict[str, Any] = {"stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                            "chargingProfileKind": "Relative", "transactionId": tx.id}
    if st.spec.version is V16:
        r = ex.csms("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
            "chargingProfileId": 7, **prof, "chargingSchedule": sched}})
    else:
        r = ex.csms("SetChargingProfile", {"evseId": 1, "chargingProfile": {
            "id": 7, **prof, "chargingSchedule": [{"id": 1, **sched}]}})
    assert r["status"] == "Accepted"


@pytest.mark.parametrize("v", [V16, V201])
def test_a_cap_shows_in_the_first_reading_after_it_applies(v: OcppVersion) -> None:
    ex = compressed(v)
    ex.open()
    ex.run_until(3.0)
    assert ex.st.connectors[0].power_w == pytest.approx(11_000)
    set_interval(ex, 5)        # as the CSMS did: 5 s, before the cap
    ex.run_until(8.5)          # one reading at full power
    before = power_readings(ex)
    assert before and before[-1][1] == pytest.approx(11_000)
    t_cap = ex.now
    cap(ex, 1000.0)
    ex.run_until(t_cap + 5.0)
    after = [(t, w) for t, w in power_readings(ex) if t > t_cap]
    assert after, "a reading within one interval after the cap"
    assert after[0][1] == pytest.approx(1000.0)  # the first one, not the second


@pytest.mark.parametrize("v", [V16, V201])
def test_csms_set_sample_interval_is_wall_seconds_under_compression(v: OcppVersion) -> None:
    ex = compressed(v)
    ex.open()
    ex.run_until(2.0)
    set_interval(ex, 5)
    t0 = ex.now
    ex.run_until(t0 + 21.0)
    times = [t for t, _ in power_readings(ex) if t > t0]
    assert len(times) == 4     # 5 s of wall time apart, not 5/600 s
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([5.0] * 3, abs=0.01)


@pytest.mark.parametrize("v", [V16, V201])
def test_boot_interval_and_heartbeat_interval_are_wall_seconds(v: OcppVersion) -> None:
    ex = compressed(v)  # the CSMS's BootNotification says interval 300
    ex.open()
    ex.run_until(299.0)
    assert "Heartbeat" not in ex.actions()
    ex.run_until(301.0)
    assert ex.actions().count("Heartbeat") == 1
    key = ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "20"}) if v is V16 \
        else ("SetVariables", {"setVariableData": [{
            "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
            "attributeValue": "20"}]})
    ex.csms(*key)
    t0 = ex.now
    ex.run_until(t0 + 61.0)
    beats = [t for t, a, _ in ex.sent if a == "Heartbeat" and t > t0]
    assert len(beats) == 3 and beats[0] == pytest.approx(t0 + 20, abs=0.01)


@pytest.mark.parametrize("v", [V16, V201])
def test_scenario_intervals_compress_only_when_asked(v: OcppVersion) -> None:
    asked = StationConfig(meter_interval_s=600, heartbeat_interval_s=6000,
                          interval_factor=FACTOR)
    ex = compressed(v, config=asked)
    ex.open()
    ex.run_until(12.0)
    beats = [t for t, a, _ in ex.sent if a == "Heartbeat"]
    assert len(beats) == 1 and beats[0] == pytest.approx(10.0, abs=0.01)  # 6000 / 600
    readings = power_readings(ex)
    assert len(readings) >= 9                                              # every 1 s
    assert ex.st.meter_interval_s == 600  # GetConfiguration still shows the scenario's value


@pytest.mark.parametrize("v", [V16, V201])
def test_clock_aligned_readings_follow_the_wall_calendar(v: OcppVersion) -> None:
    ex = compressed(v)
    ex.open()
    ex.run_until(2.0)
    if v is V16:
        ex.csms("ChangeConfiguration", {"key": "ClockAlignedDataInterval", "value": "10"})
    else:
        ex.csms("SetVariables", {"setVariableData": [{
            "component": {"name": "AlignedDataCtrlr"}, "variable": {"name": "Interval"},
            "attributeValue": "10"}]})
    ex.run_until(33.0)
    aligned = [t for t, a, p in ex.sent for mv in p.get("meterValue", [])
               if mv["sampledValue"][0]["context"] == "Sample.Clock"]
    # unix0 = EPOCH + 3e7 is a multiple of 10 s: readings at wall 10, 20, 30
    assert aligned == pytest.approx([10.0, 20.0, 30.0], abs=0.01)


def test_instantaneous_power_at_the_sample_time_and_exact_register() -> None:
    """On a DC taper the power falls: each reading's power is the one at its own time
    (below the mean since the previous reading); Δregister / Δt gives the mean."""
    from tests.station.test_metering import dc_station, readings

    ex = Exchange(dc_station(300))
    ex.open()
    ex.run_until(6000)
    rs = readings(ex)
    taper = 0
    for (t0, e0, p0, _), (t1, e1, p1, _) in itertools.pairwise(rs):
        if t1 - t0 < 1 or e1 == e0:
            continue
        mean_w = (e1 - e0) * 3600 / (t1 - t0)
        tol = 3600 / (t1 - t0) + 1  # whole-Wh register
        assert min(p0, p1) - tol <= mean_w <= max(p0, p1) + tol
        if p1 < p0 - 1000:
            taper += 1
            assert p1 < mean_w  # the instant, not the mean: below it while power falls
    assert taper >= 3
