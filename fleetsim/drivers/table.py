"""The session table: plans → ``sessions.csv`` rows, and the plan's SHA-256.

Columns (header first), rows sorted by (arrival, station index, connector)::

    station_id, connector_id, archetype, id_tag, arrival, departure, energy_kwh,
    vehicle, soc_start, battery_kwh, max_power_kw

Times are ISO 8601 UTC with milliseconds and ``Z`` (OCPP 2.0.1 allows at most 3
fractional digits); ``energy_kwh`` is the wanted energy (Wh resolution);
``max_power_kw`` is the uncontrolled peak, min(EVSE, car on this EVSE).
``plan_hash`` is the SHA-256 of exactly the text ``sessions_csv`` writes.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from fleetsim.drivers.power import vehicle_peak_power_w
from fleetsim.drivers.registry import DEFAULT_EPOCH
from fleetsim.drivers.session import StationPlan
from fleetsim.scenario.fleet import StationSpec

__all__ = ["COLUMNS", "plan_hash", "session_rows", "sessions_csv"]

COLUMNS = ("station_id", "connector_id", "archetype", "id_tag", "arrival", "departure",
           "energy_kwh", "vehicle", "soc_start", "battery_kwh", "max_power_kw")


def _stamp(epoch: datetime, seconds: float) -> str:
    t = epoch + timedelta(milliseconds=round(seconds * 1000.0))
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def session_rows(plans: Iterable[StationPlan], specs: Sequence[StationSpec] | None = None,
                 epoch: datetime = DEFAULT_EPOCH) -> Iterator[tuple[str, ...]]:
    """Data rows in table order. Without ``specs`` station ids are ``FS`` + 6 digits."""
    ids = {s.index: s.station_id for s in specs} if specs is not None else {}
    epoch = epoch.astimezone(UTC) if epoch.tzinfo else epoch.replace(tzinfo=UTC)
    items = [(s.arrival_s, p.station_index, s.connector_id, s, p) for p in plans
             for s in p.sessions]
    items.sort(key=lambda x: (x[0], x[1], x[2]))
    for _, index, _, s, p in items:
        peak_kw = min(vehicle_peak_power_w(s.vehicle, p.evse), p.evse.max_power_w) / 1000.0
        yield (ids.get(index) or f"FS{index:06d}", str(s.connector_id), p.archetype, s.id_tag,
               _stamp(epoch, s.arrival_s), _stamp(epoch, s.departure_s), f"{s.energy_kwh:.3f}",
               s.vehicle.name, f"{s.soc_start:.4f}", f"{s.vehicle.battery_kwh:.1f}",
               f"{peak_kw:.2f}")


def _write(out: TextIO, plans: Iterable[StationPlan], specs: Sequence[StationSpec] | None,
           epoch: datetime) -> int:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    n = 0
    for row in session_rows(plans, specs, epoch):
        w.writerow(row)
        n += 1
    return n


def sessions_csv(plans: Iterable[StationPlan], specs: Sequence[StationSpec] | None,
                 epoch: datetime, out: str | Path | TextIO) -> int:
    """Write the session table to a path or an open text file; returns the row count."""
    if isinstance(out, str | Path):
        with open(out, "w", encoding="utf-8", newline="") as f:
            return _write(f, plans, specs, epoch)
    return _write(out, plans, specs, epoch)


def plan_hash(plans: Iterable[StationPlan], specs: Sequence[StationSpec] | None = None,
              epoch: datetime = DEFAULT_EPOCH) -> str:
    """SHA-256 (hex) of the CSV that :func:`sessions_csv` writes for the same arguments."""
    buf = io.StringIO()
    _write(buf, plans, specs, epoch)
    return hashlib.sha256(buf.getvalue().encode("utf-8")).hexdigest()
