"""Charging-profile composition (OCPP 1.6 §3.13, 2.0.1 §K): pure functions, no station."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.station.smart_charging import (
    Electrical,
    composite,
    limit_w,
    next_change,
    parse_profile,
    parse_time,
)

DAY0 = parse_time("2026-01-05T00:00:00Z")
assert DAY0 is not None
H = 3600.0
AC3 = Electrical(phases=3, voltage_v=230.0)


def prof(pid: int, purpose: str, periods: list[tuple[float, float]], *, level: int = 0,
         kind: str = "Absolute", unit: str = "W", start: str | None = "2026-01-05T00:00:00Z",
         connector: int = 1, duration: float | None = None, **extra: Any) -> Any:
    sched: dict[str, Any] = {"chargingRateUnit": unit, "chargingSchedulePeriod": [
        {"startPeriod": s, "limit": v} for s, v in periods]}
    if start is not None:
        sched["startSchedule"] = start
    if duration is not None:
        sched["duration"] = duration
    raw = {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
           "chargingProfileKind": kind, "chargingSchedule": sched, **extra}
    return parse_profile(raw, connector_id=connector, now_s=DAY0)


def at(profiles: list[Any], t: float, **kw: Any) -> float | None:
    return limit_w(profiles, DAY0 + t, connector_id=kw.pop("connector_id", 1), el=AC3, **kw)


def test_no_profile_no_limit() -> None:
    assert at([], 0) is None


def test_highest_stack_level_of_a_purpose_wins_while_in_effect() -> None:
    low = prof(1, "TxDefaultProfile", [(0, 7000)], level=0)
    high = prof(2, "TxDefaultProfile", [(0, 11000)], level=3, duration=H)
    assert at([low, high], 10) == 11000          # higher level wins even if it is higher power
    assert at([low, high], H + 1) == 7000        # its schedule ended: the lower one applies


def test_tx_profile_overrides_tx_default_and_needs_its_transaction() -> None:
    default = prof(1, "TxDefaultProfile", [(0, 7000)])
    tx = prof(2, "TxProfile", [(0, 9000)], transactionId="T1")
    assert at([default, tx], 5, tx_id="T1") == 9000
    assert at([default, tx], 5, tx_id="T2") == 7000  # another transaction
    assert at([default, tx], 5) == 7000              # no transaction at all


def test_max_profile_caps_everything_and_is_shared() -> None:
    default = prof(1, "TxDefaultProfile", [(0, 7000)])
    cap = prof(2, "ChargePointMaxProfile", [(0, 5000)], connector=0)
    assert at([default, cap], 1) == 5000
    assert at([default, cap], 1, max_share=0.5) == 2500
    assert at([cap], 1) == 5000
    assert at([default, cap], 1, connector_id=0) == 5000  # the station's own limit


def test_connector_specific_default_beats_station_wide_default() -> None:
    station = prof(1, "TxDefaultProfile", [(0, 3000)], connector=0, level=5)
    own = prof(2, "TxDefaultProfile", [(0, 8000)], connector=1, level=0)
    assert at([station, own], 1) == 8000
    assert at([station, own], 1, connector_id=2) == 3000


def test_amperes_become_watts_with_phases_and_voltage() -> None:
    a3 = prof(1, "TxDefaultProfile", [(0, 16)], unit="A")
    assert at([a3], 1) == pytest.approx(16 * 3 * 230)
    one_phase = parse_profile({
        "chargingProfileId": 2, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "startSchedule": "2026-01-05T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16, "numberPhases": 1}]}},
        connector_id=1, now_s=DAY0)
    assert at([one_phase], 1) == pytest.approx(16 * 230)
    dc = Electrical(phases=3, voltage_v=400.0, dc=True)
    assert limit_w([a3], DAY0 + 1, connector_id=1, el=dc) == pytest.approx(16 * 400)


def test_recurring_daily_schedule_repeats() -> None:
    # 17:00-21:00 every day: 3.7 kW; otherwise 11 kW
    evening = prof(1, "TxDefaultProfile", [(0, 11000), (17 * H, 3700), (21 * H, 11000)],
                   kind="Recurring", recurrencyKind="Daily")
    for day in (0, 1, 6):
        assert at([evening], day * 24 * H + 18 * H) == 3700
        assert at([evening], day * 24 * H + 12 * H) == 11000
    assert next_change([evening], DAY0 + 12 * H) == DAY0 + 17 * H
    assert next_change([evening], DAY0 + 22 * H) == DAY0 + 24 * H  # tomorrow's first period


def test_relative_schedule_starts_with_the_transaction() -> None:
    rel = prof(1, "TxProfile", [(0, 2000), (1800, 6000)], kind="Relative", start=None)
    tx_start = DAY0 + 5 * H
    assert at([rel], 5 * H + 60, tx_id="T", tx_start_s=tx_start) == 2000
    assert at([rel], 5 * H + 1801, tx_id="T", tx_start_s=tx_start) == 6000
    assert at([rel], 5 * H + 60, tx_id="T") is None  # no start known: not in effect


def test_validity_window() -> None:
    p = prof(1, "TxDefaultProfile", [(0, 4000)], validFrom="2026-01-05T01:00:00Z",
             validTo="2026-01-05T02:00:00Z")
    assert at([p], 0.5 * H) is None and at([p], 1.5 * H) == 4000 and at([p], 2.5 * H) is None
    assert next_change([p], DAY0) == DAY0 + H


def test_composite_schedule_merges_and_converts() -> None:
    default = prof(1, "TxDefaultProfile", [(0, 7360), (600, 7360), (1200, 3680)])
    cap = prof(2, "ChargePointMaxProfile", [(0, 5000)], connector=0, start="2026-01-05T00:15:00Z",
               duration=600)
    out = composite([default, cap], DAY0, 1800, connector_id=1, unit="W", default_w=11000,
                    el=AC3)
    assert out == [(0, 7360.0), (900, 5000.0), (1200, 3680.0)]
    amps = composite([default], DAY0, 1800, connector_id=1, unit="A", default_w=11000, el=AC3)
    assert amps == [(0, pytest.approx(10.7, abs=0.05)), (1200, pytest.approx(5.3, abs=0.05))]
    empty = composite([], DAY0, 600, connector_id=1, unit="W", default_w=11000, el=AC3)
    assert empty == [(0, 11000.0)]


def test_unsupported_profiles_are_refused() -> None:
    with pytest.raises(ValueError):
        prof(1, "ChargingStationExternalConstraints", [(0, 1)])
    with pytest.raises(ValueError):
        prof(1, "TxDefaultProfile", [(0, 1)], kind="Dynamic")


def test_2x_schedule_list_and_missing_limit() -> None:
    p = parse_profile({"id": 4, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
                       "chargingProfileKind": "Absolute", "chargingSchedule": [
                           {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [
                               {"startPeriod": 0}]}]}, connector_id=1, now_s=DAY0)
    assert p.id == 4 and at([p], 1) is None  # a 2.1 period without limit does not limit
