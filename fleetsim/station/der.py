"""OCPP 2.1 DER control (part 2 §R) and aFRR signals: what the CSMS sets, and what changes.

fleetsim has no grid model: the station sees nominal voltage and frequency. So
the controls change the station where a simulator can show it:

- ``LimitMaxDischarge`` caps every V2X car's export at ``pctMaxDischargePower`` % of
  its rating while the control is active;
- a must-trip or momentary-cessation curve (HV/LV/HF/LF…) whose first point sits
  at or inside nominal (x ≤ 100 % for high-side, ≥ 100 % for low-side curves)
  trips the station at once: it stops drawing and exporting, sends NotifyDERAlarm
  (OverVoltage, UnderVoltage, OverFrequency or UnderFrequency) and, when the
  control ends or is cleared, NotifyDERAlarm with ``alarmEnded``;
- every other control is stored, reported and started/stopped on its schedule.

A non-default control starts at its ``startTime`` (or now) and lasts ``duration`` s:
NotifyDERStartStop ``started`` true, then false (R04). A new control of the same
type supersedes the older ones (``supersededIds``). GetDERControl answers, then
sends ReportDERControl (R03). AFRRSignal (2.1 part 2 §Q11) moves the station's
power to the signal for AFRR_HOLD_S simulated seconds: the signal is read as a
percentage of the station's capacity (−100 = export at full power), fleetsim's
default v2xSignalWattCurve [A]. Both work through an internal charging profile
(negative id, so never reported back) on top of the CSMS's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station import lifecycle as lc
from fleetsim.station.dispatch import Handler
from fleetsim.station.limits import apply_limits, limits_of
from fleetsim.station.smart_charging import Period, Profile, Purpose, parse_time

if TYPE_CHECKING:
    from fleetsim.station.v2 import Station2

__all__ = ["AFRR_HOLD_S", "DER_HANDLERS", "discharge_share"]

P = dict[str, Any]
AFRR_HOLD_S = 900.0    # [A] an aFRR activation holds 15 min unless a new signal comes
_AFRR_ID, _TRIP_ID = -1, -2
# SetDERControl key per control type; curve types use "curve"
_SETTING = {"EnterService": "enterService", "FreqDroop": "freqDroop",
            "FixedPFAbsorb": "fixedPFAbsorb", "FixedPFInject": "fixedPFInject",
            "FixedVar": "fixedVar", "Gradients": "gradient",
            "LimitMaxDischarge": "limitMaxDischarge"}
# ReportDERControl: (list key, item key) per setting key
_REPORT = {"curve": ("curve", "curve"), "enterService": ("enterService", "enterService"),
           "freqDroop": ("freqDroop", "freqDroop"), "fixedPFAbsorb": ("fixedPFAbsorb", "fixedPF"),
           "fixedPFInject": ("fixedPFInject", "fixedPF"), "fixedVar": ("fixedVar", "fixedVar"),
           "gradient": ("gradient", "gradient"),
           "limitMaxDischarge": ("limitMaxDischarge", "limitMaxDischarge")}
_NO_DEFAULT_FLAGS = ("enterService", "gradient")   # their Get types carry only id and setting
_TRIP_FAULT = {"HV": "OverVoltage", "LV": "UnderVoltage", "HF": "OverFrequency",
               "LF": "UnderFrequency"}


def _controls(st: Station2) -> dict[str, P]:
    ders: dict[str, P] = lc.extra(st).setdefault("der", {})
    return ders


def _key(control_type: str) -> str:
    return _SETTING.get(control_type, "curve")


def discharge_share(st: Station2) -> float:
    """The share of their rated export V2X cars may use now (LimitMaxDischarge)."""
    if st.extra is None:
        return 1.0
    share = 1.0
    for c in st.extra.get("der", {}).values():
        if c["active"] and c["controlType"] == "LimitMaxDischarge":
            pct = c["limitMaxDischarge"].get("pctMaxDischargePower")
            if pct is not None:
                share = min(share, max(0.0, float(pct)) / 100.0)
    return share


def _trips(control: P) -> str | None:
    """The grid fault a trip/cessation curve raises at nominal grid values, if any."""
    kind = control["controlType"]
    side = kind[:2]
    if side not in _TRIP_FAULT or not kind.endswith(("MustTrip", "MomCess", "MayTrip")):
        return None
    points = control["curve"]["curveData"]
    x = float(points[0]["x"])
    inside = x <= 100.0 if side[0] == "H" else x >= 100.0
    return _TRIP_FAULT[side] if inside else None


def _internal(st: Station2, pid: int, limit_w: float | None, start_u: float,
              duration_s: float | None, now: float) -> None:
    """Put (limit_w None: remove) the internal profile ``pid`` and re-apply the limits."""
    lim = limits_of(st)
    lim.profiles = [p for p in lim.profiles if p.id != pid]
    if limit_w is not None:  # above any CSMS stack level; a trip (-2) above the aFRR (-1)
        lim.profiles.append(Profile(id=pid, stack_level=100 - pid - 2, purpose=Purpose.MAX, kind="Absolute",
                                    unit="W", periods=(Period(0.0, limit_w),), start_s=start_u,
                                    duration_s=duration_s))
    apply_limits(st, now)


def _start(t: float, st: Station2, cid: str) -> None:
    c = _controls(st).get(cid)
    if c is None or c["active"]:
        return
    c["active"] = True
    stamp = st.clock.iso(t)
    if not c["isDefault"]:
        sup = c.pop("supersedes", [])
        st.call("NotifyDERStartStop", lambda: {"controlId": cid, "started": True,
                                               "timestamp": stamp,
                                               **({"supersededIds": sup} if sup else {})}, t)
    fault = _trips(c) if "curve" in c else None
    if fault is not None:
        c["fault"] = fault
        _internal(st, _TRIP_ID, 0.0, st.clock.unix(t), None, t)
        st.call("NotifyDERAlarm", lambda: {"controlType": c["controlType"], "gridEventFault": fault,
                                           "timestamp": stamp}, t)
    _rebalance(st, t)


def _stop(t: float, st: Station2, cid: str, *, remove: bool = True) -> None:
    ders = _controls(st)
    c = ders.pop(cid, None) if remove else ders.get(cid)
    if c is None:
        return
    was = c["active"]
    c["active"] = False
    st.cancel_timer(f"der:{cid}")
    if not was:
        return
    stamp = st.clock.iso(t)
    if not c["isDefault"]:
        st.call("NotifyDERStartStop", lambda: {"controlId": cid, "started": False,
                                               "timestamp": stamp}, t)
    if c.get("fault"):
        if not any(x.get("fault") and x["active"] for x in ders.values()):
            _internal(st, _TRIP_ID, None, 0.0, None, t)
        st.call("NotifyDERAlarm", lambda: {"controlType": c["controlType"],
                                           "gridEventFault": c["fault"], "alarmEnded": True,
                                           "timestamp": stamp}, t)
    _rebalance(st, t)


def _rebalance(st: Station2, t: float) -> None:
    """Export caps changed: integrate to now, then carry on under the new cap."""
    from fleetsim.station.v2x import rated

    share = discharge_share(st)
    for c in st.connectors:
        if c.v2x is not None:
            st.advance(c, t)
            c.v2x = rated(c.v2x, share)
            st.advance(c, t)


def set_der(st: Station2, p: P, now: float) -> P:
    """R01/R02: store the control, supersede older ones of its type, schedule it."""
    kind, cid = p["controlType"], p["controlId"]
    key = _key(kind)
    setting = p.get(key)
    if setting is None:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "MissingParam",
                                                     "additionalInfo": f"{key} is required"}}
    ders = _controls(st)
    superseded = [k for k, c in ders.items()
                  if k != cid and c["controlType"] == kind and c["isDefault"] == p["isDefault"]]
    for k in superseded:
        _stop(now, st, k)
    if cid in ders:
        _stop(now, st, cid)
    ders[cid] = {"controlType": kind, "isDefault": p["isDefault"], key: setting,
                 "active": False, "supersedes": superseded}
    start_u = parse_time(setting.get("startTime")) if not p["isDefault"] else None
    now_u = st.clock.unix(now)
    begin = now if start_u is None or start_u <= now_u else st.clock.wall_of_unix(start_u)
    st.at(begin, _start, st, cid, name=f"der:{cid}")
    duration = setting.get("duration")
    if not p["isDefault"] and duration is not None:
        end_u = (now_u if start_u is None else start_u) + float(duration)
        st.at(st.clock.wall_of_unix(end_u), _end, st, cid)
    out: P = {"status": "Accepted"}
    if superseded:
        out["supersededIds"] = superseded
    return out


def _end(t: float, st: Station2, cid: str) -> None:
    _stop(t, st, cid)


def get_der(st: Station2, p: P, now: float) -> P:
    """R03: NotFound, or Accepted and then ReportDERControl with what matches."""
    kind, cid, default = p.get("controlType"), p.get("controlId"), p.get("isDefault")
    found = {k: c for k, c in _controls(st).items()
             if (kind is None or c["controlType"] == kind) and (cid is None or k == cid)
             and (default is None or c["isDefault"] == default)}
    if not found:
        return {"status": "NotFound"}
    report: P = {"requestId": p["requestId"]}
    for k, c in found.items():
        key = _key(c["controlType"])
        list_key, item_key = _REPORT[key]
        item: P = {"id": k, item_key: c[key]}
        if key == "curve":
            item["curveType"] = c["controlType"]
        if key not in _NO_DEFAULT_FLAGS:
            item["isDefault"], item["isSuperseded"] = c["isDefault"], False
        report.setdefault(list_key, []).append(item)
    st.call("ReportDERControl", lambda: report, now)
    return {"status": "Accepted"}


def clear_der(st: Station2, p: P, now: float) -> P:
    """R05: remove matching controls (each active one stops, with its notifications)."""
    kind, cid, default = p.get("controlType"), p.get("controlId"), p["isDefault"]
    hit = [k for k, c in _controls(st).items()
           if c["isDefault"] == default and (kind is None or c["controlType"] == kind)
           and (cid is None or k == cid)]
    for k in hit:
        _stop(now, st, k)
    return {"status": "Accepted" if hit else "NotFound"}


def afrr_signal(st: Station2, p: P, now: float) -> P:
    """Q11: follow the aFRR signal for AFRR_HOLD_S; Rejected when it asks for export
    and no bidirectional car is plugged in."""
    signal = max(-100, min(100, int(p["signal"])))
    if signal < 0 and not any(c.v2x is not None for c in st.connectors):
        return {"status": "Rejected", "statusInfo": {"reasonCode": "NoV2X"}}
    capacity = sum(c.evse.max_power_w for c in st.connectors)
    start_u = parse_time(p["timestamp"]) or st.clock.unix(now)
    start_u = max(start_u, st.clock.unix(now) - 1.0)  # a stale signal applies from now
    _internal(st, _AFRR_ID, capacity * signal / 100.0, start_u,
              AFRR_HOLD_S, now)
    return {"status": "Accepted"}


DER_HANDLERS: dict[str, Handler] = {
    "AFRRSignal": afrr_signal,
    "ClearDERControl": clear_der,
    "GetDERControl": get_der,
    "SetDERControl": set_der,
}
