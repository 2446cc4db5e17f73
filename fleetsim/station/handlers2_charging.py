"""OCPP 2.0.1 / 2.1 smart-charging messages (K01, K08-K10).

Part of the 2.x handler table (see :mod:`fleetsim.station.handlers2`); profiles
are combined by :mod:`fleetsim.station.smart_charging`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station.connector import Connector
from fleetsim.station.dispatch import Handler, const
from fleetsim.station.limits import apply_limits, composite_for, limits_of
from fleetsim.station.smart_charging import Purpose, parse_profile

if TYPE_CHECKING:
    from fleetsim.station.v2 import Station2

__all__ = ["CHARGING_HANDLERS"]

P = dict[str, Any]


def evse(st: Station2, evse_id: int | None) -> Connector | None:
    return st.connectors[evse_id - 1] if evse_id and 1 <= evse_id <= len(st.connectors) else None


def set_profile(st: Station2, p: P, now: float) -> P:
    """K01: a TxProfile must name the running transaction of its EVSE; the max profile
    is set on EVSE 0."""
    evse_id, raw = p["evseId"], p["chargingProfile"]
    if evse_id > len(st.connectors):
        return {"status": "Rejected"}
    try:
        profile = parse_profile(raw, connector_id=evse_id, now_s=st.clock.unix(now))
    except ValueError:
        return {"status": "Rejected"}
    if profile.purpose is Purpose.TX:
        c = evse(st, evse_id)
        if c is None or c.tx is None or profile.transaction_id not in (None, str(c.tx.id)):
            return {"status": "Rejected"}
    if profile.purpose is Purpose.MAX and evse_id != 0:
        return {"status": "Rejected"}
    status = limits_of(st).install(profile)
    if status == "Accepted":
        apply_limits(st, now)
    return {"status": status}


_PURPOSE = {"ChargingStationMaxProfile": Purpose.MAX, "TxDefaultProfile": Purpose.TX_DEFAULT,
            "TxProfile": Purpose.TX}


def clear_profile(st: Station2, p: P, now: float) -> P:
    """K10: by id or by criteria (evse, purpose, stack level)."""
    crit = p.get("chargingProfileCriteria") or {}
    purpose = crit.get("chargingProfilePurpose")
    if purpose is not None and purpose not in _PURPOSE:
        return {"status": "Unknown"}
    n = limits_of(st).clear(profile_id=p.get("chargingProfileId"),
                            connector_id=crit.get("evseId"),
                            purpose=None if purpose is None else _PURPOSE[purpose],
                            stack_level=crit.get("stackLevel"))
    if n:
        apply_limits(st, now)
    return {"status": "Accepted" if n else "Unknown"}


def get_profiles(st: Station2, p: P, now: float) -> P:
    """K09: NoProfiles, or Accepted and one ReportChargingProfiles per EVSE."""
    crit, evse_id = p["chargingProfile"], p.get("evseId")
    purpose, level = crit.get("chargingProfilePurpose"), crit.get("stackLevel")
    ids = crit.get("chargingProfileId")
    sources = crit.get("chargingLimitSource")
    found = [x for x in limits_of(st).profiles
             if x.id >= 0  # negative ids: the station's own (DER trip, aFRR), never reported
             and (evse_id is None or x.connector_id == evse_id)
             and (purpose is None or x.raw.get("chargingProfilePurpose") == purpose)
             and (level is None or x.stack_level == level)
             and (not ids or x.id in ids)
             and (not sources or "CSO" in sources)]
    if not found:
        return {"status": "NoProfiles"}
    by_evse: dict[int, list[P]] = {}
    for x in found:
        by_evse.setdefault(x.connector_id, []).append(dict(x.raw))
    groups = sorted(by_evse.items())
    for n, (eid, profiles) in enumerate(groups):
        payload: P = {"requestId": p["requestId"], "chargingLimitSource": "CSO",
                      "evseId": eid, "chargingProfile": profiles, "tbc": n < len(groups) - 1}
        st.call("ReportChargingProfiles", const(payload), now)
    return {"status": "Accepted"}


def composite_schedule(st: Station2, p: P, now: float) -> P:
    """K08: the limits the station will apply over the next ``duration`` seconds."""
    evse_id = p["evseId"]
    if evse_id > len(st.connectors):
        return {"status": "Rejected"}
    unit, periods, start = composite_for(st, evse_id, p["duration"], p.get("chargingRateUnit"),
                                         now)
    return {"status": "Accepted", "schedule": {
        "evseId": evse_id, "duration": p["duration"],
        "scheduleStart": st.clock.iso(st.clock.wall_of_unix(start)), "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": int(o), "limit": v} for o, v in periods]}}


CHARGING_HANDLERS: dict[str, Handler] = {
    "ClearChargingProfile": clear_profile,
    "GetChargingProfiles": get_profiles,
    "GetCompositeSchedule": composite_schedule,
    "SetChargingProfile": set_profile,
}
