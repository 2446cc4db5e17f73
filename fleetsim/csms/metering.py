"""Meter values: pick the samples the ledger keeps and normalise their units.

Only ``Energy.Active.Import.Register``, ``Energy.Active.Export.Register`` (2.1
V2X) and ``Power.Active.Import`` are kept (any phase), which is what
reconciliation needs and keeps the ledger small.
Input is the ``meterValue`` list as the ``ocpp`` library hands it to a
handler (snake_case keys). Defaults follow the spec: measurand
Energy.Active.Import.Register, unit Wh (1.6 SampledValue; 2.x UnitOfMeasure,
multiplier 0 = power of ten); a power sample without a unit is taken in W.
1.6 values are decimal strings; SignedData or unparsable ones are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fleetsim.csms.records import MeterSample

__all__ = ["ENERGY_REGISTER", "EXPORT_REGISTER", "POWER", "energy_register_wh", "read_samples"]

ENERGY_REGISTER = "Energy.Active.Import.Register"
EXPORT_REGISTER = "Energy.Active.Export.Register"
POWER = "Power.Active.Import"

_DEFAULT_UNIT = {ENERGY_REGISTER: "Wh", EXPORT_REGISTER: "Wh", POWER: "W"}
_SCALE = {"kWh": ("Wh", 1000.0), "kW": ("W", 1000.0)}


def read_samples(meter_values: Iterable[Mapping[str, Any]] | None) -> list[MeterSample]:
    """The kept samples of a ``meterValue`` list, in order, units normalised to Wh/W."""
    out: list[MeterSample] = []
    for meter_value in meter_values or ():
        timestamp = meter_value.get("timestamp", "")
        for sampled in meter_value.get("sampled_value", ()):
            sample = _sample(timestamp, sampled)
            if sample is not None:
                out.append(sample)
    return out


def _sample(timestamp: str, sampled: Mapping[str, Any]) -> MeterSample | None:
    measurand = sampled.get("measurand", ENERGY_REGISTER)
    if measurand not in _DEFAULT_UNIT or sampled.get("format") == "SignedData":
        return None
    unit_of_measure = sampled.get("unit_of_measure")  # 2.x
    multiplier = 0
    if unit_of_measure is not None:
        unit = unit_of_measure.get("unit", "Wh")
        multiplier = unit_of_measure.get("multiplier", 0)
    else:
        unit = sampled.get("unit", _DEFAULT_UNIT[measurand])
    try:
        value = float(sampled["value"]) * 10.0**multiplier
    except (KeyError, TypeError, ValueError):
        return None
    if unit in _SCALE:
        unit, factor = _SCALE[unit]
        value *= factor
    return MeterSample(timestamp, measurand, sampled.get("phase"), value, unit)


def energy_register_wh(samples: Sequence[MeterSample], *, last: bool = False,
                       measurand: str = ENERGY_REGISTER) -> float | None:
    """The energy register [Wh] among ``samples``: the first (or ``last``) total.

    Only phase-less samples are totals; None if no total in Wh was sampled.
    """
    totals = [
        s for s in samples if s.measurand == measurand and s.unit == "Wh" and s.phase is None
    ]
    if not totals:
        return None
    return (totals[-1] if last else totals[0]).value
