"""What MeterValues report is physically coherent (ev-models.md §4.2, OCPP consistency).

Over a whole session: Σ register increments = meterStop − meterStart exactly; power is
instantaneous, so the mean power of every interval (Δregister / Δt) lies between the
powers reported at its two ends;
SoC never falls; a charging-profile limit caps the power; the car stops at its stop SoC.
"""

from __future__ import annotations

import itertools

import pytest

from fleetsim.drivers.session import Evse, Vehicle
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig, StationCore
from tests.station.harness import Exchange, make, session

DC = Evse(max_power_w=150_000, phases=1, voltage_v=400, dc=True)
DC_CAR = Vehicle(name="large_bev", battery_kwh=77, ac_phases=3, ac_max_a=16, dc_peak_kw=175)
MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "SoC")


def readings(ex: Exchange) -> list[tuple[float, int, float, float | None]]:
    """(sim seconds, register Wh, power W, SoC %) per reading with a meter value."""
    out = []
    for t, _, p in [(t, a, p) for t, a, p in ex.sent if a == "TransactionEvent"]:
        for mv in p.get("meterValue", []):
            v = {s["measurand"]: s["value"] for s in mv["sampledValue"]
                 if s.get("phase") in (None, "L1")}
            out.append((t, int(v["Energy.Active.Import.Register"]),
                        float(v["Power.Active.Import"]), v.get("SoC")))
    return out


def dc_station(meter_interval_s: float) -> StationCore:
    """A 2.0.1 DC station with a car at 10 % SoC that wants 60 kWh over 90 minutes."""
    car = session(0, 5400, kwh=60)
    car = type(car)(**{**{f: getattr(car, f) for f in car.__slots__}, "vehicle": DC_CAR,
                       "soc_start": 0.1})
    return make(OcppVersion.V201, (car,), evse=DC,
                config=StationConfig(meter_interval_s=meter_interval_s,
                                     heartbeat_interval_s=3600, measurands=MEASURANDS))


@pytest.mark.parametrize("limit_w", [None, 50_000.0])
def test_dc_session_meter_values_are_consistent(limit_w: float | None) -> None:
    st = dc_station(60)
    if limit_w is not None:
        st.connectors[0].limit_w = limit_w  # as a TxDefaultProfile would set it
    ex = Exchange(st)
    ex.open()
    ex.run_until(6000)
    rs = readings(ex)
    assert len(rs) > 50
    regs = [r[1] for r in rs]
    assert regs == sorted(regs)
    socs = [r[3] for r in rs if r[3] is not None]
    assert socs == sorted(socs) and socs[-1] <= 80  # DC stops at 80 %
    peak = max(r[2] for r in rs)
    assert peak <= (limit_w or 150_000) * 1.0001  # min(EVSE, profile, car curve)
    for (t0, e0, p0, _), (t1, e1, p1, _) in itertools.pairwise(rs):
        if t1 - t0 < 1 or e1 - e0 < 50:
            continue  # idle after full, or a reading right after another
        mean_w, tol = (e1 - e0) * 3600 / (t1 - t0), 3600 / (t1 - t0) + 1  # whole-Wh register
        assert min(p0, p1) - tol <= mean_w <= max(p0, p1) + tol
    events = [p for _, a, p in ex.sent if a == "TransactionEvent"]
    ended = events[-1]
    assert ended["eventType"] == "Ended"
    start_wh = regs[0]
    stop_wh = regs[-1]
    delivered = st.finished_sessions[-1]["meter_stop_wh"] - st.finished_sessions[-1][
        "meter_start_wh"]
    assert stop_wh - start_wh == delivered  # Σ increments = stop − start, to the Wh
    # 77 kWh × (0.8 − 0.1) / 0.9 ≈ 59.9 kWh to reach 80 %: the car wanted 60, so it stops at 80 %
    assert delivered == pytest.approx(77_000 * 0.7 / 0.9, rel=0.01)


def test_ac_car_finishes_and_goes_suspended_ev() -> None:
    st = make(OcppVersion.V16, (session(0, 12 * 3600, kwh=80),),
              config=StationConfig(meter_interval_s=300, heartbeat_interval_s=3600))
    ex = Exchange(st)
    ex.open()
    ex.run_until(13 * 3600)
    statuses = [p["status"] for _, a, p in ex.sent if a == "StatusNotification"
                and p["connectorId"] == 1]
    assert "SuspendedEV" in statuses  # the battery fills (taper above 80 %) and stops drawing
    after_full = [p for _, a, p in ex.sent if a == "MeterValues"][-3:]
    powers = [float(v["value"]) for m in after_full for mv in m["meterValue"]
              for v in mv["sampledValue"] if v["measurand"] == "Power.Active.Import"]
    assert powers and max(powers) == 0.0


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
def test_a_stalled_loop_sends_one_sample_not_every_missed_one(version: OcppVersion) -> None:
    """After a stall, sampling goes on from now (as the heartbeat does): a burst of every
    missed sample made a starved engine's next stall longer than the last (issue 13)."""
    action = "MeterValues" if version is OcppVersion.V16 else "TransactionEvent"
    ex = Exchange(make(version, (session(10, 7200, kwh=40),)))
    ex.open()
    ex.run_until(1000)
    before = len(ex.of(action))
    assert before >= 10  # charging, a sample every 60 s
    ex.now = 1000 + 600  # the loop stood still for ten sample intervals
    ex.st.on_timer(ex.now)
    ex.pump()
    assert len(ex.of(action)) - before == 1
    ex.run_until(ex.now + 60)
    assert len(ex.of(action)) - before == 2  # and on every 60 s from the stall's end


def test_meter_samples_at_a_steady_power_leave_no_stale_timers() -> None:
    """The car's "full" time was re-armed at every meter sample even at an unchanged power,
    leaving a stale heap entry per sample for the collector to walk (issue 18)."""
    st = make(OcppVersion.V16, (session(0, 4 * 3600, kwh=40),),
              config=StationConfig(meter_interval_s=60, heartbeat_interval_s=3600))
    ex = Exchange(st)
    ex.open()
    stale = []
    for minute in range(2, 30):  # 11 kW, far from the taper: a steady power
        ex.run_until(minute * 60 + 1)
        stale.append(st._stale)
    assert len([a for a in ex.actions() if a == "MeterValues"]) >= 25
    assert stale == [0] * len(stale)
    ex.run_until(6 * 3600)  # and the car is still found full at its time
    assert any(p["status"] == "SuspendedEV" for _, a, p in ex.sent if a == "StatusNotification")
