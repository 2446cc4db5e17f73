"""OCPP 2.0.1 / 2.1 device-model messages: GetVariables, SetVariables, reports (B05-B08).

Part of the 2.x handler table (see :mod:`fleetsim.station.handlers2`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station import device_model as dm
from fleetsim.station.dispatch import Handler, Refuse, const

if TYPE_CHECKING:
    from fleetsim.station.v2 import Station2

__all__ = ["DEVICE_HANDLERS"]

P = dict[str, Any]


def get_variables(st: Station2, p: P, now: float) -> P:
    """B06: the Actual attribute of each requested variable."""
    data = p["getVariableData"]
    if len(data) > dm.ITEMS_PER_MESSAGE:
        raise Refuse("OccurrenceConstraintViolation", "more than ItemsPerMessage")
    out = []
    for d in data:
        status, v = dm.find(st, d["component"], d["variable"])
        attr = d.get("attributeType", "Actual")
        r: P = {"attributeType": attr, "component": d["component"], "variable": d["variable"]}
        if v is not None and attr != "Actual":
            status = "NotSupportedAttributeType"
        elif v is not None and v.mutability == "WriteOnly":
            status = "Rejected"  # B06.FR.?: a WriteOnly value is never read back
        elif v is not None:
            r["attributeValue"] = dm.get_value(st, v)[:2500]
        r["attributeStatus"] = status
        out.append(r)
    return {"getVariableResult": out}


def set_variables(st: Station2, p: P, now: float) -> P:
    """B05: Accepted, Rejected, UnknownComponent, UnknownVariable or NotSupportedAttributeType."""
    data = p["setVariableData"]
    if len(data) > dm.ITEMS_PER_MESSAGE:
        raise Refuse("OccurrenceConstraintViolation", "more than ItemsPerMessage")
    out = []
    for d in data:
        status, v = dm.find(st, d["component"], d["variable"])
        attr = d.get("attributeType", "Actual")
        if v is not None:
            status = ("NotSupportedAttributeType" if attr != "Actual"
                      else dm.set_value(st, v, d["attributeValue"], now))
        out.append({"attributeType": attr, "attributeStatus": status,
                    "component": d["component"], "variable": d["variable"]})
    return {"setVariableResult": out}


def _send_report(st: Station2, request_id: int, chosen: list[dm.Var], now: float) -> None:
    """NotifyReport in parts of ItemsPerMessage[GetReport], seqNo 0.., tbc on all but the last."""
    entries = dm.report(st, chosen)
    stamp = st.clock.iso(now)
    step = dm.ITEMS_PER_MESSAGE
    parts = [entries[i:i + step] for i in range(0, len(entries), step)]
    for n, part in enumerate(parts):
        payload: P = {"requestId": request_id, "generatedAt": stamp, "seqNo": n,
                      "tbc": n < len(parts) - 1, "reportData": part}
        st.call("NotifyReport", const(payload), now)


def get_base_report(st: Station2, p: P, now: float) -> P:
    """B07: ConfigurationInventory (writable), FullInventory, SummaryInventory."""
    vs = dm.variables(len(st.connectors))
    base = p["reportBase"]
    if base == "ConfigurationInventory":
        chosen = [v for v in vs if v.mutability == "ReadWrite"]
    elif base == "SummaryInventory":
        chosen = [v for v in vs if v.variable in ("AvailabilityState", "Available")]
    else:
        chosen = list(vs)
    _send_report(st, p["requestId"], chosen, now)
    return {"status": "Accepted"}


def get_report(st: Station2, p: P, now: float) -> P:
    """B08: by component/variable and/or component criteria; EmptyResultSet if none match."""
    chosen = list(dm.variables(len(st.connectors)))
    wanted = p.get("componentVariable")
    if wanted:
        def match(v: dm.Var, cv: P) -> bool:
            comp, var = cv["component"], cv.get("variable")
            e = comp.get("evse") or {}
            return (v.component == comp["name"] and comp.get("instance") is None
                    and (not e or (v.evse == e["id"] and e.get("connectorId") in (
                        None, v.connector)))
                    and (var is None or (v.variable == var["name"]
                                         and var.get("instance") in (None, v.instance))))
        chosen = [v for v in chosen if any(match(v, cv) for cv in wanted)]
    criteria = p.get("componentCriteria")
    if criteria:
        names = {v.component for v in chosen if v.variable in criteria}
        chosen = [v for v in chosen if v.component in names]
    if not chosen:
        return {"status": "EmptyResultSet"}
    _send_report(st, p["requestId"], chosen, now)
    return {"status": "Accepted"}


DEVICE_HANDLERS: dict[str, Handler] = {
    "GetBaseReport": get_base_report,
    "GetReport": get_report,
    "GetVariables": get_variables,
    "SetVariables": set_variables,
}
