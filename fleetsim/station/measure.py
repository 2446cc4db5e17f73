"""Sampled values for MeterValues (1.6) and TransactionEvent meterValue (2.x).

Every value describes the connector at the reading's sample time, which is its
timestamp (taken when the reading was due, never when the channel got round to
sending it). Power, current, voltage, SoC and the offered limit are instantaneous,
as the measurands are defined (1.6 §7.31 Measurand "Instantaneous active power";
2.0.1 MeasurandEnumType); the energy register is the exact integral, whole Wh, so
its increments reconcile to meterStop − meterStart and the mean power over any
interval is Δregister / Δt. 1.6 carries values as strings, 2.x as numbers
(1.6 §7.43 SampledValue; 2.0.1 SampledValueType).
"""

from __future__ import annotations

from typing import Any

from fleetsim.station.connector import Connector

__all__ = ["sampled_values"]

_PHASES = ("L1", "L2", "L3")


def sampled_values(c: Connector, measurands: tuple[str, ...], context: str, *,
                   as_text: bool) -> list[dict[str, Any]]:
    """The sampled values of connector ``c`` now: the caller advanced it to the sample time."""
    power_w = c.power_w
    def num(x: float, digits: int = 1) -> Any:
        v = round(x, digits)
        return f"{v:.{digits}f}" if as_text else v

    evse = c.evse
    out: list[dict[str, Any]] = []
    unit_key = "unit" if as_text else "unitOfMeasure"
    for m in measurands:
        if m == "Energy.Active.Import.Register":
            wh = int(c.register_wh)
            out.append({"value": str(wh) if as_text else wh, "context": context,
                        "measurand": m, "unit": "Wh"})
            if c.v2x is not None or c.export_wh > 0:  # 2.1 V2X: the register of the other way
                out.append({"value": int(c.export_wh), "context": context,
                            "measurand": "Energy.Active.Export.Register", "unit": "Wh"})
        elif m == "Power.Active.Import":
            out.append({"value": num(power_w), "context": context, "measurand": m, "unit": "W"})
        elif m == "Current.Import":
            if evse.dc:
                out.append({"value": num(power_w / evse.voltage_v), "context": context,
                            "measurand": m, "unit": "A"})
            else:
                phases = min(evse.phases, c.session.vehicle.ac_phases) if c.session else 1
                amps = power_w / (evse.voltage_v * phases)
                for ph in _PHASES[:phases]:
                    out.append({"value": num(amps), "context": context, "measurand": m,
                                "phase": ph, "unit": "A"})
        elif m == "Current.Offered":
            limit = evse.max_power_w if c.limit_w is None else min(evse.max_power_w, c.limit_w)
            amps = limit / (evse.voltage_v * (1 if evse.dc else evse.phases))
            out.append({"value": num(amps), "context": context, "measurand": m, "unit": "A"})
        elif m == "Voltage":
            out.append({"value": num(evse.voltage_v), "context": context, "measurand": m,
                        "unit": "V"} | ({} if evse.dc else {"phase": "L1-N"}))
        elif m == "SoC":
            if evse.dc:  # basic IEC 61851 AC cannot report SoC (ev-models.md §3.6)
                out.append({"value": num(c.soc * 100, 0), "context": context, "measurand": m,
                            "location": "EV", "unit": "Percent"})
        elif m == "Power.Offered":
            limit = evse.max_power_w if c.limit_w is None else min(evse.max_power_w, c.limit_w)
            out.append({"value": num(limit), "context": context, "measurand": m, "unit": "W"})
    if not as_text:  # 2.x nests the unit: SampledValueType.unitOfMeasure.unit
        for sv in out:
            sv[unit_key] = {"unit": sv.pop("unit")}
    return out
