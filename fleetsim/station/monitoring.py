"""OCPP 2.0.1 monitoring (part 2 §N): variable monitors, their report, NotifyEvent.

SetVariableMonitoring (N04) puts a monitor on a device-model variable; the station
then samples every monitored variable once per ``CHECK_S`` simulated seconds and
sends NotifyEvent when one trips (N07): a threshold crossed (trigger Alerting, and
``cleared`` when the value is back), a change of at least the delta since the last
report (Delta), or a period elapsed (Periodic / PeriodicClockAligned). Only
monitors of severity ≤ the monitoring level (SetMonitoringLevel, N05) report;
SetMonitoringBase HardWiredOnly / FactoryDefault (N03) removes custom monitors.
GetMonitoringReport (N02) answers in NotifyMonitoringReport parts. CustomerInformation
(N09) reports what the station holds about a token (local list, cache) and may
clear it. Monitors live in ``st.extra["mon"]``; the sampling timer runs only while
one exists, so stations without monitors cost nothing.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from fleetsim.station import device_model as dm
from fleetsim.station.dispatch import Handler, Refuse, const
from fleetsim.station.lifecycle import extra

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["MONITORING_HANDLERS", "hardwired_event"]

P = dict[str, Any]
CHECK_S = 60.0       # monitored variables are sampled this often [simulated s]
MAX_MONITORS = 100   # MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring] and total
_TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned")
_CRITERIA = {"ThresholdMonitoring": ("UpperThreshold", "LowerThreshold"),
             "DeltaMonitoring": ("Delta",),
             "PeriodicMonitoring": ("Periodic", "PeriodicClockAligned")}


def _mon(st: StationCore) -> dict[str, Any]:
    mon: dict[str, Any] = extra(st).setdefault("mon", {"level": 9, "monitors": {},
                                                       "ids": itertools.count(1),
                                                       "events": itertools.count(1),
                                                       "seq": itertools.count(0)})
    return mon


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def set_monitoring(st: StationCore, p: P, now: float) -> P:
    data = p["setMonitoringData"]
    if len(data) > MAX_MONITORS:
        raise Refuse("OccurrenceConstraintViolation", "more than ItemsPerMessage")
    mon = _mon(st)
    out = []
    for d in data:
        status, var = dm.find(st, d["component"], d["variable"])
        r: P = {"type": d["type"], "severity": d["severity"], "component": d["component"],
                "variable": d["variable"]}
        mid = d.get("id")
        if var is not None:
            numeric = _number(dm.get_value(st, var)) is not None
            if var.mutability == "WriteOnly" or (not numeric and d["type"] != "Periodic"):
                status = "Rejected"  # only numbers cross thresholds or change by a delta
            elif mid is not None and mid not in mon["monitors"]:
                status = "Rejected"  # N04.FR.?: an id replaces an existing monitor only
            elif len(mon["monitors"]) >= MAX_MONITORS and mid is None:
                status = "Rejected"
            else:
                mid = mid if mid is not None else next(mon["ids"])
                mon["monitors"][mid] = {"id": mid, "var": var, "type": d["type"],
                                        "value": float(d["value"]), "severity": d["severity"],
                                        "transaction": bool(d.get("transaction", False)),
                                        "tripped": False, "last": None, "due": now}
                r["id"] = mid
        r["status"] = status
        out.append(r)
    if mon["monitors"]:
        st.at(now, _check, st, name="monitoring")
    return {"setMonitoringResult": out}


def clear_monitoring(st: StationCore, p: P, now: float) -> P:
    monitors = (st.extra or {}).get("mon", {}).get("monitors", {})
    return {"clearMonitoringResult": [
        {"id": i, "status": "Accepted" if monitors.pop(i, None) is not None else "NotFound"}
        for i in p["id"]]}


def set_base(st: StationCore, p: P, now: float) -> P:
    if p["monitoringBase"] != "All":
        _mon(st)["monitors"].clear()  # N03: only hardwired (and preconfigured) ones remain
    return {"status": "Accepted"}


def set_level(st: StationCore, p: P, now: float) -> P:
    _mon(st)["level"] = p["severity"]
    return {"status": "Accepted"}


def get_report(st: StationCore, p: P, now: float) -> P:
    """N02: Accepted and NotifyMonitoringReport parts, or EmptyResultSet."""
    monitors = list((st.extra or {}).get("mon", {}).get("monitors", {}).values())
    criteria = p.get("monitoringCriteria")
    if criteria:
        kinds = {k for c in criteria for k in _CRITERIA[c]}
        monitors = [m for m in monitors if m["type"] in kinds]
    wanted = p.get("componentVariable")
    if wanted:
        monitors = [m for m in monitors if any(
            cv["component"]["name"] == m["var"].component and (
                cv.get("variable") is None or cv["variable"]["name"] == m["var"].variable)
            for cv in wanted)]
    if not monitors:
        return {"status": "EmptyResultSet"}
    by_var: dict[Any, list[P]] = {}
    for m in monitors:
        by_var.setdefault(m["var"], []).append(m)
    v21 = {"eventNotificationType": "CustomMonitor"} if st.version_prefix == "2.1/" else {}
    entries = [{"component": v.component_json(), "variable": v.variable_json(),
                "variableMonitoring": [{"id": m["id"], "transaction": m["transaction"],
                                        "value": m["value"], "type": m["type"],
                                        "severity": m["severity"], **v21} for m in ms]}
               for v, ms in by_var.items()]
    step, stamp, rid = dm.ITEMS_PER_MESSAGE, st.clock.iso(now), p["requestId"]
    parts = [entries[i:i + step] for i in range(0, len(entries), step)]
    for n, part in enumerate(parts):
        st.call("NotifyMonitoringReport", const({
            "requestId": rid, "seqNo": n, "generatedAt": stamp, "tbc": n < len(parts) - 1,
            "monitor": part}), now)
    return {"status": "Accepted"}


def _check(t: float, st: StationCore) -> None:
    mon = (st.extra or {}).get("mon")
    if not mon or not mon["monitors"] or st.stopping:
        return
    events: list[P] = []
    stamp = st.clock.iso(t)
    for m in mon["monitors"].values():
        var = m["var"]
        value = dm.get_value(st, var)
        x = _number(value)
        kind, trigger, cleared = m["type"], None, None
        if kind == "UpperThreshold" or kind == "LowerThreshold":
            over = x is not None and (x > m["value"] if kind == "UpperThreshold"
                                      else x < m["value"])
            if over != m["tripped"]:
                m["tripped"], trigger, cleared = over, "Alerting", not over
        elif kind == "Delta":
            if x is not None and m["last"] is None:
                m["last"] = x  # the reference value: a change is measured from here
            elif x is not None and abs(x - m["last"]) >= m["value"]:
                m["last"], trigger = x, "Delta"
        elif t >= m["due"]:  # Periodic, PeriodicClockAligned
            m["due"] = t + max(m["value"], 1.0)  # wall s: what the CSMS set, as it meant it
            trigger = "Periodic"
        if trigger is None or m["severity"] > mon["level"]:
            continue
        e: P = {"eventId": next(mon["events"]), "timestamp": stamp, "trigger": trigger,
                "actualValue": value[:2500], "eventNotificationType": "CustomMonitor",
                "component": var.component_json(), "variable": var.variable_json(),
                "variableMonitoringId": m["id"]}
        if cleared is not None:
            e["cleared"] = cleared
        events.append(e)
    if events and st.connected:
        st.call("NotifyEvent", const({"generatedAt": stamp, "seqNo": next(mon["seq"]),
                                      "tbc": False, "eventData": events}), t)
    st.at(t + st.clock.interval_wall(CHECK_S), _check, st, name="monitoring")


def hardwired_event(st: StationCore, t: float, component: P, variable: str, value: str, *,
                    cleared: bool = False) -> None:
    """A hardwired fault (connector fault, tamper alarm…): NotifyEvent HardWiredNotification."""
    mon = _mon(st)
    st.call("NotifyEvent", const({
        "generatedAt": st.clock.iso(t), "seqNo": next(mon["seq"]), "tbc": False,
        "eventData": [{"eventId": next(mon["events"]), "timestamp": st.clock.iso(t),
                       "trigger": "Alerting", "actualValue": value,
                       "eventNotificationType": "HardWiredNotification", "cleared": cleared,
                       "component": component, "variable": {"name": variable}}]}), t)


def customer_information(st: StationCore, p: P, now: float) -> P:
    """N09/N10: what the local list and cache hold about the token; clear it if asked."""
    token = (p.get("idToken") or {}).get("idToken") or p.get("customerIdentifier")
    ex = st.extra or {}
    found = []
    if token:
        listed = ex.get("local_list", (0, {}))[1].get(token)
        if listed is not None:
            found.append(f"local list: {listed}")
        cached = ex.get("auth", {}).get("entries", {}).get(token)
        if cached is not None:
            found.append(f"cache: {cached[0]}")
        if p["clear"]:
            auth = ex.get("auth", {}).get("entries")
            if auth:
                auth.pop(token, None)
    if p["report"]:
        data = "; ".join(found) if found else "no data held"
        st.call("NotifyCustomerInformation", const({
            "data": data[:512], "seqNo": 0, "generatedAt": st.clock.iso(now), "tbc": False,
            "requestId": p["requestId"]}), now)
    return {"status": "Accepted"}


MONITORING_HANDLERS: dict[str, Handler] = {
    "ClearVariableMonitoring": clear_monitoring,
    "CustomerInformation": customer_information,
    "GetMonitoringReport": get_report,
    "SetMonitoringBase": set_base,
    "SetMonitoringLevel": set_level,
    "SetVariableMonitoring": set_monitoring,
}
