"""Charging profiles combined into one limit (OCPP 1.6 §3.13, 2.0.1 part 2 §K). Pure.

A profile is a schedule of limits (W or A) with a purpose and a stack level.
At an instant, per purpose, the profile *in effect* with the highest stack level
wins (1.6 §3.13.2 "stacking"; 2.0.1 part 2 §K, "Charging profile stacking");
a TxProfile overrides the TxDefaultProfile for its transaction and the
ChargePointMaxProfile / ChargingStationMaxProfile caps the result (1.6 §3.13.3
"combining charging profile purposes"; 2.0.1 §K the composite schedule). A
TxDefault profile set on a specific connector overrides one set on connector 0
(1.6 §3.13.1). Amperes become watts with phases x voltage (DC: x voltage).

Times are calendar seconds (Unix); nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

__all__ = [
    "Electrical",
    "Period",
    "Profile",
    "Purpose",
    "composite",
    "limit_w",
    "next_change",
    "parse_profile",
    "parse_time",
    "to_unit",
]

_RECURRENCY_S = {"Daily": 86_400.0, "Weekly": 604_800.0}


class Purpose(Enum):
    MAX = "max"              # ChargePointMaxProfile (1.6) / ChargingStationMaxProfile (2.x)
    TX_DEFAULT = "tx_default"
    TX = "tx"


_PURPOSES = {"ChargePointMaxProfile": Purpose.MAX, "ChargingStationMaxProfile": Purpose.MAX,
             "TxDefaultProfile": Purpose.TX_DEFAULT, "TxProfile": Purpose.TX}


@dataclass(frozen=True, slots=True)
class Period:
    start_s: float            # startPeriod, seconds from the schedule start
    limit: float | None       # in the profile's unit; None: no limit (2.1 setpoint-only)
    phases: int | None = None  # numberPhases (default 3 on AC)


@dataclass(frozen=True, slots=True)
class Electrical:
    """What turns amperes into watts on one connector (or the whole station)."""

    phases: int = 3
    voltage_v: float = 230.0
    dc: bool = False

    def watts(self, amps: float, phases: int | None) -> float:
        if self.dc:
            return amps * self.voltage_v
        return amps * self.voltage_v * min(phases or 3, self.phases)

    def amps(self, watts: float) -> float:
        return watts / (self.voltage_v * (1 if self.dc else self.phases))


@dataclass(frozen=True, slots=True)
class Profile:
    """One installed charging profile, normalised from either version's payload."""

    id: int
    stack_level: int
    purpose: Purpose
    kind: str                        # Absolute, Recurring, Relative
    unit: str                        # "W" or "A"
    periods: tuple[Period, ...]
    connector_id: int = 0            # 0: the whole station (evseId 0)
    start_s: float | None = None     # startSchedule (Unix s); Absolute without one: install time
    duration_s: float | None = None
    recurrency_s: float | None = None
    valid_from_s: float | None = None
    valid_to_s: float | None = None
    transaction_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def schedule_start(self, t: float, tx_start_s: float | None) -> float | None:
        """When the schedule in force at ``t`` started (None: it does not apply)."""
        if self.kind == "Relative":
            return tx_start_s
        start = self.start_s if self.start_s is not None else 0.0
        if self.kind == "Recurring" and self.recurrency_s:
            return start + math.floor((t - start) / self.recurrency_s) * self.recurrency_s
        return start

    def limit_at(self, t: float, tx_start_s: float | None) -> Period | None:
        """The period in force at ``t``, or None when the profile is not in effect."""
        if (self.valid_from_s is not None and t < self.valid_from_s) or (
                self.valid_to_s is not None and t >= self.valid_to_s):
            return None
        start = self.schedule_start(t, tx_start_s)
        if start is None:
            return None
        elapsed = t - start
        if elapsed < 0 or (self.duration_s is not None and elapsed >= self.duration_s):
            return None
        found: Period | None = None
        for p in self.periods:
            if p.start_s <= elapsed:
                found = p
            else:
                break
        return found if found is not None and found.limit is not None else None

    def boundaries(self, lo: float, hi: float, tx_start_s: float | None) -> Iterable[float]:
        """Instants in (lo, hi] where this profile's limit may change."""
        for v in (self.valid_from_s, self.valid_to_s):
            if v is not None and lo < v <= hi:
                yield v
        if self.kind == "Relative":
            starts = [] if tx_start_s is None else [tx_start_s]
        elif self.kind == "Recurring" and self.recurrency_s:
            first = self.schedule_start(lo, None)
            assert first is not None
            starts = []
            s = first
            while s <= hi:
                starts.append(s)
                s += self.recurrency_s
        else:
            starts = [self.start_s if self.start_s is not None else 0.0]
        for s in starts:
            for p in self.periods:
                if lo < s + p.start_s <= hi:
                    yield s + p.start_s
            if self.duration_s is not None and lo < s + self.duration_s <= hi:
                yield s + self.duration_s


def parse_time(value: object) -> float | None:
    """An OCPP dateTime (``2026-01-05T17:00:00Z``) as Unix seconds; None if absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a dateTime: {value!r}")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _period_limit(x: Mapping[str, Any]) -> float | None:
    """A period's limit; below zero it discharges a V2X car (2.1 part 2 §Q).

    2.1 operation modes: CentralSetpoint/ExternalSetpoint follow ``setpoint`` (negative:
    export), Idle holds at 0, ChargingOnly never discharges; a bare negative ``limit`` is
    the legacy way to ask for discharge, which 2.1 still accepts.
    """
    mode, limit, setpoint = x.get("operationMode"), x.get("limit"), x.get("setpoint")
    if mode == "Idle":
        return 0.0
    if mode in ("CentralSetpoint", "ExternalSetpoint") and setpoint is not None:
        return float(setpoint) if limit is None else min(float(setpoint), float(limit))
    if limit is None:
        return None
    return max(0.0, float(limit)) if mode == "ChargingOnly" else float(limit)


def parse_profile(p: Mapping[str, Any], *, connector_id: int, now_s: float) -> Profile:
    """A 1.6 csChargingProfiles or 2.x ChargingProfileType as a :class:`Profile`.

    Raises ValueError for what fleetsim does not model (2.1 Dynamic profiles,
    PriorityCharging/LocalGeneration/ExternalConstraints purposes): the caller
    answers Rejected. 2.x may carry up to three schedules (ISO 15118 offers);
    the first one is used (without ISO 15118 there is no EV to choose among them).
    """
    purpose = _PURPOSES.get(p["chargingProfilePurpose"])
    if purpose is None:
        raise ValueError(f"purpose {p['chargingProfilePurpose']} is not supported")
    kind = p["chargingProfileKind"]
    if kind not in ("Absolute", "Recurring", "Relative"):
        raise ValueError(f"profile kind {kind} is not supported")
    sched = p["chargingSchedule"]
    if isinstance(sched, list):
        sched = sched[0]
    unit = sched["chargingRateUnit"]
    if unit not in ("W", "A"):
        raise ValueError(f"charging rate unit {unit} is not supported")
    periods = tuple(sorted((Period(float(x["startPeriod"]), _period_limit(x),
                                   x.get("numberPhases")) for x in sched["chargingSchedulePeriod"]),
                           key=lambda x: x.start_s))
    start = parse_time(sched.get("startSchedule"))
    if kind == "Absolute" and start is None:
        start = now_s  # no startSchedule: it starts when received
    if kind == "Recurring" and start is None:
        start = math.floor(now_s / 86_400.0) * 86_400.0  # midnight UTC of the day received
    rec = _RECURRENCY_S.get(p.get("recurrencyKind", "Daily")) if kind == "Recurring" else None
    duration = sched.get("duration")
    tx = p.get("transactionId")
    return Profile(id=int(p.get("chargingProfileId", p.get("id", 0))),
                   stack_level=int(p["stackLevel"]), purpose=purpose, kind=kind, unit=unit,
                   periods=periods, connector_id=connector_id, start_s=start,
                   duration_s=None if duration is None else float(duration), recurrency_s=rec,
                   valid_from_s=parse_time(p.get("validFrom")),
                   valid_to_s=parse_time(p.get("validTo")),
                   transaction_id=None if tx is None else str(tx), raw=dict(p))


def _winner(profiles: Sequence[Profile], purpose: Purpose, t: float, connector_id: int,
            tx_id: str | None, tx_start_s: float | None, el: Electrical) -> float | None:
    best: tuple[int, int, float] | None = None  # (specific connector?, stack level, W)
    for pr in profiles:
        if pr.purpose is not purpose:
            continue
        if purpose is Purpose.MAX:
            if pr.connector_id != 0:
                continue
        elif pr.connector_id not in (0, connector_id) or (
                purpose is Purpose.TX and (tx_id is None or pr.connector_id != connector_id
                                          or (pr.transaction_id not in (None, tx_id)))):
            continue
        period = pr.limit_at(t, tx_start_s)
        if period is None:
            continue
        assert period.limit is not None
        w = period.limit if pr.unit == "W" else el.watts(period.limit, period.phases)
        rank = (int(pr.connector_id == connector_id and connector_id != 0), pr.stack_level, -w)
        if best is None or rank > best:
            best = rank
    return None if best is None else -best[2]


def limit_w(profiles: Sequence[Profile], t: float, *, connector_id: int, tx_id: str | None = None,
            tx_start_s: float | None = None, el: Electrical = Electrical(),
            max_share: float = 1.0) -> float | None:
    """The composite limit [W] at ``t`` for one connector (0: the station's max profile).

    ``max_share`` is the part of the station-wide max profile this connector may use
    (the station splits its cap over the connectors that charge).
    """
    cap = _winner(profiles, Purpose.MAX, t, 0, None, tx_start_s, el)
    if connector_id == 0:
        return cap
    tx = _winner(profiles, Purpose.TX, t, connector_id, tx_id, tx_start_s, el)
    if tx is None:
        tx = _winner(profiles, Purpose.TX_DEFAULT, t, connector_id, tx_id, tx_start_s, el)
    if cap is not None:
        if cap == 0.0:  # a zero station maximum stops discharge too (2.1 V2X, a DER trip)
            return 0.0
        cap *= max_share
        return cap if tx is None else min(tx, cap)
    return tx


def next_change(profiles: Iterable[Profile], t: float, *, tx_start_s: float | None = None,
                horizon_s: float = 7 * 86_400.0) -> float | None:
    """The first instant after ``t`` at which some profile's limit may change."""
    best: float | None = None
    for pr in profiles:
        for b in pr.boundaries(t, t + horizon_s, tx_start_s):
            if best is None or b < best:
                best = b
    return best


def to_unit(watts: float, unit: str, el: Electrical) -> float:
    """A limit in W expressed in ``unit`` (W or A), rounded to 0.1."""
    return round(watts if unit == "W" else el.amps(watts), 1)


def composite(profiles: Sequence[Profile], start_s: float, duration_s: float, *,
              connector_id: int, unit: str, default_w: float, tx_id: str | None = None,
              tx_start_s: float | None = None, el: Electrical = Electrical(),
              max_share: float = 1.0) -> list[tuple[float, float]]:
    """The composite schedule over [start, start + duration): (offset [s], limit in ``unit``).

    Where no profile limits, the connector's own capacity ``default_w`` applies;
    consecutive periods with the same limit are merged (1.6 §5.7 GetCompositeSchedule, 2.0.1 K08).
    """
    end = start_s + duration_s
    marks = {start_s}
    for pr in profiles:
        marks.update(b for b in pr.boundaries(start_s, end, tx_start_s) if b < end)
    out: list[tuple[float, float]] = []
    for m in sorted(marks):
        w = limit_w(profiles, m, connector_id=connector_id, tx_id=tx_id, tx_start_s=tx_start_s,
                    el=el, max_share=max_share)
        value = to_unit(default_w if w is None else min(w, default_w), unit, el)
        if not out or out[-1][1] != value:
            out.append((round(m - start_s), value))
    return out
