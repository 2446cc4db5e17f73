"""OCPP 2.1 bidirectional charging (V2X): which cars can discharge, and how they do.

A share of the cars that plug into a 2.1 station are bidirectional (ISO 15118-20
BPT). Which ones is decided from the station id and the session's planned arrival
(a stable hash, not the plan's random streams), so the same scenario and seed give
the same V2X cars without changing any planned session. Assumed parameters,
tagged like ``drivers_models/``:

- ``SHARE`` [A] 0.30 of cars on a 2.1 station are bidirectional (2026 fleets: the
  VW MEB, Hyundai E-GMP, Kia, Nissan Leaf, Renault 5, BYD and Tesla Cybertruck
  models sold with V2G/V2H support);
- ``MAX_DISCHARGE_W`` [A] 11 kW AC (the 3-phase 16 A of today's V2G wallboxes)
  and the EVSE's capacity on DC;
- ``MIN_SOC`` [A] 0.30: the driver's reserve below which the car refuses to export.

A charging limit below zero — a 2.1 ``operationMode`` CentralSetpoint/ExternalSetpoint
with a negative ``setpoint``, a negative ``dischargeLimit``, or a legacy negative
``limit`` (2.1 part 2 §Q, "V2X") — makes such a car export at that power (capped by
the car and the EVSE) until it reaches ``MIN_SOC``; a car that cannot discharge
simply stops drawing. The export register (Energy.Active.Export.Register) is
monotonic like the import register, and Power.Active.Import goes negative.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetsim.drivers.charge import ChargeState
    from fleetsim.drivers.session import Session
    from fleetsim.station.connector import Connector

__all__ = ["MAX_DISCHARGE_W", "MIN_SOC", "SHARE", "V2xCar", "discharge", "rated", "v2x_car"]

SHARE = 0.30              # [A] share of cars on a 2.1 station that can discharge
MAX_DISCHARGE_W = 11_000.0  # [A] AC V2G wallbox export power
MIN_SOC = 0.30            # [A] the driver's reserve


@dataclass(frozen=True, slots=True)
class V2xCar:
    """What a bidirectional car allows: export power [W] now and rated, the SoC it keeps."""

    rated_w: float
    min_soc: float
    max_discharge_w: float


def rated(car: V2xCar, share: float) -> V2xCar:
    """The car with its export capped at ``share`` of its rating (DER LimitMaxDischarge)."""
    return replace(car, max_discharge_w=car.rated_w * share)


def v2x_car(station_id: str, session: Session, *, max_power_w: float, dc: bool,
            share: float = SHARE) -> V2xCar | None:
    """The car of ``session`` if it is bidirectional, else None (deterministic)."""
    key = f"{station_id}/{session.connector_id}/{session.arrival_s:.3f}".encode()
    if zlib.crc32(key) / 2**32 >= share:
        return None
    cap = max_power_w if dc else min(max_power_w, MAX_DISCHARGE_W)
    return V2xCar(rated_w=cap, min_soc=MIN_SOC, max_discharge_w=cap)


def discharge(c: Connector, ch: ChargeState, dt_s: float, want_w: float) -> float:
    """Export for ``dt_s`` simulated s at up to ``want_w`` W; returns 0 (no import).

    Called by :meth:`Connector.advance` when the limit in force is negative.
    """
    car = c.v2x
    assert car is not None
    power = min(want_w, car.max_discharge_w, c.evse.max_power_w)
    if dt_s > 0:
        out = ch.discharge(power * dt_s / 3600.0, car.min_soc)
        c.export_wh += out
        c.exported_wh += out
        c.soc = ch.soc
    c.full = ch.done
    c.power_w = -power if ch.soc > car.min_soc + 1e-9 else 0.0
    return 0.0
