"""OCPP 2.1 priority charging and dynamic charging schedules (2.1 part 2 §K, as fleetsim
reads them).

**Priority charging.** The CSMS installs a charging profile of purpose ``PriorityCharging``
(SetChargingProfile): it is stored, not applied. While priority charging is active for a
transaction, that profile replaces the transaction's limits (as a TxProfile above every CSMS
stack level; still capped by the ChargingStationMaxProfile), so the car draws more. The CSMS
turns it on and off with UsePriorityCharging (NoProfile when no such profile is installed);
``ocpp.priority_share`` (``PRIORITY_SHARE`` [A] 0.10) of drivers press the station's priority button when charging
starts, and the station tells the CSMS with NotifyPriorityCharging. It ends with the
transaction.

**Dynamic schedules.** A profile of kind ``Dynamic`` has one period whose limit (or
setpoint, negative to discharge) the CSMS changes while it runs: pushed with
UpdateDynamicSchedule, or, when the profile has ``dynUpdateInterval``, pulled by the station
every that many (wall) seconds with PullDynamicScheduleUpdate. Each update applies at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fleetsim.station import lifecycle as lc
from fleetsim.station.dispatch import Handler
from fleetsim.station.handlers2_charging import set_profile
from fleetsim.station.limits import apply_limits, limits_of
from fleetsim.station.smart_charging import Period, Purpose, parse_profile

if TYPE_CHECKING:
    from fleetsim.station.connector import Connector, Transaction
    from fleetsim.station.v2 import Station2

__all__ = ["PRIORITY_HANDLERS", "PRIORITY_SHARE", "on_charging"]

P = dict[str, Any]
PRIORITY_SHARE = 0.10  # [A] drivers who ask for priority charging at the station
_PRIO_BASE = -100      # internal profile id of connector n's active priority: -100 - n
_PRIO_LEVEL = 99       # above any CSMS stack level


def _state(st: Station2) -> P:
    s: P = lc.extra(st).setdefault("priority", {"profiles": {}, "dynamic": {}})
    return s


def set_profile21(st: Station2, p: P, now: float) -> P:
    """SetChargingProfile with 2.1's PriorityCharging purpose and Dynamic kind; the rest
    as in 2.0.1."""
    raw = p["chargingProfile"]
    if raw["chargingProfilePurpose"] == "PriorityCharging":
        if p["evseId"] > len(st.connectors):
            return {"status": "Rejected"}
        as_tx = {**raw, "chargingProfilePurpose": "TxProfile"}
        if as_tx["chargingProfileKind"] == "Dynamic":
            as_tx["chargingProfileKind"] = "Absolute"
        try:
            prof = parse_profile(as_tx, connector_id=p["evseId"], now_s=st.clock.unix(now))
        except ValueError:
            return {"status": "Rejected"}
        _state(st)["profiles"][p["evseId"]] = replace(prof, raw=dict(raw))
        return {"status": "Accepted"}
    if raw["chargingProfileKind"] != "Dynamic":
        return set_profile(st, p, now)
    sched = raw["chargingSchedule"][0]
    if len(sched["chargingSchedulePeriod"]) != 1:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidSchedule",
                                                     "additionalInfo": "a dynamic schedule has one period"}}
    answer = set_profile(st, {**p, "chargingProfile": {**raw, "chargingProfileKind": "Absolute"}},
                         now)
    if answer["status"] != "Accepted":
        return answer
    pid = int(raw["id"])
    lim = limits_of(st)
    lim.profiles = [replace(x, raw=dict(raw)) if x.id == pid else x for x in lim.profiles]
    interval = raw.get("dynUpdateInterval")
    _state(st)["dynamic"][pid] = interval
    if interval:
        st.at(now + max(1, int(interval)), _pull, st, pid, name=f"dyn{pid}")
    return answer


def _installed(st: Station2, pid: int) -> bool:
    return st.limits is not None and any(x.id == pid for x in st.limits.profiles)


def _update(st: Station2, pid: int, upd: P, now: float) -> bool:
    """Apply a ChargingScheduleUpdateType to dynamic profile ``pid``; False if unknown."""
    dyn = _state(st)["dynamic"]
    if pid not in dyn or not _installed(st, pid):
        dyn.pop(pid, None)
        return False
    value = upd.get("setpoint", upd.get("limit"))
    if value is None:
        value = upd.get("dischargeLimit")
    if value is None:
        return True  # nothing this simulator models (reactive setpoints): accepted, no change
    lim = limits_of(st)
    lim.profiles = [replace(x, periods=(Period(0.0, float(value), x.periods[0].phases),))
                    if x.id == pid else x for x in lim.profiles]
    apply_limits(st, now)
    return True


def _pull(t: float, st: Station2, pid: int) -> None:
    interval = _state(st)["dynamic"].get(pid)
    if not interval or not _installed(st, pid) or st.stopping:
        return
    if st.connected:
        st.call("PullDynamicScheduleUpdate", lambda: {"chargingProfileId": pid}, t,
                on_result=lambda r, now: _pulled(st, pid, r, now))
    st.at(t + max(1, int(interval)), _pull, st, pid, name=f"dyn{pid}")


def _pulled(st: Station2, pid: int, r: P, now: float) -> None:
    if r.get("status") == "Accepted" and r.get("scheduleUpdate"):
        _update(st, pid, r["scheduleUpdate"], now)


def update_dynamic(st: Station2, p: P, now: float) -> P:
    """The CSMS pushes a new limit/setpoint for a dynamic profile."""
    ok = _update(st, int(p["chargingProfileId"]), p["scheduleUpdate"], now)
    return {"status": "Accepted"} if ok else {
        "status": "Rejected", "statusInfo": {"reasonCode": "UnknownProfile"}}


# ---------------------------------------------------------------- priority charging
def _activate(st: Station2, c: Connector, on: bool, now: float) -> bool:
    """Put (on) or remove c's priority profile; False when none is installed."""
    lim = limits_of(st)
    pid = _PRIO_BASE - c.connector_id
    lim.profiles = [x for x in lim.profiles if x.id != pid]
    if on:
        profiles = _state(st)["profiles"]
        prof = profiles.get(c.connector_id) or profiles.get(0)
        tx = c.tx
        if prof is None or tx is None:
            apply_limits(st, now)
            return False
        lim.profiles.append(replace(prof, id=pid, stack_level=_PRIO_LEVEL, purpose=Purpose.TX,
                                    connector_id=c.connector_id, transaction_id=str(tx.id)))
    apply_limits(st, now)
    return True


def use_priority(st: Station2, p: P, now: float) -> P:
    """The CSMS (e.g. the driver's app) turns priority charging on or off."""
    c = next((x for x in st.connectors
              if x.tx is not None and str(x.tx.id) == p["transactionId"]), None)
    if c is None:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "TxNotFound"}}
    if not _activate(st, c, bool(p["activate"]), now):
        return {"status": "NoProfile"}
    return {"status": "Accepted"}


def on_charging(st: Station2, c: Connector, t: float) -> None:
    """Charging starts: a driver who asks for priority at the station gets it (and the CSMS
    is told), when a PriorityCharging profile is installed."""
    if st.extra is None or not st.extra.get("priority", {}).get("profiles"):
        return
    s = c.session
    if s is None or c.tx is None:
        return
    key = f"prio/{st.spec.seed}/{st.station_id}/{s.arrival_s:.3f}".encode()
    if int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") / 2**32 \
            >= st.cfg.priority_share:
        return
    st.at(t, _driver_asks, st, c, c.tx)


def _driver_asks(t: float, st: Station2, c: Connector, tx: Transaction) -> None:
    if c.tx is tx and _activate(st, c, True, t):
        tx_id = str(tx.id)
        st.call("NotifyPriorityCharging", lambda: {"transactionId": tx_id, "activated": True}, t)


PRIORITY_HANDLERS: dict[str, Handler] = {
    "SetChargingProfile": set_profile21,
    "UpdateDynamicSchedule": update_dynamic,
    "UsePriorityCharging": use_priority,
}
