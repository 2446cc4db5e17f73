"""Charging physics: power = min(EVSE, profile, car curve); exact energy integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetsim.drivers import (
    ChargeState,
    Evse,
    Vehicle,
    charge_power_w,
    charge_time_h,
    stop_soc,
    vehicle_max_power_w,
)

AC11 = Evse(max_power_w=11_040.0, phases=3, voltage_v=230.0)
AC7_1PH = Evse(max_power_w=7_360.0, phases=1, voltage_v=230.0)
DC150 = Evse(max_power_w=150_000.0, phases=1, voltage_v=400.0, dc=True)
MID = Vehicle("mid_bev", battery_kwh=60.0, ac_phases=3, ac_max_a=16.0, dc_peak_kw=140.0,
              dc_taper_start_soc=0.4, dc_taper_end_soc=0.8, dc_taper_alpha=0.35)
ONE_PHASE_32A = Vehicle("small_bev", battery_kwh=45.0, ac_phases=1, ac_max_a=32.0)


def test_ac_power_is_phases_times_current_limited_by_car_and_evse() -> None:
    assert vehicle_max_power_w(MID, 0.5, AC11) == pytest.approx(3 * 16 * 230)
    # a 1 x 32 A car on a 3 x 16 A wallbox draws 16 A on one phase (3.7 kW), not 7.4 kW
    assert vehicle_max_power_w(ONE_PHASE_32A, 0.5, AC11) == pytest.approx(16 * 230)
    # a 3 x 16 A car on a single-phase 32 A EVSE uses one phase at its own 16 A
    assert vehicle_max_power_w(MID, 0.5, AC7_1PH) == pytest.approx(16 * 230)


def test_curves_taper_continuously_to_zero_at_full() -> None:
    socs = np.linspace(0.0, 1.0, 2001)
    for evse in (AC11, DC150):
        p = np.array([vehicle_max_power_w(MID, s, evse) for s in socs])
        assert np.all(np.diff(p) <= 1e-6), "acceptance never rises with SoC"
        assert np.max(np.abs(np.diff(p))) < 0.01 * p[0], "no jumps"
        assert p[-1] == 0.0
    assert vehicle_max_power_w(MID, 0.8, DC150) == pytest.approx(0.35 * 140_000)
    assert vehicle_max_power_w(MID, 0.9, AC11) == pytest.approx(0.5 * 11_040)


def test_power_is_min_of_evse_profile_and_car() -> None:
    assert charge_power_w(MID, 0.2, DC150, None) == pytest.approx(140_000)
    assert charge_power_w(MID, 0.2, DC150, 50_000) == pytest.approx(50_000)
    assert charge_power_w(MID, 0.2, AC11, 0.0) == 0.0
    assert charge_power_w(MID, 0.2, Evse(max_power_w=100_000.0, dc=True), None) == 100_000


def _brute_force(v: Vehicle, evse: Evse, soc: float, wanted_wh: float, dt_s: float,
                 limit_w: float | None) -> tuple[float, float]:
    """Independent Euler integration of dSoC/dt = eta P(SoC)/B until done: (hours, Wh)."""
    t = e = 0.0
    stop = min(stop_soc(evse), soc + wanted_wh * v.efficiency / (v.battery_kwh * 1000))
    while soc < stop:
        p = charge_power_w(v, soc, evse, limit_w)
        step = min(p * dt_s / 3600, (stop - soc) * v.battery_kwh * 1000 / v.efficiency)
        soc += step * v.efficiency / (v.battery_kwh * 1000)
        e += step
        t += dt_s * step / (p * dt_s / 3600)
    return t / 3600, e


@pytest.mark.parametrize(("evse", "limit"), [(AC11, None), (AC11, 4000.0), (DC150, None),
                                             (DC150, 60_000.0)])
def test_integrator_matches_brute_force_and_vectorised_time(evse: Evse,
                                                            limit: float | None) -> None:
    cs = ChargeState(MID, evse, soc=0.2, wanted_wh=80_000.0)
    t = 0.0
    while not cs.done:
        cs.advance(60.0, limit)
        t += 60.0
    hours, wh = _brute_force(MID, evse, 0.2, 80_000.0, 0.5, limit)
    assert cs.delivered_wh == pytest.approx(wh, rel=1e-3)
    assert t / 3600 == pytest.approx(hours, abs=60 / 3600 + 1e-3 * hours)
    assert cs.soc == pytest.approx(stop_soc(evse))
    peak = 140_000.0 if evse.dc else 3 * 16 * 230.0
    vec = charge_time_h(np.array([0.2]), np.array([cs.soc]), battery_kwh=np.array([60.0]),
                        peak_w=np.array([peak]), limit_w=np.array([limit or evse.max_power_w]),
                        taper_start_soc=np.array([0.4 if evse.dc else 0.8]),
                        taper_end_soc=np.array([0.8]),
                        taper_alpha=np.array([0.35 if evse.dc else 1.0]))
    assert vec[0] == pytest.approx(hours, rel=2e-3)


def test_stops_at_wanted_energy_then_idles() -> None:
    cs = ChargeState(MID, AC11, soc=0.3, wanted_wh=5_000.0)
    total = sum(cs.advance(60.0).energy_wh for _ in range(60))
    assert cs.done and total == 5_000
    assert cs.delivered_wh == pytest.approx(5_000.0, abs=1e-6)
    step = cs.advance(60.0)
    assert step.energy_wh == 0 and step.power_w == 0.0 and cs.power_w() == 0.0


@settings(max_examples=60, deadline=None)
@given(soc=st.floats(0.05, 0.9), wanted_kwh=st.floats(0.0, 90.0),
       dc=st.booleans(), battery=st.floats(10.0, 100.0),
       steps=st.lists(st.tuples(st.floats(0.5, 900.0),
                                st.one_of(st.none(), st.floats(0.0, 200_000.0))),
                      min_size=1, max_size=60))
def test_bookkeeping_is_exact_and_profiles_are_honoured(
        soc: float, wanted_kwh: float, dc: bool, battery: float,
        steps: list[tuple[float, float | None]]) -> None:
    evse = DC150 if dc else AC11
    v = Vehicle("car", battery_kwh=battery, ac_phases=3, ac_max_a=16.0, dc_peak_kw=120.0)
    cs = ChargeState(v, evse, soc=soc, wanted_wh=wanted_kwh * 1000)
    register = 0
    last_soc = soc
    for dt, limit in steps:
        before = cs.delivered_wh
        step = cs.advance(dt, limit)
        exact = cs.delivered_wh - before
        register += step.energy_wh
        assert cs.soc >= last_soc - 1e-15, "SoC never falls"
        last_soc = cs.soc
        cap = evse.max_power_w if limit is None else min(limit, evse.max_power_w)
        assert step.power_w <= cap * (1 + 1e-9) + 1e-6, "profile limit honoured"
        # the reported power integrates to the interval's energy (within 2 % or 1 Wh)
        assert math.isclose(step.power_w * dt / 3600, exact, rel_tol=0.02, abs_tol=1e-6)
        assert abs(step.energy_wh - exact) <= 1.0 + 1e-9
        assert abs(register - cs.delivered_wh) <= 0.5 + 1e-9, "register exact to 1 Wh"
    assert register == cs.register_wh == round(cs.delivered_wh)
    assert cs.delivered_wh <= wanted_kwh * 1000 + 1e-6
    assert cs.soc <= max(soc, stop_soc(evse)) + 1e-12
